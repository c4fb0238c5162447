import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-ingest history into the ledger.",
        subcommands: [ImportJSONL.self, ImportMediaWiki.self, ImportGit.self, ImportWARC.self]
    )
}

struct ImportJSONL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jsonl",
        abstract: "Import JSON Lines: import-format commands or exported events (idempotent: a second run adds nothing).",
        discussion: """
            Each line is one command of the neutral import format,
            {"type":"publish|edit|retract|restore","doc":…,"at":…,"actor":…,"text":…}
            (see Schemas/import-line.schema.json), or one event written by `palimpsest export`, which is
            reproduced exactly (positions, recorded times and hashes, the chain checked as it loads).
            Lines are committed in batches; at a bad line the import stops, and the lines before it stay.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The file to import, or - for standard input.") var source: String
    @OptionGroup var wait: ImportWaitOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let input = try InputFile.open(source)
        defer { input.close() }
        let ledger = try location.open()
        var importer = JSONLImporter(ledger: ledger)
        importer.bulk.waitForProjections = !wait.noWait
        let summary = try withProgress { progress in
            try importer.run(fd: input.fd, sourceName: input.name, totalBytes: input.totalBytes, progress: progress)
        }
        try input.finish()
        report(summary, source: input.name, json: output.json)
    }
}

struct ImportMediaWiki: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mediawiki",
        abstract: "Import a MediaWiki XML export (Special:Export or a dump; .xz, .bz2 and .gz read directly).",
        discussion: """
            Each page becomes a document (its title, after --doc-prefix), each revision an event: the
            first published, later ones edited; at = the revision's timestamp, actor = the username, the
            IP of an anonymous edit, or (hidden); source = "<wiki> rev <id>"; message = the edit comment.
            A revision whose text was suppressed is recorded with the previous text and textHidden in
            its metadata. Importing again adds nothing; an interrupted import continues where it stopped.
            Document type declarations (and so entity definitions) are refused.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The export, or - for standard input.") var source: String
    @Option(name: .customLong("doc-prefix"), help: ArgumentHelp("Put this before every page title to make its document ID.", valueName: "prefix"))
    var documentPrefix: String = ""
    @Option(help: ArgumentHelp("The wiki's name for each event's source, when the export does not say (its siteinfo has no dbname).", valueName: "name"))
    var wiki: String?
    @OptionGroup var wait: ImportWaitOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let input = try InputFile.open(source)
        defer { input.close() }
        let ledger = try location.open()
        var importer = MediaWikiImporter(ledger: ledger)
        importer.documentPrefix = documentPrefix
        importer.wiki = wiki
        importer.bulk.waitForProjections = !wait.noWait
        let summary = try withProgress { progress in
            try importer.run(fd: input.fd, sourceName: input.name, totalBytes: input.totalBytes, progress: progress)
        }
        try input.finish()
        report(summary, source: input.name, json: output.json)
    }
}

