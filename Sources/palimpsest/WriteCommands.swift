import ArgumentParser
import Foundation
import Palimpsest

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a ledger (idempotent: an existing ledger is left as it is).")

    @OptionGroup var location: LedgerOptions
    @Option(help: ArgumentHelp("The log's origin: the first line of its checkpoints as signed notes, and its key's name (default: palimpsest/LEDGER-ID).", valueName: "origin"))
    var origin: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let origin, !SignedNote.isValidKeyName(origin) {
            throw ValidationError("--origin \"\(origin)\" must be non-empty, at most 255 bytes, without spaces or \"+\"")
        }
    }

    func run() throws {
        let existed = FileManager.default.fileExists(atPath: (location.path as NSString).appendingPathComponent("data.mdb"))
        let ledger = try Ledger.create(at: location.path, options: location.options)
        if let origin { try ledger.setOrigin(origin) }
        let head = try ledger.head()
        let key = try ledger.publicKey().map(Hex.encode)
        if output.json {
            printJSON([
                "ledger": .string(location.path), "ledgerId": .string(ledger.id.uuidString.lowercased()), "created": .bool(!existed),
                "events": .int(Int64(head.position)), "publicKey": .optional(key),
            ])
        } else if existed {
            print("Ledger \(location.path) already exists (id \(ledger.id.uuidString.lowercased()), \(head.position) events).")
        } else {
            print("Created ledger \(location.path) (id \(ledger.id.uuidString.lowercased())); checkpoints are signed with the Ed25519 key \(key ?? "?").")
        }
    }
}

/// Records one event and reports it.
func record(_ event: NewEvent, in ledger: Ledger, json: Bool) throws {
    let result = try ledger.append(event)
    let e = result.event
    if json {
        printJSON(["recorded": .bool(!result.wasAlreadyRecorded), "event": e.json()])
    } else if result.wasAlreadyRecorded {
        print("Already recorded: \(e.document) version \(e.version) at position \(e.position) (event \(e.eventID.uuidString.lowercased())); nothing written.")
    } else {
        print("Recorded \(e.document) version \(e.version) (\(e.type.rawValue)) at position \(e.position), hash \(e.hash.hex.prefix(16))…")
    }
}

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

extension RetractionKind: ExpressibleByArgument {}

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
