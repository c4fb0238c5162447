import Foundation

/// The stored form of a recorded event (value of the `log` database, keyed by position).
enum EventRecord {
    /// 2 added the commitment, the text salt and the redaction fields; 1 is still read.
    static let format: UInt8 = 2

    static func encode(_ e: RecordedEvent) -> [UInt8] {
        var w = RecordWriter(capacity: 160 + e.document.utf8.count + e.actor.utf8.count)
        w.byte(format)
        w.byte(typeCode(e.type))
        withUnsafeBytes(of: e.eventID.uuid) { w.bytes.append(contentsOf: $0) }
        w.string(e.document)
        w.varint(e.version)
        w.signed(e.at.milliseconds)
        w.signed(e.recordedAt.milliseconds)
        w.string(e.actor)
        w.optionalString(e.source)
        w.optionalString(e.message)
        w.varint(UInt64(e.metadata.count))
        for key in e.metadata.keys.sorted() {
            w.string(key)
            w.string(e.metadata[key]!)
        }
        w.optionalDigest(e.contentHash)
        w.digest(e.previousHash)
        w.digest(e.hash)
        w.optionalString(e.title)
        w.optionalString(e.language)
        w.optionalString(e.variantOf)
        w.optionalString(e.reason)
        w.optionalString(e.kind?.rawValue)
        w.optionalDigest(e.commitment)
        if let salt = e.textSalt {
            w.byte(1)
            w.raw(salt)
        } else {
            w.byte(0)
        }
        w.optionalString(e.authority)
        w.varint(UInt64(e.redacts.count))
        for r in e.redacts {
            w.varint(r.position)
            w.varint(r.version)
            w.varint(UInt64(r.tokens.count))
            for t in r.tokens {
                w.varint(UInt64(t.lowerBound))
                w.varint(UInt64(t.upperBound))
            }
            w.varint(UInt64(r.segments.count))
            for segment in r.segments { w.varint(UInt64(segment)) }
        }
        w.varint(e.redactedBy ?? 0)
        let parts = e.textProof?.parts ?? []
        w.varint(UInt64(parts.count))
        for part in parts {
            switch part {
            case .kept(let bytes, let salt):
                w.byte(0)
                w.varint(UInt64(bytes))
                w.raw(salt)
            case .withheld(let hash, let marker):
                w.byte(1)
                w.digest(hash)
                w.varint(UInt64(marker))
            }
        }
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, position: UInt64) throws(LedgerError) -> RecordedEvent {
        do {
            var r = RecordReader(bytes)
            let recordFormat = try r.byte()
            guard recordFormat == format || recordFormat == 1 else { throw RecordReader.Damaged() }
            guard let type = typeFromCode(try r.byte()) else { throw RecordReader.Damaged() }
            let idBytes = try r.raw(16)
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &uuid) { $0.copyMemory(from: idBytes) }
            let document = try r.string()
            let version = try r.varint()
            let at = Timestamp(milliseconds: try r.signed())
            let recordedAt = Timestamp(milliseconds: try r.signed())
            let actor = try r.string()
            let source = try r.optionalString()
            let message = try r.optionalString()
            var metadata: [String: String] = [:]
            let count = try r.varint()
            guard count < 1 << 20 else { throw RecordReader.Damaged() }
            for _ in 0..<count { metadata[try r.string()] = try r.string() }
            let contentHash = try r.optionalDigest()
            let previousHash = try r.digest()
            let hash = try r.digest()
            let title = try r.optionalString()
            let language = try r.optionalString()
            let variantOf = try r.optionalString()
            let reason = try r.optionalString()
            let kind = try r.optionalString().map { (k: String) throws(RecordReader.Damaged) -> RetractionKind in
                guard let kind = RetractionKind(rawValue: k) else { throw RecordReader.Damaged() }
                return kind
            }
            var commitment: Digest? = nil
            var salt: [UInt8]? = nil
            var authority: String? = nil
            var redacts: [RedactedText] = []
            var redactedBy: UInt64? = nil
            var textProof: PartialTextProof? = nil
            if recordFormat >= 2 {
                commitment = try r.optionalDigest()
                if try r.byte() == 1 { salt = Array(try r.raw(TextCommitment.saltBytes)) }
                authority = try r.optionalString()
                let count = try r.varint()
                guard count < 1 << 24 else { throw RecordReader.Damaged() }
                for _ in 0..<count {
                    var redacted = RedactedText(position: try r.varint(), version: try r.varint())
                    let tokenCount = try r.varint()
                    guard tokenCount < 1 << 24 else { throw RecordReader.Damaged() }
                    for _ in 0..<tokenCount {
                        let lower = Int(try r.varint()), upper = Int(try r.varint())
                        guard lower <= upper else { throw RecordReader.Damaged() }
                        redacted.tokens.append(lower..<upper)
                    }
                    let segmentCount = try r.varint()
                    guard segmentCount < 1 << 24 else { throw RecordReader.Damaged() }
                    for _ in 0..<segmentCount { redacted.segments.append(Int(try r.varint())) }
                    redacts.append(redacted)
                }
                let by = try r.varint()
                if by > 0 { redactedBy = by }
                let partCount = try r.varint()
                guard partCount < 1 << 26 else { throw RecordReader.Damaged() }
                if partCount > 0 {
                    var parts: [PartialTextProof.Part] = []
                    parts.reserveCapacity(Int(partCount))
                    for _ in 0..<partCount {
                        if try r.byte() == 0 {
                            parts.append(.kept(bytes: Int(try r.varint()), salt: Array(try r.raw(TextCommitment.saltBytes))))
                        } else {
                            parts.append(.withheld(leafHash: try r.digest(), markerBytes: Int(try r.varint())))
                        }
                    }
                    textProof = PartialTextProof(parts: parts)
                }
            }
            guard r.isAtEnd else { throw RecordReader.Damaged() }
            return RecordedEvent(
                position: position, eventID: UUID(uuid: uuid), document: document, version: version, type: type,
                at: at, recordedAt: recordedAt, actor: actor, source: source, message: message, metadata: metadata,
                contentHash: contentHash, commitment: commitment, textSalt: salt, authority: authority, redacts: redacts,
                redactedBy: redactedBy, textProof: textProof,
                previousHash: previousHash, hash: hash, title: title, language: language,
                variantOf: variantOf, reason: reason, kind: kind)
        } catch {
            throw LedgerError(.integrity, "the stored event at position \(position) is damaged and cannot be read")
        }
    }

    static func typeCode(_ t: EventType) -> UInt8 {
        switch t {
        case .published: 1
        case .edited: 2
        case .retracted: 3
        case .restored: 4
        case .redacted: 5
        }
    }

    static func typeFromCode(_ c: UInt8) -> EventType? {
        switch c {
        case 1: .published
        case 2: .edited
        case 3: .retracted
        case 4: .restored
        case 5: .redacted
        default: nil
        }
    }
}

