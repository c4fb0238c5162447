// Library-level measurements for tools/bench-ledger (BENCHMARKS.md). Prints one line
// "RESULT mode=… key=value …" per run, like ../shared/tools/lmdb-limit, so the driver can compare.
//
//   PalimpsestBench append DIR N BATCH      durable appends through the library, BATCH events per transaction
//   PalimpsestBench show DIR DOC READS      text of random versions of DOC through the library
//   PalimpsestBench size DIR                bytes of the data file in use, and of those, live
//   PalimpsestBench rebuild DIR             every projection rebuilt; every event's text read in log order
//   PalimpsestBench blame DIR DOC RUNS      blame of DOC's latest version through the library, warm
//   PalimpsestBench removed DIR RUNS P…     `removed` for each phrase P through the library, warm (median of RUNS)
//   PalimpsestBench removed-in DIR DOC RUNS P…   the same within document DOC (`removed P --doc DOC`)
//   PalimpsestBench engine DIR DOC [N]      the provenance engine alone over every version of DOC, or its first N
//                                           (texts read first, not timed); prints the blame of the last version folded
//                                           as JSON to stdout (a prefix keeps callgrind runs short)
//   PalimpsestBench audit DIR N RUNS        a ledger of N small events (built-in projections off; the Merkle tree
//                                           is always kept), then signing checkpoints and inclusion and consistency proofs
//   PalimpsestBench extract DIR OUT.json RUNS  main text of every page in DIR, for the extraction scorer (Extract.swift)
//   PalimpsestBench load DIR SECONDS WRITERS READERS
//                                           sustained mixed load from WRITERS + READERS processes (Load.swift), then verify
import Foundation
import Palimpsest
import PalimpsestText

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// The p-th percentile of sorted figures; NaN (printed "nan") when there are none.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

extension Array where Element == Double {
    /// The first and last of sorted figures; NaN when there are none.
    var lowest: Double { first ?? .nan }
    var highest: Double { last ?? .nan }
}

func usage(_ message: String) -> Never {
    FileHandle.standardError.write(Data("PalimpsestBench: \(message)\n".utf8))
    exit(2)
}

/// A count argument: a whole number ≥ `minimum`, or the run stops with a usage message.
func count(_ index: Int, _ name: String, minimum: Int = 1) -> Int {
    guard index < args.count, let n = Int(args[index]), n >= minimum else {
        usage("\(name) must be a whole number of at least \(minimum)")
    }
    return n
}

let args = CommandLine.arguments
guard args.count >= 2 else { usage("usage: PalimpsestBench append DIR N BATCH | show DIR DOC READS | … (see the comment at the top of main.swift)") }

