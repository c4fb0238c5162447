import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// What a newcomer runs first: `palimpsest demo`, the README's tour (a README that drifts from the
/// CLI fails here), and the embedding example.
@Suite struct DocumentationTests {
    static let whiteHouse = "whitehouse.gov/briefing-room/2023/12/28/joint-communique"

    @Test func theDemoTellsTheWholeStoryWithRealCommands() throws {
        try withTemporaryDirectory { dir throws in
            let ledger = dir + "/kept.ledger"
            let demo = try palimpsest(["demo", "--ledger", ledger])
            #expect(demo.status == 0, "\(demo.err)")
            let out = demo.out
            // Each command printed before its output, in the order the issue names them.
            let commands = ["$ palimpsest init", "$ palimpsest log", "$ palimpsest show \(Self.whiteHouse) --at 2023-12-28T18:00:00Z",
                            "$ palimpsest show \(Self.whiteHouse) --at 2023-12-28T23:00:00Z", "$ palimpsest diff \(Self.whiteHouse)",
                            "$ palimpsest removed 'democratic decline'", "$ palimpsest trace 'democratic decline'",
                            "$ palimpsest compare \(Self.whiteHouse)#1 sre.gob.mx/joint-press-release-2023-12-28",
                            "$ palimpsest blame \(Self.whiteHouse) --version 1", "$ palimpsest verify", "$ palimpsest report --phrase 'democratic decline' --format html --out "]
            var cursor = out.startIndex
            for command in commands {
                guard let found = out.range(of: command, range: cursor..<out.endIndex) else {
                    Issue.record("missing or out of order: \(command)")
                    continue
                }
                cursor = found.upperBound
            }
            #expect(out.contains("removed  \(Self.whiteHouse) v2  by The White House  (1 → 0)"), "\(out)")
            // The afternoon's text has the phrase, the evening's does not.
            let afternoon = try #require(out.range(of: "--at 2023-12-28T18:00:00Z\n")), evening = try #require(out.range(of: "--at 2023-12-28T23:00:00Z\n"))
            #expect(out[afternoon.upperBound..<evening.lowerBound].contains("democratic decline"))
            let eveningText = out[evening.upperBound...].prefix { $0 != "#" }
            #expect(!eveningText.contains("democratic decline") && eveningText.contains("poverty, inequality, and violence"))
            // The ledger is kept: four events, each saying its time is approximate; it verifies.
            let kept = try Ledger.open(at: ledger)
            let events = try kept.events()
            #expect(events.map(\.document) == ["state.gov/secretary-blinken-travel-to-mexico-2023-12-22", Self.whiteHouse, "sre.gob.mx/joint-press-release-2023-12-28", Self.whiteHouse])
            #expect(events.allSatisfy { $0.message?.contains("time of day approximate") == true })
            #expect(try kept.verify().isClean)
            // The HTML report whose path it prints shows the removal struck through.
            let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("The report is ") })
            let path = String(line.dropFirst("The report is ".count).prefix { $0 != ":" })
            let html = try String(contentsOfFile: path, encoding: .utf8)
            #expect(html.contains("<del>democratic decline, </del>"))
            try FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        }
    }

    @Test func theDemoRefusesADirectoryThatIsNotEmpty() throws {
        try withTemporaryDirectory { dir throws in
            try "mine".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
            let result = try palimpsest(["demo", "--ledger", dir])
            #expect(result.status == 2, "\(result.err)")
            #expect(result.err.contains("the demo builds a new ledger, and \(dir) is not empty"), "\(result.err)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["notes.txt"])
        }
    }

    /// The texts bundled for the demo are the story's, cut the same way the end-to-end tests cut it.
    @Test(.enabled(if: Communique.available, "needs ../shared/seed/communique-story.txt"))
    func theBundledTextsAreTheStorys() throws {
        let texts = try Communique.texts()
        let bundled = repositoryRoot.appendingPathComponent("Sources/palimpsest/Resources/communique")
        func read(_ name: String) throws -> String { try String(contentsOf: bundled.appendingPathComponent(name + ".txt"), encoding: .utf8) }
        #expect(try read("state-department-2023-12-22") == texts.announcement)
        #expect(try read("white-house-2023-12-28") == texts.firstPublished)
        #expect(try read("foreign-ministry-mexico-2023-12-28") == texts.mexican)
        #expect(texts.firstPublished.contains("democratic decline, ") && !texts.reissued.contains("democratic decline"))
    }

    /// Every command of the README's tour runs, and prints what the README shows (hashes, IDs, keys
    /// and signing times aside, which differ on every run).
    @Test func theReadmeTourIsWhatTheCommandsPrint() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let tourStart = try #require(readme.range(of: "## A tour"))
        let blockStart = try #require(readme.range(of: "```text\n", range: tourStart.upperBound..<readme.endIndex))
        let blockEnd = try #require(readme.range(of: "\n```", range: blockStart.upperBound..<readme.endIndex))
        let block = readme[blockStart.upperBound..<blockEnd.lowerBound]
        var steps: [(command: String, expected: [String])] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("$ ") {
                steps.append((String(line.dropFirst(2)), []))
            } else if !steps.isEmpty {
                steps[steps.count - 1].expected.append(String(line))
            }
        }
        #expect(steps.count >= 15, "the tour has \(steps.count) commands")
        // The texts the tour records are tools/quickstart's (the tour is that script's output).
        let quickstart = try String(contentsOf: repositoryRoot.appendingPathComponent("tools/quickstart"), encoding: .utf8)
        try withTemporaryDirectory { dir throws in
            for name in ["first", "reissued", "mexican"] {
                let start = try #require(quickstart.range(of: "cat > \"$work/\(name).txt\" <<'TEXT'\n"))
                let end = try #require(quickstart.range(of: "\nTEXT\n", range: start.upperBound..<quickstart.endIndex))
                try (String(quickstart[start.upperBound..<end.lowerBound]) + "\n").write(toFile: "\(dir)/\(name).txt", atomically: true, encoding: .utf8)
            }
            let shell = """
                palimpsest() { "\(palimpsestExecutable)" "$@"; }
                cd "$1"
                """
            for step in steps {
                // `tools/verify-report.py` is named from the repository; everything else runs in the scratch directory.
                let command = step.command.replacingOccurrences(of: "python3 tools/", with: "python3 \"\(repositoryRoot.path)/tools/")
                    .replacingOccurrences(of: ".py democratic", with: ".py\" democratic")
                let result = try run("/bin/sh", ["-c", shell + "\n" + command, "sh", dir], environment: ProcessInfo.processInfo.environment.merging(["PALIMPSEST_LEDGER": dir + "/communique.ledger"]) { $1 })
                #expect(result.status == 0, "\(step.command): \(result.err)")
                let expected = step.expected.map(Self.stable).filter { !$0.isEmpty }
                let printed = result.out.split(separator: "\n", omittingEmptySubsequences: false).map { Self.stable(String($0)) }.filter { !$0.isEmpty }
                #expect(printed == expected, "\(step.command)")
            }
        }
    }

    /// What differs between runs: hashes and keys (hex), UUIDs, times of signing and paths in /tmp.
    static func stable(_ line: String) -> String {
        var line = line
        for (pattern, replacement) in [("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID"), ("[0-9a-f]{16,}…?", "HEX"),
                                       ("20(2[5-9]|[3-9][0-9])-[0-9]{2}-[0-9]{2}T[0-9:.]+Z", "TIME"), ("/tmp/[^ ]*", "PATH")] {
            line = line.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// Shell completions come from swift-argument-parser, for every command (README, "Documentation,
    /// shell completions and the man page").
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsNameEveryCommand(shell: String) throws {
        let result = try palimpsest(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.err)")
        for command in ["demo", "publish", "removed", "trace", "blame", "report", "prove", "checkpoint", "verify", "import"] {
            #expect(result.out.contains(command), "\(shell): \(command)")
        }
    }

    /// The embedding example (Examples/Embedding) appends, folds its own projection, subscribes and
    /// finds the removal.
    @Test func theEmbeddingExampleRuns() throws {
        try withTemporaryDirectory { dir throws in
            let example = URL(fileURLWithPath: palimpsestExecutable).deletingLastPathComponent().appendingPathComponent("PalimpsestExample").path
            let result = try run(example, [dir + "/ledger"])
            #expect(result.status == 0, "\(result.err)")
            let out = result.out
            for n in 1...3 { #expect(out.contains("subscriber saw #\(n) "), "\(out)") }
            #expect(out.contains("removed \"democratic decline\": \(Self.whiteHouse) v2 by The White House at 2023-12-28T21:00:00Z (1 → 0)"), "\(out)")
            #expect(out.contains("first page of removals: v2 by The White House; another page: false"), "\(out)")
            func words(_ s: String) -> Int { s.split(whereSeparator: \.isWhitespace).count }
            let first = "The two countries discussed the root causes of migration, such as poverty, inequality, democratic decline, and violence."
            let reissued = "The two countries discussed the root causes of migration, such as poverty, inequality, and violence."
            let mexican = "Both countries discussed the root causes of migration, such as poverty, inequality and violence."
            #expect(out.contains("words recorded by The White House: \(words(first) + words(reissued))"), "\(out)")
            #expect(out.contains("words recorded by Secretaría de Relaciones Exteriores: \(words(mexican))"), "\(out)")
            #expect(out.contains("projections equal a rebuild: true"))
        }
    }
}
