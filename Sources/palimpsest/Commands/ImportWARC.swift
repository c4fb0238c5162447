import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

struct ImportWARC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warc",
        abstract: "Import WARC files made elsewhere (wget --warc-file, Webrecorder, Heritrix, Wayback): each HTML response a capture.",
        discussion: """
            Every HTML response record becomes a capture of its WARC-Target-URI at its WARC-Date, in
            time order per URI, recorded as `capture` records a page (publish, edit, retract on 404/410
            and 451, restore; unchanged text records nothing); revisit records are resolved to the
            response they repeat; other record types and non-HTML payloads are skipped and counted.
            Plain and gzip files; read in two streaming passes. Event IDs come from the record IDs, so
            a second import adds nothing. A truncated or corrupt file stops the import, naming the file
            and byte offset; the events before it stay.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The WARC files (.warc or .warc.gz).") var files: [String]
    @Option(name: .customLong("doc-prefix"), help: ArgumentHelp("Put this before every default document ID.", valueName: "prefix")) var documentPrefix: String?
    @Option(name: .long, help: ArgumentHelp("Who the events name (default: warc-import).", valueName: "name")) var actor: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one WARC file") }
    }

    func run() throws {
        for file in files where !FileManager.default.fileExists(atPath: file) {
            throw LedgerError(.notFound, "the WARC file \(file) does not exist")
        }
        let ledger = try location.open()
        let importer: WARCImporter
        do { importer = try WARCImporter(ledger: ledger, actor: actor ?? "warc-import", documentPrefix: documentPrefix) } catch {
            throw LedgerError(.storage, error.description)
        }
        let terminal = isatty(2) != 0
        let summary: WARCImportSummary
        do {
            summary = try importer.run(paths: files) { progress in
                if terminal { writeToStandardError("\r\u{1B}[Kimporting: \(progress.captures) captures, \(progress.events) events") }
            }
        } catch let error as WARCError {
            if terminal { writeToStandardError("\r\u{1B}[K") }
            throw LedgerError(.invalidInput, error.description)
        }
        if terminal { writeToStandardError("\r\u{1B}[K") }
        try location.shareCaptureEvidence(of: ledger)
        if output.json {
            printJSON(.object([
                "files": .int(Int64(summary.files)), "records": .int(Int64(summary.records)), "captures": .int(Int64(summary.captures)),
                "published": .int(Int64(summary.published)), "edited": .int(Int64(summary.edited)),
                "retracted": .int(Int64(summary.retracted)), "restored": .int(Int64(summary.restored)),
                "unchanged": .int(Int64(summary.unchanged)), "absent": .int(Int64(summary.absent)), "alreadyRecorded": .int(Int64(summary.alreadyRecorded)),
                "notRecorded": .int(Int64(summary.notRecorded)), "skippedPayloads": .int(Int64(summary.skippedPayloads)),
                "skippedByType": .object(summary.skippedByType.mapValues { .int(Int64($0)) }),
            ]))
        } else {
            let skipped = summary.skippedByType.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("""
                \(summary.files) file\(summary.files == 1 ? "" : "s"), \(summary.records) records: \(summary.captures) captures → \
                \(summary.published) published, \(summary.edited) edited, \(summary.retracted) retracted, \(summary.restored) restored, \
                \(summary.unchanged) unchanged, \(summary.absent) absent (404/410/451 before any capture), \(summary.alreadyRecorded) already recorded, \(summary.notRecorded) not recorded; \
                skipped: \(summary.skippedPayloads) non-HTML or other responses\(skipped.isEmpty ? "" : ", " + skipped)
                """)
        }
    }
}
