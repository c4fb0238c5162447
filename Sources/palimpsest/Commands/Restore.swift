import ArgumentParser
import Foundation
import Palimpsest

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Record that a retracted document is back, with its text.")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @OptionGroup var event: EventOptions
    @Option(name: .customLong("text-file"), help: ArgumentHelp("The restored text, from this file or - for standard input (default: the text it had when retracted).", valueName: "file"))
    var textFile: String?
    @Flag(name: .long, help: "Print the recorded event as JSON.") var json = false

    func run() throws {
        let ledger = try location.open()
        let text: String
        if let textFile {
            text = try readText(from: textFile)
        } else {
            guard let state = try ledger.state(of: document) else {
                throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger; `publish` it first")
            }
            text = state.text
        }
        try record(event.newEvent(document: document, change: .restore(text: text)), in: ledger, json: json)
    }
}
