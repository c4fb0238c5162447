import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Docs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "docs", abstract: "List the documents in the ledger (the catalogue).")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let docs = try location.open(readOnly: true).documents()
        if output.json {
            printJSON(Answers.documents(docs))
            return
        }
        if docs.isEmpty {
            print("The ledger has no documents yet.")
            return
        }
        print("VERSIONS  STATUS     UPDATED               DOCUMENT")
        for d in docs {
            print("\(String(d.version).leftPadded(8, " "))  \(d.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  \(d.lastAt.iso8601.padding(toLength: 20, withPad: " ", startingAt: 0))  \(d.id)")
        }
        print("\(docs.count) document\(docs.count == 1 ? "" : "s"), \(docs.reduce(0) { $0 + $1.version }) events.")
    }
}
