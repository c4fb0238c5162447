import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// SIGKILL at random moments, through the library and through `palimpsest import`: nothing
/// acknowledged is lost, nothing half-written is seen, projections equal a rebuild. CI runs the short
/// form; `tools/crash-test` sets PALIMPSEST_CRASH_TRIALS for the long one.
@Suite(.serialized) struct CrashTests {
    static let trials = Int(ProcessInfo.processInfo.environment["PALIMPSEST_CRASH_TRIALS"] ?? "") ?? 10

    @Test func killedLibraryWritersLoseNothingAcknowledged() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/ledger", side = dir + "/acknowledged"
            var figures = CrashFigures()
            var rng = SeededGenerator(seed: 7)
            var killed = 0
            for trial in 0..<Self.trials {
                let delay = Double.random(in: 0.05...0.8, using: &rng)
                if try runAndKill(stressWriterExecutable, [path, side, String(1000 + trial)], after: delay) { killed += 1 }
                figures.trials += 1
                var after = CrashFigures()
                after.trials = trial
                checkAfterCrash(path, sideFile: side, into: &after)
                (figures.acknowledged, figures.found, figures.lost, figures.mismatched) = (after.acknowledged, after.found, after.lost, after.mismatched)
                figures.problems += after.problems
            }
            print("crash test (library appends): \(figures); \(killed) of \(figures.trials) writers killed mid-run")
            #expect(figures.problems.isEmpty, "\(figures.problems)")
            #expect(figures.lost == 0 && figures.mismatched == 0 && figures.acknowledged > 0, "\(figures)")
            #expect(killed > 0)
        }
    }

    @Test func killedImportsLeaveAPrefixAndResume() throws {
        try withTemporaryDirectory { dir throws in
            // About 40 MB of text in 200 lines: 20 documents of 10 versions, each version the last one
            // and a new paragraph of about 36 KB. The bulk importer commits every 16 MB of text, so the
            // import makes three commits and a kill can land before, between or after them.
            var rng = SeededGenerator(seed: 9)
            let words = ["root", "causes", "migration", "poverty", "inequality", "democratic", "decline", "violence"]
            func paragraph() -> String {
                (0..<40).map { _ in (0..<110).map { _ in words[Int(rng.next() % 8)] }.joined(separator: " ") + "." }.joined(separator: " ")
            }
            var texts = [String](repeating: "", count: 20)
            var lines: [String] = [], ids: [String] = []
            for i in 0..<200 {
                let d = i % 20
                texts[d] += (texts[d].isEmpty ? "" : "\n\n") + paragraph()
                let id = UUID().uuidString.lowercased()
                ids.append(id)
                lines.append(CanonicalJSON.string([
                    "type": i < 20 ? "publish" : "edit", "doc": .string("doc-\(d)"), "at": "2023-12-28T00:00:00Z", "actor": "importer",
                    "text": .string(texts[d]), "id": .string(id),
                ]))
            }
            let file = dir + "/history.jsonl"
            try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            // How long a whole import takes here: kills are spread over that time.
            let reference = dir + "/reference"
            try palimpsest("--ledger", reference, "init")
            let started = Date()
            #expect(try palimpsest("--ledger", reference, "import", "jsonl", file).status == 0)
            let whole = Date().timeIntervalSince(started)
            let trials = max(3, Self.trials / 3)
            var killed = 0
            var prefixes: [Int] = []
            let path = dir + "/ledger"
            for trial in 0..<trials {
                try? FileManager.default.removeItem(atPath: path)
                try palimpsest("--ledger", path, "init")
                let delay = Double.random(in: 0.05...(whole * 1.05), using: &rng)
                if try runAndKill(palimpsestExecutable, ["--ledger", path, "import", "jsonl", file], after: delay) { killed += 1 }
                let ledger = try Ledger.open(at: path)
                let report = try ledger.verify(projections: true)
                #expect(report.isClean, "trial \(trial): \(report.firstProblem ?? "") \(report.projectionMismatches)")
                // What is there is exactly the first lines of the file, in order.
                let recorded = try ledger.events().map { $0.eventID.uuidString.lowercased() }
                #expect(recorded == Array(ids.prefix(recorded.count)), "trial \(trial)")
                prefixes.append(recorded.count)
            }
            // The last killed import, run again, finishes to exactly the file.
            let finished = try palimpsest("--ledger", path, "import", "jsonl", file)
            #expect(finished.status == 0, "\(finished.err)")
            let ledger = try Ledger.open(at: path)
            #expect(try ledger.events().map { $0.eventID.uuidString.lowercased() } == ids)
            #expect(try ledger.verify().isClean)
            print("crash test (palimpsest import jsonl): \(trials) trials, \(killed) imports killed mid-run (a whole import takes \(String(format: "%.1f", whole)) s), the ledger always a verified prefix of the file (lines recorded after each kill: \(prefixes.map(String.init).joined(separator: ", ")) of 200; \(Set(prefixes).count) different); the import then finished")
        }
    }
}
