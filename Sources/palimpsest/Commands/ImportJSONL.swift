import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

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
