import ArgumentParser
import Foundation
import Palimpsest

/// `palimpsest demo`: the communiqué case told with the real commands, each printed before its output.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Tell the communiqué story with real commands: a phrase published, silently removed, found and proved.",
        discussion: """
            On 28 December 2023 the White House published a US–Mexico joint communiqué naming "democratic \
            decline" among the root causes of migration, and reissued it hours later without the phrase; the \
            Mexican foreign ministry's version never had it. The demo records the State Department's \
            announcement of 22 December, the communiqué as first published, the Mexican version and the \
            reissue (texts bundled with Palimpsest, cut from ../shared/seed/communique-story.txt; the story \
            gives dates but no times of day, so each event's message says its time is approximate), then runs \
            log, show, diff, removed, trace, compare, blame, verify and report, printing each command first.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Build the ledger here and keep it (a new or empty directory; default: a new temporary directory, also kept).", valueName: "dir"))
    var ledger: String?

    static let whiteHouse = "whitehouse.gov/briefing-room/2023/12/28/joint-communique"
    static let stateDepartment = "state.gov/secretary-blinken-travel-to-mexico-2023-12-22"
    static let mexico = "sre.gob.mx/joint-press-release-2023-12-28"

    func run() throws {
        let texts = try DemoTexts.load()
        let work = try makeTemporaryDirectory()
        let ledgerPath = ledger.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? work + "/communique.ledger"
        if let ledger, let entries = try? FileManager.default.contentsOfDirectory(atPath: ledger), !entries.isEmpty {
            throw ValidationError("the demo builds a new ledger, and \(ledger) is not empty: name a new or empty directory")
        }
        for (name, text) in [("announcement.txt", texts.announcement), ("first-published.txt", texts.firstPublished),
                             ("reissued.txt", texts.reissued), ("mexican-version.txt", texts.mexican)] {
            try text.write(toFile: work + "/" + name, atomically: true, encoding: .utf8)
        }
        let report = work + "/democratic-decline.html"
        let wh = Self.whiteHouse, mx = Self.mexico
        print("""
            The communiqué case: on 28 December 2023 the White House published a joint communiqué with Mexico that \
            named "democratic decline" among the root causes of migration, and hours later reissued it without the \
            phrase. The Mexican foreign ministry's version never had it. Here is that history in a ledger, told \
            with the commands you would type (the times of day are approximate: the story gives only dates).

            $ cd \(shellQuoted(work))
            $ export PALIMPSEST_LEDGER=\(shellQuoted(ledgerPath))
            """)
        let runner = StepRunner(ledger: ledgerPath, directory: work)
        try runner.step("init")
        try runner.step("publish", Self.stateDepartment, "--actor", "U.S. Department of State", "--at", "2023-12-22T17:00:00Z",
                        "--title", "Secretary Blinken's Travel to Mexico", "--text-file", "announcement.txt",
                        "--message", "announcement (time of day approximate)")
        try runner.step("publish", wh, "--actor", "The White House", "--at", "2023-12-28T15:00:00Z",
                        "--title", "Mexico-U.S. Joint Communique", "--text-file", "first-published.txt",
                        "--message", "first published (time of day approximate)")
        try runner.step("publish", mx, "--actor", "Secretaría de Relaciones Exteriores", "--at", "2023-12-28T16:00:00Z",
                        "--title", "Joint Press Release", "--language", "en", "--variant-of", wh, "--text-file", "mexican-version.txt",
                        "--message", "Mexican version (time of day approximate)")
        try runner.step("edit", wh, "--actor", "The White House", "--at", "2023-12-28T21:00:00Z", "--text-file", "reissued.txt",
                        "--message", "reissued hours later without \"democratic decline\" (time of day approximate)")
        runner.say("What the ledger holds, in the order it learned it:")
        try runner.step("log")
        runner.say("The communiqué as it stood in the afternoon, and in the evening:")
        try runner.step("show", wh, "--at", "2023-12-28T18:00:00Z")
        try runner.step("show", wh, "--at", "2023-12-28T23:00:00Z")
        runner.say("What the reissue changed:")
        try runner.step("diff", wh)
        runner.say("Who removed the phrase, and when — and its whole life:")
        try runner.step("removed", "democratic decline")
        try runner.step("trace", "democratic decline")
        runner.say("The communiqué as first published beside the Mexican version:")
        try runner.step("compare", wh + "#1", mx)
        runner.say("Who wrote each word of the first version:")
        try runner.step("blame", wh, "--version", "1")
        runner.say("Every hash, the chain and the Merkle tree, recomputed:")
        try runner.step("verify")
        runner.say("A signed report anyone can check (tools/verify-report.py), as a web page:")
        try runner.step("report", "--phrase", "democratic decline", "--format", "html", "--out", report)
        print("""

            The report is \(report): open it in a browser to see the removal struck through.
            The ledger is in \(ledgerPath); the texts and the report in \(work). Nothing else was written.
            """)
    }

    private func makeTemporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "palimpsest-demo-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw LedgerError(.storage, "cannot create a temporary directory in \(NSTemporaryDirectory())")
        }
        return String(cString: made)
    }
}

/// The three texts bundled with the CLI (Resources/communique), cut from the story, and the reissue:
/// the first-published communiqué without "democratic decline, " — the only change the story reports.
struct DemoTexts {
    var announcement: String
    var firstPublished: String
    var reissued: String
    var mexican: String

    static func load() throws -> DemoTexts {
        func text(_ name: String) throws -> String {
            guard let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "communique"),
                let text = try? String(contentsOf: url, encoding: .utf8)
            else {
                throw LedgerError(.storage, "the demo's texts are missing (\(name).txt in palimpsest's resource bundle, next to the executable)")
            }
            return text
        }
        let first = try text("white-house-2023-12-28")
        return DemoTexts(announcement: try text("state-department-2023-12-22"), firstPublished: first,
                         reissued: first.replacingOccurrences(of: "democratic decline, ", with: ""),
                         mexican: try text("foreign-ministry-mexico-2023-12-28"))
    }
}

/// Runs this executable again for each step, after printing the command as one would type it.
struct StepRunner {
    let ledger: String
    let directory: String

    func say(_ line: String) {
        print("\n# " + line)
    }

    func step(_ arguments: String...) throws {
        print("\n$ palimpsest " + arguments.map(shellQuoted).joined(separator: " "))
        fflush(nil)  // every stream: what this process printed comes before what the step prints
        let process = Process()
        process.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PALIMPSEST_LEDGER"] = ledger
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LedgerError(.storage, "the demo stopped: `palimpsest \(arguments.joined(separator: " "))` failed (exit \(process.terminationStatus))")
        }
    }
}

/// A shell word: as it is when it needs no quoting, else in single quotes.
func shellQuoted(_ argument: String) -> String {
    let plain = !argument.isEmpty && argument.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_./:=@+#,-".unicodeScalars.contains($0)) }
    return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
