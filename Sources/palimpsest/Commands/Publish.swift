import ArgumentParser
import Foundation
import Palimpsest

struct Publish: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "publish", abstract: "Record a document's first version.")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID (1–1024 bytes, no control characters; often a URL or path).")
    var document: String
    @OptionGroup var event: EventOptions
    @Option(name: .customLong("text-file"), help: ArgumentHelp("Read the text from this file (default: standard input).", valueName: "file"))
    var textFile: String?
    @Option(help: "The document's title.") var title: String?
    @Option(help: "The document's language (e.g. en, es-MX).") var language: String?
    @Option(name: .customLong("variant-of"), help: ArgumentHelp("Another document this one is a version of (a translation, another publisher's copy).", valueName: "doc"))
    var variantOf: String?
    @Flag(name: .long, help: "Print the recorded event as JSON.") var json = false

    func run() throws {
        let text = try readText(from: textFile)
        try record(event.newEvent(document: document, change: .publish(text: text, title: title, language: language, variantOf: variantOf)), in: try location.open(), json: json)
    }
}
