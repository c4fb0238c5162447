import Foundation

/// The four things that can happen to a document (DESIGN.md §3), and the redaction of some of its
/// texts (§13), which is not a change of the document: its version and current text stay.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case published, edited, retracted, restored, redacted

    /// Whether the event carries a full text (publications, edits and restorations).
    public var carriesText: Bool { self != .retracted && self != .redacted }
    /// Whether the event is a step of the document's own stream (all but redactions).
    public var isDocumentChange: Bool { self != .redacted }
}

/// One text a redaction event withholds, whole or in part.
public struct RedactedText: Sendable, Equatable {
    /// The event that carried the text.
    public var position: UInt64
    /// The document's version that event made.
    public var version: UInt64
    /// The occurrences of the withheld phrase, as word-token ranges of the original text (half-open,
    /// counted from 0, as the tokenizer counts words); empty when the whole text is withheld.
    public var tokens: [Range<Int>]
    /// The commitment segments withheld (`TextCommitment`); empty when the whole text is withheld.
    public var segments: [Int]

    public var isWhole: Bool { segments.isEmpty }

    public init(position: UInt64, version: UInt64, tokens: [Range<Int>] = [], segments: [Int] = []) {
        self.position = position
        self.version = version
        self.tokens = tokens
        self.segments = segments
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["position": .int(Int64(position)), "version": .int(Int64(version))]
        if !isWhole {
            o["tokens"] = .array(tokens.map { .array([.int(Int64($0.lowerBound)), .int(Int64($0.upperBound))]) })
            o["segments"] = .array(segments.map { .int(Int64($0)) })
        }
        return .object(o)
    }
}

/// Why a document was retracted.
public enum RetractionKind: String, Sendable, CaseIterable {
    case withdrawn, deleted
    case notFound = "not-found"
    case takedown, other
}

/// The version a writer expects a document to be at before its event (optimistic concurrency).
public enum ExpectedVersion: Sendable, Equatable {
    /// No expectation.
    case any
    /// The document must not exist yet.
    case noStream
    /// The document must be at exactly this version.
    case exact(UInt64)
}

/// What an event changes, with the data that change carries.
public enum Change: Sendable, Equatable {
    case publish(text: String, title: String? = nil, language: String? = nil, variantOf: String? = nil)
    case edit(text: String)
    case retract(reason: String?, kind: RetractionKind = .withdrawn)
    case restore(text: String)

    public var type: EventType {
        switch self {
        case .publish: .published
        case .edit: .edited
        case .retract: .retracted
        case .restore: .restored
        }
    }

    public var text: String? {
        switch self {
        case .publish(let text, _, _, _), .edit(let text), .restore(let text): text
        case .retract: nil
        }
    }
}

/// An event to append: what the writer knows. The ledger adds position, version, recorded time and
/// hashes, and returns a `RecordedEvent`.
public struct NewEvent: Sendable, Equatable {
    public var document: String
    public var change: Change
    /// When the change took effect in the world.
    public var at: Timestamp
    public var actor: String
    public var source: String?
    public var message: String?
    public var metadata: [String: String]
    /// Supplying an ID makes a retry an idempotent no-op.
    public var eventID: UUID?
    public var expectedVersion: ExpectedVersion
    /// Accept an effective time earlier than the document's last event.
    public var allowBackdated: Bool
    /// The SHA-256 of `change.text`, when the caller already computed it (the importer does, on its
    /// parsing thread); the ledger then does not hash the text again.
    var knownContentHash: Digest?

    public init(
        document: String, change: Change, at: Timestamp, actor: String, source: String? = nil,
        message: String? = nil, metadata: [String: String] = [:], eventID: UUID? = nil,
        expectedVersion: ExpectedVersion = .any, allowBackdated: Bool = false
    ) {
        self.document = document
        self.change = change
        self.at = at
        self.actor = actor
        self.source = source
        self.message = message
        self.metadata = metadata
        self.eventID = eventID
        self.expectedVersion = expectedVersion
        self.allowBackdated = allowBackdated
    }
}

/// A text's salt and the commitment made with it (`TextCommitment`).
struct SaltedCommitment: Sendable, Equatable {
    var salt: [UInt8]
    var digest: Digest

    /// A new salt and the commitment to `text` under it.
    init(text: [UInt8]) {
        salt = TextCommitment.newSalt()
        digest = TextCommitment.commitment(text: text, salt: salt)
    }

    init(text: String) {
        var text = text
        self.init(text: text.withUTF8 { Array($0) })
    }
}

/// An event as the ledger recorded it: immutable, with its place in the global log and the hash chain.
public struct RecordedEvent: Sendable, Equatable {
    public static let schemaVersion: Int64 = 1