do {
    switch args[1] {
    case "append":
        let (dir, n, batch) = (args[2], count(3, "N"), count(4, "BATCH"))
        // The default projections, the following ones deferred (as for a bulk load); how long they
        // then take to catch up is measured after.
        var options = Ledger.Options()
        options.deferFollowingProjections = true
        let ledger = try Ledger.create(at: dir, options: options)
        // 200-byte texts, as the raw LMDB ceiling appends 200-byte values; 100 documents.
        let filler = String(repeating: "democratic decline ", count: 11)
        var events: [NewEvent] = []
        var seen = Set<Int>()
        let start = now()
        let base = Timestamp.now()
        for i in 0..<n {
            let doc = i % 100
            let text = String("\(i) \(filler)".utf8.prefix(200))!
            let change: Change = seen.insert(doc).inserted ? .publish(text: text) : .edit(text: text)
            events.append(NewEvent(document: "doc-\(doc)", change: change, at: Timestamp(milliseconds: base.milliseconds + Int64(i)), actor: "bench"))
            if events.count == batch {
                _ = try ledger.append(contentsOf: events)
                events.removeAll(keepingCapacity: true)
            }
        }
        if !events.isEmpty { _ = try ledger.append(contentsOf: events) }
        let secs = now() - start
        let caughtUp = now()
        try ledger.waitForProjections()
        let catchup = now() - caughtUp
        print(String(format: "RESULT mode=append n=%d batch=%d secs=%.4f ev_per_s=%.0f catchup_secs=%.4f", n, batch, secs, Double(n) / secs, catchup))
    case "show":
        let (dir, doc, reads) = (args[2], args[3], count(4, "READS"))
        var options = Ledger.Options()
        options.readOnly = true
        let ledger = try Ledger.open(at: dir, options: options)
        guard let info = try ledger.document(doc) else { throw LedgerError(.notFound, "no document \(doc)") }
        var rng = SystemRandomNumberGenerator()
        var times: [Double] = []
        var bytes = 0
        for _ in 0..<reads {
            let version = UInt64.random(in: 1...info.version, using: &rng)
            let t = now()
            let state = try ledger.state(of: doc, asOf: .version(version))
            times.append(now() - t)
            bytes += state?.text.utf8.count ?? 0
        }
        times.sort()
        print(String(format: "RESULT mode=show doc_versions=%llu reads=%d p50_us=%.1f p99_us=%.1f max_us=%.1f avg_bytes=%d",
                     info.version, reads, percentile(times, 0.5) * 1e6, percentile(times, 0.99) * 1e6, times.highest * 1e6, bytes / max(reads, 1)))
    case "rebuild":
        // Every projection rebuilt from position 1, and a replay that reads every event's text.
        let ledger = try Ledger.open(at: args[2])
        let events = try ledger.head().position
        var start = now()
        try ledger.rebuildProjections()
        let rebuild = now() - start
        start = now()
        var bytes = 0
        var last: [String: Digest] = [:]
        // As export and replay read them: in order, each version from the one before.
        let texts = ledger.sequentialTextReader()
        try ledger.forEachEvent { event in
            if let hash = event.contentHash, last[event.document] != hash {
                bytes += try texts.bytes(hash: hash)?.count ?? 0
                last[event.document] = hash
            }
            return true
        }
        let replay = now() - start
        print(String(format: "RESULT mode=rebuild events=%llu rebuild_secs=%.4f rebuild_ev_per_s=%.0f replay_secs=%.4f replay_ev_per_s=%.0f replay_MBps=%.1f",
                     events, rebuild, Double(events) / rebuild, replay, Double(events) / replay, Double(bytes) / replay / 1e6))
    case "blame":
        let (dir, doc, runs) = (args[2], args[3], count(4, "RUNS"))
        var options = Ledger.Options()
        options.readOnly = true
        let ledger = try Ledger.open(at: dir, options: options)
        var times: [Double] = []
        var tokens = 0
        for _ in 0...runs {
            let t = now()
            tokens = try ledger.blame(doc)?.tokens.count ?? 0
            times.append(now() - t)
        }
        times = Array(times.dropFirst()).sorted()  // the first run warms the caches
        print(String(format: "RESULT mode=blame tokens=%d p50_ms=%.2f min_ms=%.2f max_ms=%.2f", tokens, percentile(times, 0.5) * 1e3, times.lowest * 1e3, times.highest * 1e3))
    case "removed", "removed-in":
        // removed DIR RUNS P…: across the whole ledger; removed-in DIR DOC RUNS P…: in one document.
        let scoped = args[1] == "removed-in"
        let (dir, document, runs) = (args[2], scoped ? args[3] : nil, count(scoped ? 4 : 3, "RUNS"))
        var options = Ledger.Options()
        options.readOnly = true
        let ledger = try Ledger.open(at: dir, options: options)
        for phrase in args[(scoped ? 5 : 4)...] {
            var times: [Double] = []
            var removals = 0, changes = 0
            for _ in 0...runs {
                let t = now()
                let history = try ledger.phraseHistory(PhraseQuery(phrase, document: document))
                times.append(now() - t)
                (removals, changes) = (history.removals.count, history.changes.count)
            }
            times = Array(times.dropFirst()).sorted()  // the first run warms the caches
            print(String(format: "RESULT mode=removed removals=%d changes=%d p50_ms=%.2f p99_ms=%.2f min_ms=%.2f max_ms=%.2f phrase=%@", removals, changes,
                         percentile(times, 0.5) * 1e3, percentile(times, 0.99) * 1e3, times.lowest * 1e3, times.highest * 1e3,
                         phrase.replacingOccurrences(of: " ", with: "\u{2423}")))
        }
    case "engine":
        let ledger = try Ledger.open(at: args[2])
        let doc = args[3]
        guard var events = try ledger.events(of: doc) else { throw LedgerError(.notFound, "no document \(doc)") }
        if args.count > 4 { events = Array(events.prefix(count(4, "N"))) }
        var texts: [String?] = []
        for e in events { texts.append(e.type == .retracted ? nil : try ledger.state(of: doc, asOf: .version(e.version))!.text) }
        var engine = ProvenanceEngine()
        let t0 = now()
        for (e, text) in zip(events, texts) {
            engine.apply(text: text, event: e.position, explainedMinorEdit: e.metadata["minor"] == "true" && !(e.message ?? "").isEmpty)
        }
        let secs = now() - t0
        FileHandle.standardError.write(Data(String(format: "RESULT mode=engine versions=%d secs=%.3f versions_per_s=%.0f tokens=%d\n", events.count, secs, Double(events.count) / secs, engine.tokens.count).utf8))
        let source = Dictionary(uniqueKeysWithValues: events.map { ($0.position, $0.source ?? "") })
        func ref(_ p: UInt64) -> String { "{\"source\":\"\(source[p] ?? "")\"}" }
        var out = "{\"tokens\":["
        let pieces = texts.last!.map { t in Tokenizer.tokens(of: t).filter { $0.kind != .whitespace }.map { String($0.text) } } ?? []
        for (k, id) in engine.currentTokenIDs.enumerated() {
            let token = engine.tokens[Int(id)]
            let text = k < pieces.count ? pieces[k] : token.value
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            out += (k > 0 ? "," : "") + "{\"text\":\"\(escaped)\",\"origin\":\(ref(token.origin)),\"removedBy\":[\(token.removedBy.map(ref).joined(separator: ","))]}"
        }
        print(out + "]}")
    case "audit":
        let (dir, n, runs) = (args[2], count(3, "N"), count(4, "RUNS"))
        var options = Ledger.Options()
        options.builtInProjections = false
        let ledger = try Ledger.create(at: dir, options: options)
        let buildStart = now()
        let base = Timestamp.now()
        var k = 0
        while k < n {
            let batch = (k..<min(n, k + 10_000)).map { i in
                NewEvent(document: "doc-\(i)", change: .publish(text: "event \(i)"), at: Timestamp(milliseconds: base.milliseconds + Int64(i)), actor: "bench")
            }
            _ = try ledger.append(contentsOf: batch)
            k += batch.count
        }
        let buildSecs = now() - buildStart
        var checkpoints: [Double] = []
        var checkpoint = try ledger.signCheckpoint()
        for _ in 0..<runs {
            let start = now()
            checkpoint = try ledger.signCheckpoint()
            checkpoints.append(now() - start)
        }
        checkpoints.sort()
        var generator = SystemRandomNumberGenerator()
        var inclusion: [Double] = [], consistency: [Double] = []
        var pathLength = 0
        for _ in 0..<1000 {
            let position = UInt64.random(in: 1...UInt64(n), using: &generator)
            let start = now()
            let proof = try ledger.inclusionProof(position: position, treeSize: checkpoint.treeSize)
            inclusion.append(now() - start)
            guard proof.isValid else { throw LedgerError(.integrity, "an inclusion proof did not verify") }
            pathLength = max(pathLength, proof.path.count)
        }
        for _ in 0..<200 {
            let old = UInt64.random(in: 1...UInt64(n), using: &generator)
            let start = now()
            let proof = try ledger.consistencyProof(oldSize: old, newSize: checkpoint.treeSize)
            consistency.append(now() - start)
            guard proof.isValid else { throw LedgerError(.integrity, "a consistency proof did not verify") }
        }
        inclusion.sort()
        consistency.sort()
        print(String(
            format: "RESULT mode=audit events=%d build_secs=%.2f checkpoint_p50_ms=%.3f checkpoint_min_ms=%.3f checkpoint_max_ms=%.3f proofs=%d inclusion_p50_us=%.1f inclusion_p99_us=%.1f path_length=%d consistency_p50_us=%.1f consistency_p99_us=%.1f",
            n, buildSecs, percentile(checkpoints, 0.5) * 1e3, checkpoints.lowest * 1e3, checkpoints.highest * 1e3, inclusion.count,
            percentile(inclusion, 0.5) * 1e6, percentile(inclusion, 0.99) * 1e6, pathLength, percentile(consistency, 0.5) * 1e6, percentile(consistency, 0.99) * 1e6))
    case "load":
        guard args.count > 3, let seconds = Double(args[3]) else { usage("SECONDS must be a number") }
        try loadTest(ledgerPath: args[2], seconds: seconds, writers: count(4, "WRITERS", minimum: 0), readers: count(5, "READERS", minimum: 0))
    case "load-writer":
        try loadWriter(ledgerPath: args[2], deadline: Double(args[3])!, seed: Int(args[4])!, output: args[5])
    case "load-reader":
        try loadReader(ledgerPath: args[2], deadline: Double(args[3])!, output: args[5])
    case "extract":
        guard args.count == 5 else { usage("extract DIR OUT.json RUNS") }
        benchExtract(directory: args[2], output: args[3], runs: count(4, "RUNS"))
    case "size":
        var options = Ledger.Options()
        options.readOnly = true
        let ledger = try Ledger.open(at: args[2], options: options)
        let usage = try ledger.spaceUsage()
        print("RESULT mode=size used_bytes=\(usage.fileBytes) live_bytes=\(usage.liveBytes)")
    default:
        FileHandle.standardError.write(Data("unknown mode \(args[1])\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("PalimpsestBench: \(error)\n".utf8))
    exit(1)
}
