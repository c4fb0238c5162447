import ArgumentParser
import Foundation
import Palimpsest

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit", abstract: "Record a new full text of a document (the ledger derives what changed).")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @OptionGroup var event: EventOptions
    @Option(name: .customLong("text-file"), help: ArgumentHelp("Read the new text from this file (default: standard input).", valueName: "file"))
    var textFile: String?
    @Flag(name: .long, help: "Print the recorded event as JSON.") var json = false

    func run() throws {
        let text = try readText(from: textFile)
        try record(event.newEvent(document: document, change: .edit(text: text)), in: try location.open(), json: json)
    }
}