    public var position: UInt64
    public var eventID: UUID
    public var document: String
    public var version: UInt64
    public var type: EventType
    public var at: Timestamp
    public var recordedAt: Timestamp
    public var actor: String
    public var source: String?
    public var message: String?
    public var metadata: [String: String]
    /// SHA-256 of the full text after the event as the ledger holds it (for a redacted text, the text
    /// with its redaction markers); nil for retractions and redactions. Texts are read by this hash.
    public var contentHash: Digest?
    /// What the event's hash commits its text to (the `contentHash` of its JSON form), when that is
    /// not `contentHash`: a salted commitment (`TextCommitment`), or the original text's hash once the
    /// text is redacted. Nil for events of the plain recipe whose text is whole.
    public var commitment: Digest?
    /// The salt of a salted commitment; deleted with the text when the text is redacted.
    var textSalt: [UInt8]?
    /// Who ordered a redaction (a court, an officer), for redaction events.
    public var authority: String?
    /// The texts a redaction event withholds.
    public var redacts: [RedactedText] = []
    /// The position of the redaction event that withheld this event's text (whole or in part).
    public internal(set) var redactedBy: UInt64? = nil
    /// For a text redacted in part: what proves the readable rest against `commitment`.
    public internal(set) var textProof: PartialTextProof? = nil
    public var previousHash: Digest
    public var hash: Digest
    public var title: String?
    public var language: String?
    public var variantOf: String?
    public var reason: String?
    public var kind: RetractionKind?

    /// The event as JSON: the envelope plus the type's fields, optional fields omitted when absent.
    /// With `hash: false` and no text this is exactly what `hash` is computed over.
    public func json(includingHash: Bool = true, text: String? = nil) -> JSONValue {
        json(includingHash: includingHash, payload: text.map { TextPayload(text: $0) })
    }

    /// The event as an export line: with its text and what proves it (`TextPayload`).
    func json(includingHash: Bool, payload: TextPayload?) -> JSONValue {
        var o: [String: JSONValue] = [
            "schemaVersion": .int(RecordedEvent.schemaVersion),
            "position": .int(Int64(position)),
            "eventId": .string(eventID.uuidString.lowercased()),
            "document": .string(document),
            "version": .int(Int64(version)),
            "type": .string(type.rawValue),
            "at": .string(at.iso8601),
            "recordedAt": .string(recordedAt.iso8601),
            "actor": .string(actor),
            "previousHash": .string(previousHash.hex),
        ]
        if let source { o["source"] = .string(source) }
        if let message { o["message"] = .string(message) }
        if !metadata.isEmpty { o["metadata"] = .object(metadata.mapValues(JSONValue.string)) }
        if let committed = commitment ?? contentHash { o["contentHash"] = .string(committed.hex) }
        if let title { o["title"] = .string(title) }
        if let language { o["language"] = .string(language) }
        if let variantOf { o["variantOf"] = .string(variantOf) }
        if let reason { o["reason"] = .string(reason) }
        if let kind { o["kind"] = .string(kind.rawValue) }
        if let authority { o["authority"] = .string(authority) }
        if type == .redacted { o["redacts"] = .array(redacts.map(\.json)) }
        if includingHash { o["hash"] = .string(hash.hex) }
        if let payload {
            o["text"] = .string(payload.text)
            if let salt = payload.salt { o["textSalt"] = .string(Hex.encode(salt)) }
            if let proof = payload.proof { o["textProof"] = proof }
        }
        return .object(o)
    }

    /// SHA-256 of the RFC 8785 canonical JSON of the event without `hash` (and without text).
    public func computeHash() -> Digest {
        Digest.sha256(CanonicalJSON.encode(json(includingHash: false)))
    }
}

/// An export line's payload: the text as the ledger holds it, and what checks it against the event's
/// `contentHash` — the salt of a salted commitment, or for a redacted text `textProof`
/// (`{"redactedBy": P}`, plus `"parts"` when only some segments are withheld).
struct TextPayload {
    var text: String
    var salt: [UInt8]? = nil
    var proof: JSONValue? = nil
}

extension RecordedEvent {
    /// What the event's hash commits its text to: `contentHash` in its JSON.
    public var committedHash: Digest? { commitment ?? contentHash }

    /// The payload of this event's export line, given its text as the ledger holds it.
    func exportPayload(text: String) -> TextPayload {
        TextPayload(text: text, salt: textSalt, proof: textProofJSON)
    }

    /// A redacted text's `textProof` as export lines and reports give it, or nil.
    var textProofJSON: JSONValue? {
        guard let redactedBy else { return nil }
        var proof: [String: JSONValue] = ["redactedBy": .int(Int64(redactedBy))]
        if let textProof { proof["parts"] = textProof.json }
        return .object(proof)
    }
}

/// Document IDs: 1–1024 bytes of UTF-8 with no control characters (DESIGN.md §2).
public enum DocumentID {
    public static let maxBytes = 1024

    /// Nil when `id` is acceptable; otherwise the sentence saying what is wrong with it.
    public static func problem(with id: String) -> String? {
        let count = id.utf8.count
        if count == 0 { return "a document ID may not be empty" }
        if count > maxBytes { return "the document ID is \(count) bytes long; the limit is \(maxBytes)" }
        // Printable ASCII, the usual case (paths, URLs), needs no Unicode property lookups.
        if id.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return nil }
        if let bad = id.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            return "the document ID \(quoted(id)) contains the control character U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(4))"
        }
        return nil
    }

    /// The ID in quotes, shortened and with control characters shown as escapes, for messages.
    static func quoted(_ id: String) -> String {
        var shown = ""
        for scalar in id.unicodeScalars.prefix(80) {
            if scalar.properties.generalCategory == .control {
                shown += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        if id.unicodeScalars.count > 80 { shown += "…" }
        return "\"\(shown)\""
    }
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
