import ArgumentParser
import Palimpsest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The root command. `run` is synchronous on purpose: LMDB transactions must not cross an `await`.
struct PalimpsestCommand: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "palimpsest",
        abstract: "An event-sourced ledger of document edits: record every publish, edit and retraction, read any past version back.",
        discussion: """
            The ledger is the directory given by --ledger, else $PALIMPSEST_LEDGER, else ./palimpsest.ledger.
            Times are ISO 8601 with a zone (2023-12-28T15:00:00Z); a date alone means its start in UTC.
            Exit codes: 0 ok, 1 not found, 2 usage or invalid input, 3 conflict, 4 integrity failure, 5 storage error.
            """,
        version: version,
        subcommands: [
            Init.self, Publish.self, Edit.self, Retract.self, Restore.self, Docs.self, Log.self, Show.self,
            Diff.self, Compare.self, Blame.self, Removed.self, Trace.self,
            Replay.self, Import.self, Export.self, Verify.self, Checkpoint.self, Prove.self, Report.self, Stats.self, Demo.self,
            Redact.self, Compact.self, Capture.self, Watch.self, Extract.self, Feed.self, Serve.self, Replicate.self,
        ]
    )
}

@main
enum Entry {
    static func main() {
        // A file-size limit (ulimit -f) then fails the write with EFBIG, reported as "storage full",
        // instead of killing the process mid-transaction.
        signal(SIGXFSZ, SIG_IGN)
        // Answered from argv before anything else: the argument parser's first parse reflects over
        // its own types and scans the binary's ~10,000 protocol conformances (about half of this
        // process otherwise), and even `CommandLine.arguments` builds its strings first.
        if CommandLine.argc == 2, let raw = CommandLine.unsafeArgv[1], strcmp(raw, "--version") == 0 {
            print(PalimpsestCommand.version)
            return
        }
        // Swift repairs invalid UTF-8 in arguments to U+FFFD, which would record a document ID, actor
        // or message the user never typed: refuse instead.
        if let (index, offset) = firstInvalidArgument() {
            fail("argument \(index) is not valid UTF-8 (first bad byte at offset \(offset)); nothing was done", code: 2)
        }
        let arguments = globalOptionsMoved(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try PalimpsestCommand.parseAsRoot(arguments)
            try command.run()
        } catch let error as LedgerError {
            fail(error.message, code: error.code.exitCode)
        } catch let error as ImportFailure {
            fail(error.error.message, code: error.error.code.exitCode)
        } catch {
            // Only once parsing failed: naming every command evaluates each one's configuration.
            if let first = arguments.first, !first.hasPrefix("-"), !commandNames.contains(first) {
                fail("there is no command \"\(first)\"; the commands are \(commandNames.sorted().joined(separator: ", "))", code: 2, usage: true)
            }
            let code = PalimpsestCommand.exitCode(for: error)
            if code == .validationFailure {
                // ArgumentParser says 64 (EX_USAGE); the contract says 2.
                fail(PalimpsestCommand.fullMessage(for: error), code: 2, usage: true)
            }
            PalimpsestCommand.exit(withError: error)
        }
    }

    /// The first command-line argument (counted from 1) whose bytes are not valid UTF-8, with the
    /// offset of its first bad byte.
    static func firstInvalidArgument() -> (index: Int, offset: Int)? {
        for index in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[index] else { continue }
            // Read in place, without building an array per argument.
            if let offset = firstInvalidUTF8Offset(UnsafeRawBufferPointer(start: raw, count: strlen(raw))) { return (index, offset) }
        }
        return nil
    }

    static let commandNames = Set(PalimpsestCommand.configuration.subcommands.map { $0._commandName } + ["help"])

    /// `palimpsest --ledger DIR show …` as DESIGN.md §7 writes it: ArgumentParser only accepts a
    /// subcommand's options after the subcommand's name, so a leading `--ledger` (and, for a shared
    /// ledger, `--replica`) moves to the end (before a `--` terminator, if any).
    static func globalOptionsMoved(_ arguments: [String]) -> [String] {
        var rest = arguments
        var moved: [String] = []
        while let first = rest.first {
            if first == "--ledger" || first == "--replica", rest.count >= 2 {
                moved += rest.prefix(2)
                rest.removeFirst(2)
            } else if first.hasPrefix("--ledger=") || first.hasPrefix("--replica=") {
                moved.append(first)
                rest.removeFirst()
            } else {
                break
            }
        }
        guard !moved.isEmpty, !rest.isEmpty else { return arguments }
        if let terminator = rest.firstIndex(of: "--") {
            rest.insert(contentsOf: moved, at: terminator)
        } else {
            rest += moved
        }
        return rest
    }

    static func fail(_ message: String, code: Int32, usage: Bool = false) -> Never {
        var text = "palimpsest: \(message)"
        if usage, !text.contains("--help") { text += "\n(see `palimpsest --help`)" }
        writeToStandardError(text + "\n")
        exit(code)
    }
}
