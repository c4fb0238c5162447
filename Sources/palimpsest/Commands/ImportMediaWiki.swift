import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestImporters

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