struct ImportGit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git",
        abstract: "Import the history of the text files in a git repository (first parent, oldest first).",
        discussion: """
            One event per path whose text changed: a path that becomes a text file is published (or
            restored), edited while it stays one, and retracted when it is deleted or becomes a
            symbolic link, a submodule, a binary file or a file over the limit; renamed = the old path
            retracted and the new one published as its variant. Changes among binary files, links and
            submodules are passed over and counted. Actor = author, at = author date, source =
            "<repo>@<commit>", message = the commit's subject. A merge whose side branch is linear and
            could have been fast-forwarded is replaced by that branch's commits, so changes are credited
            to who wrote them. Work trees and bare repositories; a shallow clone imports what it has,
            said in the summary. Importing again adds nothing; an interrupted import, run again,
            continues.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The repository (its work tree or its .git directory).") var repository: String
    @Option(help: ArgumentHelp("Only paths matching this glob (e.g. 'Policies/*.md').", valueName: "glob")) var path: String?
    @Option(help: ArgumentHelp("The branch or commit to follow (default: HEAD).", valueName: "branch")) var branch: String?
    @Option(help: ArgumentHelp("How files that are not UTF-8 are encoded: latin1, windows-1252, utf-16 (default: refuse them).", valueName: "name"))
    var encoding: String?
    @Option(name: .customLong("doc-prefix"), help: ArgumentHelp("Put this before every path to make its document ID.", valueName: "prefix"))
    var documentPrefix: String = ""
    @OptionGroup var wait: ImportWaitOptions
    @OptionGroup var output: OutputOptions

    static let encodings: [String: String.Encoding] = [
        "utf-8": .utf8, "utf8": .utf8, "latin1": .isoLatin1, "iso-8859-1": .isoLatin1,
        "windows-1252": .windowsCP1252, "cp1252": .windowsCP1252, "utf-16": .utf16, "ascii": .ascii,
    ]

    func validate() throws {
        if let encoding, Self.encodings[encoding.lowercased()] == nil {
            throw ValidationError("--encoding \"\(encoding)\" is not one of \(Self.encodings.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        let ledger = try location.open()
        var importer = GitImporter(ledger: ledger)
        importer.pathGlob = path
        importer.branch = branch
        importer.encoding = encoding.flatMap { Self.encodings[$0.lowercased()] }
        importer.documentPrefix = documentPrefix
        importer.bulk.waitForProjections = !wait.noWait
        let summary = try withProgress { progress in try importer.run(repository: repository, progress: progress) }
        report(summary, source: repository, json: output.json)
    }
}

/// What every import command shares besides the ledger and the output.
struct ImportWaitOptions: ParsableArguments {
    @Flag(name: .customLong("no-wait"), help: "Return once the events are committed to the log, without waiting for provenance and the phrase index to fold them (the next command that needs them catches up).")
    var noWait = false
}

/// Runs an import with a progress line on standard error when it is a terminal.
func withProgress(_ body: (@escaping @Sendable (ImportProgress) -> Void) throws -> ImportSummary) throws -> ImportSummary {
    let showProgress = isatty(2) != 0
    defer { if showProgress { writeToStandardError("\r\u{1B}[K") } }
    return try body { p in
        guard showProgress else { return }
        writeToStandardError("\r\u{1B}[K" + Progress.line(p))
    }
}

/// Prints an import's summary.
func report(_ summary: ImportSummary, source name: String, json: Bool) {
    if json {
        printJSON([
            "source": .string(name), "lines": .int(Int64(summary.lines)), "added": .int(Int64(summary.added)),
            "skipped": .int(Int64(summary.skipped)), "documents": .int(Int64(summary.documents)),
            "textBytes": .int(Int64(summary.textBytes)), "inputBytes": .int(Int64(summary.inputBytes)),
            "backdated": .int(Int64(summary.backdated)), "seconds": .double(summary.seconds),
            "analysisSeconds": .double(summary.analysisSeconds), "readSeconds": .double(summary.readSeconds),
            "commitSeconds": .double(summary.commitSeconds), "notes": .array(summary.notes.map { .string($0) }),
            "logSeconds": .double(summary.logSeconds), "projectionSeconds": summary.projectionSeconds.map { .double($0) } ?? .null,
            "passedOver": .object(summary.passedOver.mapValues { .int(Int64($0)) }),
        ])
        return
    }
    let mb = Double(summary.textBytes) / 1e6
    let rate = summary.logSeconds > 0 ? mb / summary.logSeconds : 0
    var log = "the log in \(String(format: "%.2f", summary.logSeconds)) s (\(String(format: "%.0f", rate)) MB/s"
    if summary.analysisSeconds > 0 { log += "; analysis \(String(format: "%.2f", summary.analysisSeconds)) s" }
    log += "; reading \(String(format: "%.2f", summary.readSeconds)) s and committing \(String(format: "%.2f", summary.commitSeconds)) s, side by side)"
    let projections = summary.projectionSeconds.map { "provenance and the phrase index caught up \(String(format: "%.2f", $0)) s later" }
        ?? "provenance and the phrase index catch up in the background and on the next command that needs them"
    print("Imported \(name): \(summary.added) events added, \(summary.skipped) already present, \(summary.documents) documents, \(String(format: "%.1f", mb)) MB of text in \(String(format: "%.2f", summary.seconds)) s: \(log); \(projections).")
    if summary.backdated > 0 {
        print("\(summary.backdated) events take effect earlier than the previous event of their document (accepted, as real histories have them).")
    }
    for (reason, count) in summary.passedOver.sorted(by: { $0.key < $1.key }) {
        print("\(count) \(reason).")
    }
    for note in summary.notes {
        print("Note: \(note).")
    }
}

/// An input file, standard input, or a compressed file read through its decompressor.
final class InputFile {
    let fd: Int32
    let name: String
    let totalBytes: Int?
    private let decompressor: Process?
    private let errors: Pipe?

    private init(fd: Int32, name: String, totalBytes: Int?, decompressor: Process? = nil, errors: Pipe? = nil) {
        (self.fd, self.name, self.totalBytes, self.decompressor, self.errors) = (fd, name, totalBytes, decompressor, errors)
    }

    static func open(_ path: String) throws -> InputFile {
        if path == "-" { return InputFile(fd: 0, name: "standard input", totalBytes: nil) }
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw LedgerError(.notFound, "the file \(path) does not exist") }
            throw LedgerError(.invalidInput, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFIFO else {
            throw LedgerError(.invalidInput, "\(path) is not a file")
        }
        let tools = [".xz": "xz", ".lzma": "xz", ".bz2": "bzip2", ".gz": "gzip"]
        if let tool = tools.first(where: { path.hasSuffix($0.key) })?.value {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [tool, "-dc", path]
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            do { try process.run() } catch {
                throw LedgerError(.invalidInput, "cannot start \(tool) to read \(path): \(error.localizedDescription)")
            }
            return InputFile(fd: out.fileHandleForReading.fileDescriptor, name: path, totalBytes: nil, decompressor: process, errors: err)
        }
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else { throw LedgerError(.invalidInput, "cannot open \(path): \(String(cString: strerror(errno)))") }
        return InputFile(fd: fd, name: path, totalBytes: (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil)
    }

    /// After a complete read: a decompressor that failed means the input was damaged.
    func finish() throws {
        guard let decompressor else { return }
        decompressor.waitUntilExit()
        if decompressor.terminationStatus != 0 {
            let message = String(decoding: errors?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            throw LedgerError(.invalidInput, "\(name) could not be decompressed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    func close() {
        if let decompressor {
            if decompressor.isRunning { decompressor.terminate() }
        } else if fd != 0 {
            Foundation.close(fd)
        }
    }
}

enum Progress {
    static func line(_ p: ImportProgress) -> String {
        if let phase = p.phase { return "\(phase) (\(String(format: "%.0f", p.seconds)) s)" }
        let mb = Double(p.inputBytes) / 1e6
        let rate = p.seconds > 0 ? mb / p.seconds : 0
        var text = "\(p.events) events, \(String(format: "%.1f", mb)) MB read, \(String(format: "%.1f", rate)) MB/s"
        if let total = p.totalBytes, total > 0, rate > 0 {
            let percent = Double(p.inputBytes) / Double(total) * 100
            let eta = (Double(total - p.inputBytes) / 1e6) / rate
            text += String(format: ", %.0f%%, ETA %.0f s", percent, eta)
        }
        return text
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every event as JSON Lines: re-importable, every hash checkable with standard tools."
    )

    enum Format: String, ExpressibleByArgument { case jsonl }

    @OptionGroup var location: LedgerOptions
    @Option(help: "The output format.") var format: Format = .jsonl
    @Option(help: ArgumentHelp("Write to this file instead of standard output (written whole or not at all).", valueName: "file"))
    var out: String?

    func run() throws {
        let ledger = try location.open(readOnly: true)
        guard let out else {
            try Exporter(ledger: ledger).run(to: FileSink(fd: 1))
            return
        }
        // Write beside the target, then rename: a failed export leaves no half-written file.
        let temporary = out + ".partial-\(getpid())"
        let fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw LedgerError(.invalidInput, "cannot write \(out): \(String(cString: strerror(errno)))")
        }
        do {
            let sink = FileSink(fd: fd, closeOnDeinit: true)
            let count = try Exporter(ledger: ledger).run(to: sink)
            guard fsync(fd) == 0, rename(temporary, out) == 0 else {
                throw LedgerError(.storage, "cannot write \(out): \(String(cString: strerror(errno)))")
            }
            writeToStandardError(("Exported \(count) events to \(out).\n"))
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