/// Whether a document is live or withdrawn.
public enum DocumentStatus: String, Sendable {
    case active, retracted
}

/// The catalogue's entry for one document: where its stream stands now.
public struct DocumentInfo: Sendable, Equatable {
    public var id: String
    /// Internal key: document IDs are interned to 8 bytes (LMDB keys are at most 511 bytes).
    var key: UInt64
    /// The latest version (the number of events).
    public var version: UInt64
    public var status: DocumentStatus
    public var firstPosition: UInt64
    public var lastPosition: UInt64
    public var createdAt: Timestamp
    /// Effective time of the latest event.
    public var lastAt: Timestamp
    public var lastActor: String
    public var title: String?
    public var language: String?
    public var variantOf: String?
    /// Hash of the latest text (kept through a retraction: the text the document had when withdrawn).
    public var contentHash: Digest?
    /// Byte length of the latest text.
    public var textLength: UInt64
    /// Whether effective times never went backwards in this document (lets as-of-time reads bisect).
    public var effectiveTimesAreMonotonic: Bool
    /// Events whose effective time is earlier than the previous event's.
    public var backdatedEvents: UInt64

    static let format: UInt8 = 1

    func encode() -> [UInt8] {
        var w = RecordWriter()
        w.byte(Self.format)
        w.string(id)
        w.varint(version)
        w.byte(status == .active ? 0 : 1)
        w.varint(firstPosition)
        w.varint(lastPosition)
        w.signed(createdAt.milliseconds)
        w.signed(lastAt.milliseconds)
        w.string(lastActor)
        w.optionalString(title)
        w.optionalString(language)
        w.optionalString(variantOf)
        w.optionalDigest(contentHash)
        w.varint(textLength)
        w.byte(effectiveTimesAreMonotonic ? 1 : 0)
        w.varint(backdatedEvents)
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, key: UInt64) throws(LedgerError) -> DocumentInfo {
        do {
            var r = RecordReader(bytes)
            guard try r.byte() == format else { throw RecordReader.Damaged() }
            let info = DocumentInfo(
                id: try r.string(), key: key, version: try r.varint(),
                status: try r.byte() == 0 ? .active : .retracted, firstPosition: try r.varint(),
                lastPosition: try r.varint(), createdAt: Timestamp(milliseconds: try r.signed()),
                lastAt: Timestamp(milliseconds: try r.signed()), lastActor: try r.string(),
                title: try r.optionalString(), language: try r.optionalString(), variantOf: try r.optionalString(),
                contentHash: try r.optionalDigest(), textLength: try r.varint(),
                effectiveTimesAreMonotonic: try r.byte() == 1, backdatedEvents: try r.varint())
            guard r.isAtEnd else { throw RecordReader.Damaged() }
            return info
        } catch {
            throw LedgerError(.integrity, "the catalogue entry for document key \(key) is damaged and cannot be read")
        }
    }
}

