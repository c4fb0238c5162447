import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Several processes on one ledger at once — 8 CLI writers and 2 library writers, with a reader —
/// LMDB's lock serialises the writers, readers see whole events only, and a map grown by one process
/// is adopted by another.
@Suite struct MultiProcessTests {
    @Test func concurrentWritersLoseNothingAndReadersSeeWholeEvents() throws {
        try withCLILedger { ledger throws in
            try cli(ledger, "publish", "shared", "--actor", "setup", "--at", "2023-12-28", stdin: "v0")
            let writers = 8, perWriter = 6
            // Each writer publishes its own documents and also edits one shared document with
            // --expect-version, which must either succeed or be reported as a conflict (exit 3).
            let script = """
                set -u
                w=$1; bin=$2; ledger=$3
                for i in $(seq 1 \(perWriter)); do
                    printf 'w%s-%s' "$w" "$i" | "$bin" --ledger "$ledger" publish "doc-$w-$i" --actor "writer $w" --at 2023-12-29 >/dev/null || exit 10
                    v=$("$bin" --ledger "$ledger" docs --json | python3 -c 'import json,sys; print([d["version"] for d in json.load(sys.stdin)["documents"] if d["document"]=="shared"][0])')
                    printf 'edit %s %s' "$w" "$i" | "$bin" --ledger "$ledger" edit shared --actor "writer $w" --at 2023-12-29 --expect-version "$v" >/dev/null 2>"$ledger.err.$w"
                    rc=$?
                    if [ $rc -eq 0 ]; then echo ok; elif [ $rc -eq 3 ]; then echo conflict; else cat "$ledger.err.$w" >&2; exit 11; fi
                done
                """
            let group = DispatchGroup()
            nonisolated(unsafe) var outputs = [ProcessOutput?](repeating: nil, count: writers)
            let lock = NSLock()
            for w in 0..<writers {
                group.enter()
                DispatchQueue.global().async {
                    let out = try? run("/bin/sh", ["-c", script, "sh", String(w), palimpsestExecutable, ledger])
                    lock.withLock { outputs[w] = out }
                    group.leave()
                }
            }
            // Two library writers at the same time, acknowledging what they commit in side files.
            for k in 0..<2 {
                group.enter()
                DispatchQueue.global().async {
                    _ = try? run(stressWriterExecutable, [ledger, ledger + ".acknowledged.\(k)", String(500 + k), "150"])
                    group.leave()
                }
            }
            // A reader meanwhile: every listing it gets is a gap-free prefix of the log.
            var reads = 0
            while group.wait(timeout: .now()) == .timedOut {
                let log = try cli(ledger, "log", "--json")
                #expect(log.status == 0, "\(log.err)")
                guard case .array(let events)? = try JSONParser.parse(log.out.trimmingCharacters(in: .newlines))["events"] else {
                    Issue.record("no events array"); break
                }
                #expect(events.map { $0["position"]?.intValue ?? 0 } == Array(1...Int64(events.count)))
                reads += 1
            }
            #expect(reads > 0)
            var edits = 0
            for out in outputs {
                let out = try #require(out)
                #expect(out.status == 0, "\(out.err)")
                edits += out.out.split(separator: "\n").filter { $0 == "ok" }.count
            }
            // Every acknowledged event is there exactly once; positions and versions are gap-free.
            let docs = try JSONParser.parse(try cli(ledger, "docs", "--json").out.trimmingCharacters(in: .newlines))
            guard case .array(let items)? = docs["documents"] else { Issue.record("no documents"); return }
            // The CLI writers' documents (the library writers' are named writer-SEED-doc-K).
            #expect(items.filter { ($0["document"]?.stringValue ?? "").hasPrefix("doc-") }.count == writers * perWriter)
            let shared = try #require(items.first { $0["document"] == "shared" })
            #expect(shared["version"] == .int(Int64(edits + 1)))
            // The library writers' acknowledged events, each present with its hash.
            var acknowledged = CrashFigures()
            for k in 0..<2 { checkAfterCrash(ledger, sideFile: ledger + ".acknowledged.\(k)", into: &acknowledged) }
            #expect(acknowledged.problems.isEmpty && acknowledged.lost == 0 && acknowledged.mismatched == 0, "\(acknowledged)")
            #expect(acknowledged.acknowledged >= 300, "\(acknowledged)")
            let total = writers * perWriter + edits + 1 + acknowledged.acknowledged
            let exported = try cli(ledger, "export").out.split(separator: "\n")
            #expect(exported.count == total)
            let positions = try exported.map { try JSONParser.parse(String($0))["position"]?.intValue ?? 0 }
            #expect(positions == Array(1...Int64(total)))
            let versions = try exported.compactMap { line -> Int64? in
                let e = try JSONParser.parse(String(line))
                return e["document"] == "shared" ? e["version"]?.intValue : nil
            }
            #expect(versions == Array(1...Int64(edits + 1)))
        }
    }

    @Test func aMapGrownByAnotherProcessIsAdopted() throws {
        try withTemporaryDirectory { dir throws in
            var options = Ledger.Options()
            options.initialMapSize = 1 << 20
            let ledger = try Ledger.create(at: dir + "/l", options: options)
            try ledger.append(NewEvent(document: "first", change: .publish(text: "one"), at: Timestamp(iso8601: "2023-12-28")!, actor: "a"))
            // Another process writes far more than this process's 1 MB map while it stays open.
            var rng = SeededGenerator(seed: 11)
            var lines: [String] = []
            for i in 0..<40 {
                let text = String((0..<100_000).map { _ in Character(Unicode.Scalar(UInt8.random(in: 97...122, using: &rng))) })
                lines.append(CanonicalJSON.string(["type": "publish", "doc": .string("big-\(i)"), "at": "2023-12-28", "actor": "b", "text": .string(text)]))
            }
            let imported = try palimpsest(["--ledger", dir + "/l", "import", "jsonl", "-"], input: Data(lines.joined(separator: "\n").utf8))
            #expect(imported.status == 0, "\(imported.err)")
            // This process reads and writes on, in the grown map.
            #expect(try ledger.state(of: "big-39")?.text.utf8.count == 100_000)
            let r = try ledger.append(NewEvent(document: "last", change: .publish(text: "after"), at: Timestamp(iso8601: "2023-12-28")!, actor: "a"))
            #expect(r.event.position == 42)
            #expect(try ledger.events().count == 42)
        }
    }
}
