import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

struct Feed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Write an Atom feed of a document's changes (or of every document under a prefix), with word diffs.",
        discussion: """
            One entry per change (published, edited, retracted, restored), newest first: the actor, the
            time, a link (to --base-url's event page, else the page captured), and the word diff as HTML,
            removed words struck through and added ones marked, as the reports show them.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document (omit it with --prefix).") var doc: String?
    @Option(name: .long, help: ArgumentHelp("Every document whose ID starts with this (\"\" for all).", valueName: "prefix")) var prefix: String?
    @Option(name: .long, help: ArgumentHelp("The most entries (default 50).", valueName: "n")) var limit: Int = 50
    @Option(name: .customLong("base-url"), help: ArgumentHelp("Where `palimpsest serve` answers, for the entries' links.", valueName: "url")) var baseURL: String?
    @Option(name: .long, help: ArgumentHelp("The file to write (- for standard output).", valueName: "file")) var out: String

    func validate() throws {
        if (doc == nil) == (prefix == nil) { throw ValidationError("give a document or --prefix (one of them)") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let feed = AtomFeed(scope: doc.map { .document($0) } ?? .prefix(prefix ?? ""), limit: limit, baseURL: baseURL)
        let xml = try feed.render(from: ledger)
        if out == "-" {
            print(xml, terminator: "")
        } else {
            do { try Data(xml.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw LedgerError(.storage, "cannot write the feed to \(out): \(error.localizedDescription)")
            }
        }
    }
}
