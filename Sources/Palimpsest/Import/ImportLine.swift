import Foundation

/// One line of a JSON Lines import, decoded: either a command in the neutral import format
/// (DESIGN.md §8: `{"type":"publish",…}`) or an event another ledger recorded (an `export` line).
enum ImportLine: Sendable {
    case command(NewEvent)
    case recorded(RecordedEvent, text: String?)

    static let commandKeys: Set<String> = [
        "type", "doc", "at", "actor", "text", "source", "message", "id", "title", "language", "reason", "kind",
        "variantOf", "metadata", "expectedVersion",
    ]
    static let recordedKeys: Set<String> = [
        "schemaVersion", "position", "eventId", "document", "version", "type", "at", "recordedAt", "actor", "source",
        "message", "metadata", "contentHash", "previousHash", "hash", "title", "language", "variantOf", "reason",
        "kind", "text", "textSalt", "textProof", "authority", "redacts",
    ]

    /// Decodes a parsed line. Errors are one sentence without the line number (the caller adds it).
    static func decode(_ value: JSONValue) throws(LedgerError) -> ImportLine {
        guard case .object(let o) = value else {
            throw LedgerError(.invalidInput, "the line is \(value.typeName), not a JSON object")
        }
        if o["hash"] != nil || o["position"] != nil { return try decodeRecorded(o) }
        return .command(try decodeCommand(o, line: value))
    }

    private static func decodeCommand(_ o: [String: JSONValue], line: JSONValue) throws(LedgerError) -> NewEvent {
        if let unknown = o.keys.filter({ !commandKeys.contains($0) }).sorted().first {
            throw LedgerError(.invalidInput, "unknown field \"\(unknown)\" (the import format's fields are \(commandKeys.sorted().joined(separator: ", ")))")
        }
        let f = Fields(o)
        let type = try f.required("type")
        let document = try f.required("doc")
        let at = try f.time("at")
        let actor = try f.required("actor")
        let change: Change
        switch type {
        case "publish":
            change = .publish(text: try f.required("text"), title: try f.optional("title"), language: try f.optional("language"), variantOf: try f.optional("variantOf"))
        case "edit": change = .edit(text: try f.required("text"))
        case "restore": change = .restore(text: try f.required("text"))
        case "retract":
            change = .retract(reason: try f.optional("reason"), kind: try f.kind() ?? .withdrawn)
        default:
            throw LedgerError(.invalidInput, "\"type\" is \"\(type)\"; it must be publish, edit, retract or restore")
        }
        for key in ["title", "language", "variantOf"] where type != "publish" && o[key] != nil && o[key] != .null {
            throw LedgerError(.invalidInput, "\"\(key)\" is only allowed on publish lines")
        }
        for key in ["reason", "kind"] where type != "retract" && o[key] != nil && o[key] != .null {
            throw LedgerError(.invalidInput, "\"\(key)\" is only allowed on retract lines")
        }
        if type == "retract", o["text"] != nil, o["text"] != .null {
            throw LedgerError(.invalidInput, "a retract line carries no \"text\"")
        }
        let textHash = change.text.map { Digest.sha256($0) }
        var eventID: UUID
        if let id = try f.optional("id") {
            guard let uuid = UUID(uuidString: id) else { throw LedgerError(.invalidInput, "\"id\" is not a UUID: \"\(id)\"") }
            eventID = uuid
        } else {
            eventID = stableID(for: line, textHash: textHash)
        }
        var expected = ExpectedVersion.any
        if let v = o["expectedVersion"], v != .null {
            guard case .int(let n) = v, n >= 0 else {
                throw LedgerError(.invalidInput, "\"expectedVersion\" must be a non-negative integer, not \(v.typeName)")
            }
            expected = n == 0 ? .noStream : .exact(UInt64(n))
        }
        var event = NewEvent(
            document: document, change: change, at: at, actor: actor, source: try f.optional("source"),
            message: try f.optional("message"), metadata: try f.metadata(), eventID: eventID,
            expectedVersion: expected, allowBackdated: true)
        event.knownContentHash = textHash
        return event
    }

