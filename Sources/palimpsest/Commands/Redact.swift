import ArgumentParser
import Foundation
import Palimpsest

struct Redact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redact",
        abstract: "Withhold a version's text, or a phrase in it, for good: every hash, proof and checkpoint still verifies.",
        discussion: """
            Appends a `redacted` event (hash-chained and signed like any other) naming the versions and \
            word spans withheld, the reason and the authority — never the words. The document's version \
            and current text stay what they were; the withheld words read as "[redacted by event #P: reason]" \
            in every command's output. With --phrase, the sentences or lines holding the phrase are withheld \
            (the unit a text's commitment can withhold), the rest stays readable and checkable.
            Only texts can be redacted: the document ID, actor, title, message, source, metadata and reason \
            are hashed into the events themselves and can never be.
            LMDB reuses freed pages without wiping them: run `palimpsest compact` (or pass --compact) so that \
            the withheld bytes leave the data file. Copies made before (exports, reports, backups) keep them.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    // Named `version` so that ArgumentParser's own --version (the program's) does not take it.
    @Option(help: ArgumentHelp("A version whose text to withhold (repeat for several).", valueName: "n"))
    var version: [UInt64] = []
    @Flag(name: .customLong("all-versions"), help: "Every version of the document.") var allVersions = false
    @Option(help: "Withhold only the sentences or lines holding this phrase.") var phrase: String?
    @Flag(name: .customLong("ignore-case"), help: "Match the phrase ignoring case.") var ignoreCase = false
    // Required, but checked in `validate()`: when a required option is missing, ArgumentParser
    // answers a --version anywhere on the line (this command's) with the program's version.
    @Option(help: "Why (required; recorded in the event and shown where the text was; it must not repeat the words).") var reason: String?
    @Option(help: ArgumentHelp("Who is redacting (required).", valueName: "name")) var actor: String?
    @Option(help: ArgumentHelp("Who ordered it (a court, an officer, a request's reference).", valueName: "text")) var authority: String?
    @Option(help: ArgumentHelp("When the redaction took effect (ISO 8601; default: now).", valueName: "time")) var at: String?
    @Option(name: .customLong("event-id"), help: ArgumentHelp("A UUID for the event: recording the same ID again is a no-op.", valueName: "uuid"))
    var eventID: String?
    @Flag(help: "Compact the ledger afterwards, so the withheld bytes leave the data file.") var compact = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func validate() throws {
        if version.isEmpty == !allVersions {
            throw ValidationError("name the versions to redact: --version N (repeatable) or --all-versions, not both")
        }
        guard let reason else { throw ValidationError("a redaction needs --reason: why the text is withheld (a court order, an erasure request)") }
        if reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--reason may not be empty") }
        guard actor != nil else { throw ValidationError("a redaction needs --actor: who is redacting") }
        if let at { _ = try parseTime(at, option: "--at") }
        if let eventID, UUID(uuidString: eventID) == nil { throw ValidationError("--event-id \"\(eventID)\" is not a UUID") }
    }

    func run() throws {
        let request = Redaction(
            document: document, scope: allVersions ? .allVersions : .versions(version), phrase: phrase,
            ignoringCase: ignoreCase, reason: reason ?? "", actor: actor ?? "", authority: authority,
            at: try at.map { try parseTime($0, option: "--at") } ?? .now(), eventID: eventID.flatMap(UUID.init(uuidString:)))
        // The ledger is closed before compacting: compaction needs it to itself.
        let result: RedactionResult = try {
            let ledger = try location.open()
            let result = try ledger.redact(request)
            // The provenance and phrase index start again from the texts as they now read.
            try ledger.waitForProjections()
            return result
        }()
        var compaction: CompactionResult? = nil
        if compact, result.event != nil { compaction = try Ledger.compact(at: location.path, options: location.options) }
        if json {
            printJSON([
                "recorded": .bool(result.event != nil && !result.wasAlreadyRecorded),
                "event": result.event?.json() ?? .null,
                "alreadyRedacted": .array(result.alreadyRedacted.map { .int(Int64($0)) }),
                "compacted": .bool(compaction != nil),
            ])
            return
        }
        guard let event = result.event else {
            print("Nothing to do: the text\(request.phrase == nil ? "" : "s") of version\(result.alreadyRedacted.count == 1 ? "" : "s") \(result.alreadyRedacted.map(String.init).joined(separator: ", ")) of \(document) \(result.alreadyRedacted.count == 1 ? "was" : "were") already redacted; nothing was written.")
            return
        }
        if result.wasAlreadyRecorded {
            print("Already recorded: the redaction at position \(event.position) (event \(event.eventID.uuidString.lowercased())); nothing written.")
            return
        }
        let whole = event.redacts.filter(\.isWhole).map(\.version)
        let partial = event.redacts.filter { !$0.isWhole }
        var said: [String] = []
        if !whole.isEmpty { said.append("the whole text of version\(whole.count == 1 ? "" : "s") \(whole.map(String.init).joined(separator: ", "))") }
        if !partial.isEmpty {
            let spans = partial.reduce(0) { $0 + $1.tokens.count }
            said.append("\(spans) occurrence\(spans == 1 ? "" : "s") of the phrase in version\(partial.count == 1 ? "" : "s") \(partial.map { String($0.version) }.joined(separator: ", ")) (\(partial.reduce(0) { $0 + $1.segments.count }) sentence\(partial.reduce(0) { $0 + $1.segments.count } == 1 ? "" : "s") or line\(partial.reduce(0) { $0 + $1.segments.count } == 1 ? "" : "s") withheld)")
        }
        print("Redacted \(said.joined(separator: " and ")) of \(document): event #\(event.position), hash \(event.hash.hex.prefix(16))…. Every earlier hash, proof and checkpoint still verifies.")
        if !result.alreadyRedacted.isEmpty {
            print("Version\(result.alreadyRedacted.count == 1 ? "" : "s") \(result.alreadyRedacted.map(String.init).joined(separator: ", ")) had been redacted already.")
        }
        if let compaction {
            print("Compacted the ledger: \(compaction.bytesBefore) → \(compaction.bytesAfter) bytes; the withheld bytes are gone from its files.")
        } else {
            print("The withheld bytes may still lie in freed pages of the data file: run `palimpsest compact` while no other process has the ledger open.")
        }
    }
}
