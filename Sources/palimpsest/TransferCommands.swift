import ArgumentParser
import Foundation
import Palimpsest

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bulk-ingest history into the ledger.",
        subcommands: [ImportJSONL.self]
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
    @OptionGroup var output: OutputOptions

    func run() throws {
        let fd: Int32
        var total: Int? = nil
        if source == "-" {
            fd = 0
        } else {
            fd = Foundation.open(source, O_RDONLY)
            guard fd >= 0 else {
                if errno == ENOENT { throw LedgerError(.notFound, "the file \(source) does not exist") }
                throw LedgerError(.invalidInput, "cannot open \(source): \(String(cString: strerror(errno)))")
            }
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { total = Int(st.st_size) }
        }
        defer { if fd != 0 { close(fd) } }
        let ledger = try location.open()
        let name = source == "-" ? "standard input" : source
        let showProgress = isatty(2) != 0
        let summary: ImportSummary
        do {
            summary = try JSONLImporter(ledger: ledger).run(fd: fd, sourceName: name, totalBytes: total) { p in
                guard showProgress else { return }
                writeToStandardError("\r\u{1B}[K" + Progress.line(p))
            }
        } catch {
            if showProgress { writeToStandardError("\r\u{1B}[K") }
            throw error
        }
        if showProgress { writeToStandardError("\r\u{1B}[K") }
        if output.json {
            printJSON([
                "source": .string(name), "lines": .int(Int64(summary.lines)), "added": .int(Int64(summary.added)),
                "skipped": .int(Int64(summary.skipped)), "documents": .int(Int64(summary.documents)),
                "textBytes": .int(Int64(summary.textBytes)), "inputBytes": .int(Int64(summary.inputBytes)),
                "backdated": .int(Int64(summary.backdated)), "seconds": .double(summary.seconds),
            ])
        } else {
            let mb = Double(summary.textBytes) / 1e6
            let rate = summary.seconds > 0 ? mb / summary.seconds : 0
            print("Imported \(name): \(summary.added) events added, \(summary.skipped) already present, \(summary.documents) documents, \(String(format: "%.1f", mb)) MB of text in \(String(format: "%.2f", summary.seconds)) s (\(String(format: "%.0f", rate)) MB/s).")
            if summary.backdated > 0 {
                print("\(summary.backdated) events take effect earlier than the previous event of their document (accepted, as real histories have them).")
            }
        }
    }
}

enum Progress {
    static func line(_ p: ImportProgress) -> String {
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
