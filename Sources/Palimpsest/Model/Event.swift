import Foundation

/// The four things that can happen to a document (DESIGN.md §3).
public enum EventType: String, Sendable, CaseIterable, Codable {
    case published, edited, retracted, restored

    /// Whether the event carries a full text (all but retractions).
    public var carriesText: Bool { self != .retracted }
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
    /// SHA-256 of the full text after the event; nil for retractions.
    public var contentHash: Digest?
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
        if let contentHash { o["contentHash"] = .string(contentHash.hex) }
        if let title { o["title"] = .string(title) }
        if let language { o["language"] = .string(language) }
        if let variantOf { o["variantOf"] = .string(variantOf) }
        if let reason { o["reason"] = .string(reason) }
        if let kind { o["kind"] = .string(kind.rawValue) }
        if includingHash { o["hash"] = .string(hash.hex) }
        if let text { o["text"] = .string(text) }
        return .object(o)
    }

    /// SHA-256 of the RFC 8785 canonical JSON of the event without `hash` (and without text).
    public func computeHash() -> Digest {
        Digest.sha256(CanonicalJSON.encode(json(includingHash: false)))
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
