import ArgumentParser
import Foundation
import Palimpsest

struct Retract: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retract", abstract: "Record that a document was withdrawn (its text and history stay).")

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @OptionGroup var event: EventOptions
    @Option(help: "Why the document was withdrawn.") var reason: String
    @Option(help: ArgumentHelp("How it was withdrawn: \(RetractionKind.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "kind"))
    var kind: RetractionKind = .withdrawn
    @Flag(name: .long, help: "Print the recorded event as JSON.") var json = false

    func run() throws {
        try record(event.newEvent(document: document, change: .retract(reason: reason, kind: kind)), in: try location.open(), json: json)
    }
}
