// Sustained mixed load (tools/load-test): several writer and reader processes on one ledger for a
// fixed time, then a full `verify`. Each child is this executable again, so that LMDB's locking
// between processes is what is measured, not threads sharing one environment.
import Foundation
import Palimpsest

/// What one child did: its latencies in microseconds, by kind ("append", "conflict", "state", …).
struct LoadLog {
    var latencies: [String: [Double]] = [:]

    mutating func record(_ kind: String, since start: Double) {
        latencies[kind, default: []].append((now() - start) * 1e6)
    }

    func write(to path: String) throws {
        var out = ""
        for (kind, values) in latencies {
            for value in values { out += "\(kind) \(Int(value))\n" }
        }
        try out.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func read(_ path: String) throws -> LoadLog {
        var log = LoadLog()
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { log.latencies[String(parts[0]), default: []].append(value) }
        }
        return log
    }
}

let loadWords = ["the", "root", "causes", "of", "migration", "poverty", "inequality", "democratic", "decline", "violence", "and", "Mexico", "United", "States", "joint", "communiqué"]

func loadSentence(_ rng: inout SystemRandomNumberGenerator) -> String {
    (0..<Int.random(in: 4...16, using: &rng)).map { _ in loadWords.randomElement(using: &rng)! }.joined(separator: " ") + "."
}

/// Appends one event per durable transaction until `deadline`: edits to its own 200 documents (a
/// sentence replaced or added), and every tenth an edit of the shared document with
/// `--expect-version`, which may conflict.
func loadWriter(ledgerPath: String, deadline: Double, seed: Int, output: String) throws {
    let ledger = try Ledger.create(at: ledgerPath)
    var rng = SystemRandomNumberGenerator()
    var texts: [Int: [String]] = [:]
    var log = LoadLog()
    var n = 0
    while Date().timeIntervalSince1970 < deadline {
        n += 1
        if n % 10 == 0 {
            let version = try ledger.document("shared")?.version ?? 0
            var event = NewEvent(document: "shared", change: .edit(text: "writer \(seed) edit \(n): " + loadSentence(&rng)), at: .now(), actor: "writer \(seed)")
            event.expectedVersion = .exact(version)
            let start = now()
            let outcome = Result { () throws(LedgerError) in try ledger.append(event) }
            switch outcome {
            case .success: log.record("append", since: start)
            case .failure(let error) where error.code == .conflict: log.record("conflict", since: start)
            case .failure(let error): throw error
            }
            continue
        }
        let k = Int.random(in: 0..<200, using: &rng)
        var sentences = texts[k] ?? []
        let exists = !sentences.isEmpty
        if sentences.count < 40 || Bool.random(using: &rng) {
            sentences.append(loadSentence(&rng))
        } else {
            sentences[Int.random(in: 0..<sentences.count, using: &rng)] = loadSentence(&rng)
        }
        texts[k] = sentences
        let text = sentences.joined(separator: " ")
        let start = now()
        try ledger.append(NewEvent(document: "writer-\(seed)-doc-\(k)", change: exists ? .edit(text: text) : .publish(text: text), at: .now(), actor: "writer \(seed)"))
        log.record("append", since: start)
    }
    try log.write(to: output)
}

/// Runs queries until `deadline`, each in its own read transaction: a document's latest state, its
/// history, who removed "democratic decline" across the ledger, the blame of a document, the list of
/// documents.
func loadReader(ledgerPath: String, deadline: Double, output: String) throws {
    var options = Ledger.Options()
    options.readOnly = true
    let ledger = try Ledger.open(at: ledgerPath, options: options)
    var rng = SystemRandomNumberGenerator()
    var log = LoadLog()
    var documents = try ledger.documents().map(\.id)
    var n = 0
    while Date().timeIntervalSince1970 < deadline {
        n += 1
        if n % 50 == 1 { documents = try ledger.documents().map(\.id) }
        let document = documents.randomElement(using: &rng) ?? "shared"
        let start = now()
        switch n % 5 {
        case 0:
            _ = try ledger.state(of: document)
            log.record("state", since: start)
        case 1:
            _ = try ledger.events(of: document)
            log.record("history", since: start)
        case 2:
            _ = try ledger.phraseHistory(PhraseQuery("democratic decline"))
            log.record("removed", since: start)
        case 3:
            _ = try ledger.blame(document, history: false)
            log.record("blame", since: start)
        default:
            _ = try ledger.documents()
            log.record("documents", since: start)
        }
    }
    try log.write(to: output)
}

/// The parent: a ledger, `writers` and `readers` children for `seconds`, the figures, then `verify`.
func loadTest(ledgerPath: String, seconds: Double, writers: Int, readers: Int) throws {
    let ledger = try Ledger.create(at: ledgerPath)
    if try ledger.document("shared") == nil {
        try ledger.append(NewEvent(document: "shared", change: .publish(text: "The leaders discussed the root causes of migration."), at: .now(), actor: "setup"))
    }
    let startHead = try ledger.head().position
    let deadline = Date().timeIntervalSince1970 + seconds
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
    var children: [(Process, String)] = []
    for i in 0..<(writers + readers) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        let output = ledgerPath + ".load-\(i)"
        process.arguments = [i < writers ? "load-writer" : "load-reader", ledgerPath, String(deadline), String(i), output]
        try process.run()
        children.append((process, output))
    }
    var merged = LoadLog()
    var failures = 0
    for (process, output) in children {
        process.waitUntilExit()
        if process.terminationStatus != 0 { failures += 1; continue }
        for (kind, values) in try LoadLog.read(output).latencies { merged.latencies[kind, default: []].append(contentsOf: values) }
        try? FileManager.default.removeItem(atPath: output)
    }
    let appended = try ledger.head().position - startHead
    let verifyStart = now()
    let report = try ledger.verify(projections: true)
    let verifySecs = now() - verifyStart
    print("sustained load: \(writers) writer and \(readers) reader processes for \(Int(seconds)) s on one ledger, one durable transaction per append")
    for kind in ["append", "conflict", "state", "history", "removed", "blame", "documents"] {
        guard var values = merged.latencies[kind], !values.isEmpty else { continue }
        values.sort()
        print(String(format: "  %-10@ %8d  (%7.1f/s)  p50 %9.0f µs  p99 %9.0f µs  max %9.0f µs", kind as NSString, values.count, Double(values.count) / seconds,
                     percentile(values, 0.5), percentile(values, 0.99), values.last!))
    }
    print("  events in the ledger after the run: \(try ledger.head().position) (\(appended) appended during it); children failed: \(failures)")
    print(String(format: "  verify (projections rebuilt and compared): %@ in %.1f s", report.isClean ? "clean" : "FAILED: \(report.firstProblem ?? "") \(report.projectionMismatches)", verifySecs))
    let appends = (merged.latencies["append"] ?? []).sorted()
    print(String(format: "RESULT mode=load seconds=%.0f writers=%d readers=%d appends=%d appends_per_s=%.1f append_p99_us=%.0f conflicts=%d queries=%d verify_clean=%d failures=%d",
                 seconds, writers, readers, appends.count, Double(appends.count) / seconds, appends.isEmpty ? 0 : percentile(appends, 0.99),
                 merged.latencies["conflict"]?.count ?? 0, merged.latencies.filter { $0.key != "append" && $0.key != "conflict" }.values.reduce(0) { $0 + $1.count },
                 report.isClean ? 1 : 0, failures))
    if !report.isClean || failures > 0 || appended != UInt64(appends.count) { exit(1) }
}
