import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

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