extension DocumentInfo {
    /// The catalogue entry a document's first event makes.
    init(first event: RecordedEvent, key: UInt64, textLength: UInt64) {
        self.init(
            id: event.document, key: key, version: event.version, status: .active, firstPosition: event.position,
            lastPosition: event.position, createdAt: event.at, lastAt: event.at, lastActor: event.actor, title: event.title,
            language: event.language, variantOf: event.variantOf, contentHash: event.contentHash, textLength: textLength,
            effectiveTimesAreMonotonic: true, backdatedEvents: 0)
    }

    /// The entry after one more event of the document. The same rule serves the append path and a
    /// rebuild from the log, so the two cannot drift apart.
    mutating func record(_ event: RecordedEvent, textLength: UInt64) {
        if event.at < lastAt {
            effectiveTimesAreMonotonic = false
            backdatedEvents += 1
        }
        version = event.version
        lastPosition = event.position
        lastAt = event.at
        lastActor = event.actor
        if event.type == .retracted {
            status = .retracted
        } else {
            status = .active
            contentHash = event.contentHash
            self.textLength = textLength
        }
    }
}

/// One entry of a document's stream (`streams` database, key = document key ‖ version): enough to
/// answer "which position, when, and which text" for a version without reading the log.
struct StreamEntry: Equatable {
    var position: UInt64
    var at: Timestamp
    /// The text as of this version: the event's own, or for a retraction the text withdrawn.
    var textHash: Digest?
    var type: EventType

    static func key(document: UInt64, version: UInt64) -> [UInt8] {
        var k = [UInt8]()
        k.reserveCapacity(16)
        withUnsafeBytes(of: document.bigEndian) { k.append(contentsOf: $0) }
        withUnsafeBytes(of: version.bigEndian) { k.append(contentsOf: $0) }
        return k
    }

    func encode() -> [UInt8] {
        var w = RecordWriter(capacity: 52)
        withUnsafeBytes(of: position.bigEndian) { w.bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: at.milliseconds.bigEndian) { w.bytes.append(contentsOf: $0) }
        w.byte(EventRecord.typeCode(type))
        w.optionalDigest(textHash)
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(LedgerError) -> StreamEntry {
        do {
            var r = RecordReader(bytes)
            let position = UInt64(bigEndian: try r.raw(8).loadUnaligned(as: UInt64.self))
            let at = Int64(bigEndian: try r.raw(8).loadUnaligned(as: Int64.self))
            guard let type = EventRecord.typeFromCode(try r.byte()) else { throw RecordReader.Damaged() }
            let hash = try r.optionalDigest()
            return StreamEntry(position: position, at: Timestamp(milliseconds: at), textHash: hash, type: type)
        } catch {
            throw LedgerError(.integrity, "a document stream entry is damaged and cannot be read")
        }
    }
}