    private static func decodeRecorded(_ o: [String: JSONValue]) throws(LedgerError) -> ImportLine {
        if let unknown = o.keys.filter({ !recordedKeys.contains($0) }).sorted().first {
            throw LedgerError(.invalidInput, "unknown field \"\(unknown)\" in an exported event")
        }
        let f = Fields(o)
        let schema = try f.integer("schemaVersion")
        guard schema <= RecordedEvent.schemaVersion, schema >= 1 else {
            throw LedgerError(.invalidInput, "the event has schemaVersion \(schema); this build reads up to \(RecordedEvent.schemaVersion)")
        }
        let typeName = try f.required("type")
        guard let type = EventType(rawValue: typeName) else {
            throw LedgerError(.invalidInput, "\"type\" is \"\(typeName)\"; an exported event is published, edited, retracted, restored or redacted")
        }
        let idText = try f.required("eventId")
        guard let eventID = UUID(uuidString: idText) else { throw LedgerError(.invalidInput, "\"eventId\" is not a UUID: \"\(idText)\"") }
        let text = try f.optional("text")
        if type.carriesText, text == nil { throw LedgerError(.invalidInput, "the \(type.rawValue) event has no \"text\"") }
        if !type.carriesText, text != nil { throw LedgerError(.invalidInput, "a \(type.rawValue) event carries no \"text\"") }
        var event = RecordedEvent(
            position: UInt64(try f.positive("position")), eventID: eventID, document: try f.required("document"),
            version: UInt64(try f.positive("version")), type: type, at: try f.time("at"),
            recordedAt: try f.time("recordedAt"), actor: try f.required("actor"), source: try f.optional("source"),
            message: try f.optional("message"), metadata: try f.metadata(), contentHash: try f.digest("contentHash"),
            previousHash: try f.digest("previousHash") ?? .zero, hash: try f.digest("hash") ?? .zero,
            title: try f.optional("title"), language: try f.optional("language"), variantOf: try f.optional("variantOf"),
            reason: try f.optional("reason"), kind: try f.kind())
        if let salt = try f.optional("textSalt") {
            guard type.carriesText, let bytes = Hex.decode(salt), bytes.count == TextCommitment.saltBytes else {
                throw LedgerError(.invalidInput, "\"textSalt\" must be \(2 * TextCommitment.saltBytes) lowercase hex digits, on an event that carries text")
            }
            event.textSalt = bytes
        }
        if let proof = o["textProof"], proof != .null {
            guard type.carriesText, event.textSalt == nil, case .object(let p) = proof, case .int(let by)? = p["redactedBy"], by >= 1,
                p.keys.allSatisfy({ $0 == "redactedBy" || $0 == "parts" })
            else {
                throw LedgerError(.invalidInput, "\"textProof\" must be {\"redactedBy\": position} with optional \"parts\", on an event that carries text and has no \"textSalt\"")
            }
            event.redactedBy = UInt64(by)
            if let parts = p["parts"] {
                switch PartialTextProof.decode(parts) {
                case .success(let decoded): event.textProof = decoded
                case .failure(let error): throw error
                }
            }
        }
        if type == .redacted {
            event.authority = try f.optional("authority")
            event.redacts = try f.redacts()
        } else if o["redacts"] != nil || o["authority"] != nil {
            throw LedgerError(.invalidInput, "\"redacts\" and \"authority\" belong to redacted events only")
        }
        guard o["previousHash"] != nil, o["hash"] != nil else {
            throw LedgerError(.invalidInput, "an exported event needs both \"previousHash\" and \"hash\"")
        }
        return .recorded(event, text: text)
    }

    /// An event ID derived from the line's content, so that importing the same file again recognises
    /// every line whatever its formatting: a UUID (version 8) made of the first 16 bytes of SHA-256 over
    /// the canonical JSON of the line without "text", a newline, and the text's SHA-256 in hex (the
    /// text's content hash, which the event needs anyway: large texts are hashed once, not twice).
    static func stableID(for line: JSONValue, textHash: Digest?) -> UUID {
        var input: [UInt8]
        if case .object(var members) = line, let textHash, members.removeValue(forKey: "text") != nil {
            input = CanonicalJSON.encode(.object(members))
            input.append(0x0A)
            input.append(contentsOf: textHash.hex.utf8)
        } else {
            input = CanonicalJSON.encode(line)
        }
        var b = Digest.sha256(input).bytes
        b[6] = (b[6] & 0x0F) | 0x80  // version 8: custom, name-based
        b[8] = (b[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}

/// Typed access to a line's fields, with one-sentence errors.
private struct Fields {
    let o: [String: JSONValue]
    init(_ o: [String: JSONValue]) { self.o = o }

    func required(_ key: String) throws(LedgerError) -> String {
        guard let v = o[key], v != .null else { throw LedgerError(.invalidInput, "the required field \"\(key)\" is missing") }
        guard case .string(let s) = v else { throw LedgerError(.invalidInput, "\"\(key)\" must be a string, not \(v.typeName)") }
        return s
    }

    func optional(_ key: String) throws(LedgerError) -> String? {
        guard let v = o[key], v != .null else { return nil }
        guard case .string(let s) = v else { throw LedgerError(.invalidInput, "\"\(key)\" must be a string, not \(v.typeName)") }
        return s
    }

    func time(_ key: String) throws(LedgerError) -> Timestamp {
        let text = try required(key)
        guard let t = Timestamp(iso8601: text) else {
            throw LedgerError(.invalidInput, "\"\(key)\" is not an ISO 8601 time with a zone: \"\(text)\"")
        }
        return t
    }

    func integer(_ key: String) throws(LedgerError) -> Int64 {
        guard let v = o[key], v != .null else { throw LedgerError(.invalidInput, "the required field \"\(key)\" is missing") }
        guard case .int(let i) = v else { throw LedgerError(.invalidInput, "\"\(key)\" must be an integer, not \(v.typeName)") }
        return i
    }

    func positive(_ key: String) throws(LedgerError) -> Int64 {
        let i = try integer(key)
        guard i >= 1 else { throw LedgerError(.invalidInput, "\"\(key)\" must be 1 or more, not \(i)") }
        return i
    }

    func digest(_ key: String) throws(LedgerError) -> Digest? {
        guard let text = try optional(key) else { return nil }
        guard let d = Digest(hex: text) else { throw LedgerError(.invalidInput, "\"\(key)\" is not 64 hex digits") }
        return d
    }

    func kind() throws(LedgerError) -> RetractionKind? {
        guard let text = try optional("kind") else { return nil }
        guard let kind = RetractionKind(rawValue: text) else {
            throw LedgerError(.invalidInput, "\"kind\" is \"\(text)\"; it must be one of \(RetractionKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    /// A redaction event's `redacts`: [{position, version, tokens?, segments?}].
    func redacts() throws(LedgerError) -> [RedactedText] {
        guard case .array(let items)? = o["redacts"], !items.isEmpty else {
            throw LedgerError(.invalidInput, "a redacted event needs \"redacts\", a non-empty array")
        }
        func integer(_ v: JSONValue?) -> Int? {
            if case .int(let i)? = v, i >= 0 { return Int(i) }
            return nil
        }
        var result: [RedactedText] = []
        for (i, item) in items.enumerated() {
            let bad = LedgerError(.invalidInput, "\"redacts\"[\(i)] must be {\"position\", \"version\"} with optional \"tokens\" ([[start, end], …]) and \"segments\" ([index, …])")
            guard case .object(let r) = item, let position = integer(r["position"]), position >= 1,
                let version = integer(r["version"]), version >= 1,
                r.keys.allSatisfy(["position", "version", "tokens", "segments"].contains)
            else { throw bad }
            var redacted = RedactedText(position: UInt64(position), version: UInt64(version))
            if let tokens = r["tokens"] {
                guard case .array(let ranges) = tokens else { throw bad }
                for range in ranges {
                    guard case .array(let pair) = range, pair.count == 2, let lower = integer(pair[0]), let upper = integer(pair[1]), lower <= upper else { throw bad }
                    redacted.tokens.append(lower..<upper)
                }
            }
            if let segments = r["segments"] {
                guard case .array(let list) = segments, !list.isEmpty else { throw bad }
                for segment in list {
                    guard let index = integer(segment) else { throw bad }
                    redacted.segments.append(index)
                }
            }
            if redacted.segments.isEmpty != redacted.tokens.isEmpty { throw bad }
            result.append(redacted)
        }
        return result
    }

    func metadata() throws(LedgerError) -> [String: String] {
        guard let v = o["metadata"], v != .null else { return [:] }
        guard case .object(let m) = v else { throw LedgerError(.invalidInput, "\"metadata\" must be an object of strings, not \(v.typeName)") }
        var result: [String: String] = [:]
        for (k, value) in m {
            guard case .string(let s) = value else {
                throw LedgerError(.invalidInput, "\"metadata\".\"\(k)\" must be a string, not \(value.typeName)")
            }
            result[k] = s
        }
        return result
    }
}

extension NewEvent {
    /// One line of the import format (DESIGN.md §8: `{"type":"publish","doc":…}`) as an event to
    /// append — what `POST /api/v1/events` takes. Lines another ledger recorded (`export` lines) are
    /// refused: they are imported whole, with `palimpsest import`.
    public init(importLine bytes: [UInt8]) throws(LedgerError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw LedgerError(.invalidInput, "the line is not valid JSON (\(error))")
        }
        switch try ImportLine.decode(value) {
        case .command(let event): self = event
        case .recorded: throw LedgerError(.invalidInput, "the line is an event another ledger recorded; send import commands ({\"type\":\"publish\",…}), or use `palimpsest import`")
        }
    }
}
