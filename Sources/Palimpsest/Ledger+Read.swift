import Foundation
import LMDB

/// Which version of a document to read.
public enum AsOf: Sendable, Equatable {
    /// The latest version.
    case latest
    /// Exactly this version (1-based).
    case version(UInt64)
    /// The latest version, in version order, whose effective time is at or before this time.
    case time(Timestamp)
    /// What the ledger knew at this time: the latest version recorded at or before it.
    case knownAt(Timestamp)
}

/// A document as of one version: its text and the event that made that version.
public struct DocumentState: Sendable, Equatable {
    public var document: String
    public var version: UInt64
    public var status: DocumentStatus
    /// The text as of this version. For a retracted version, the text the document had when it was
    /// withdrawn (history stays readable).
    public var text: String
    public var contentHash: Digest
    /// The event that made this version.
    public var event: RecordedEvent
    public var title: String?
    public var language: String?
    public var variantOf: String?
}

/// The head of the global log: the last position and the hash the next event chains to.
public struct LogHead: Sendable, Equatable {
    public var position: UInt64
    public var hash: Digest
    public var recordedAt: Timestamp
    public static let empty = LogHead(position: 0, hash: .zero, recordedAt: Timestamp(milliseconds: 0))

    /// The stored form (meta "head"): position (8) ‖ hash (32) ‖ recorded time (8), big-endian.
    var encoded: [UInt8] {
        BigEndianKey.encode(position) + hash.bytes + BigEndianKey.encode(UInt64(bitPattern: recordedAt.milliseconds))
    }
}

/// Filters for reading the log.
public struct EventFilter: Sendable {
    public var document: String?
    public var actor: String?
    /// Effective time at or after.
    public var since: Timestamp?
    /// Effective time at or before.
    public var until: Timestamp?
    public init(document: String? = nil, actor: String? = nil, since: Timestamp? = nil, until: Timestamp? = nil) {
        (self.document, self.actor, self.since, self.until) = (document, actor, since, until)
    }

    func matches(_ e: RecordedEvent) -> Bool {
        if let document, e.document != document { return false }
        if let actor, e.actor != actor { return false }
        if let since, e.at < since { return false }
        if let until, e.at > until { return false }
        return true
    }
}

extension Ledger {
    // MARK: Public reads (each in its own short read transaction)

    /// The last position, its hash and recorded time.
    public func head() throws(LedgerError) -> LogHead {
        try reading { txn in try head(in: txn) }
    }

    /// The catalogue entry of a document, or nil when the ledger has none.
    public func document(_ id: String) throws(LedgerError) -> DocumentInfo? {
        try reading { txn in try documentInfo(id, in: txn) }
    }

    /// Every document, ordered by ID.
    public func documents() throws(LedgerError) -> [DocumentInfo] {
        try reading { txn in
            var result: [DocumentInfo] = []
            try txn.scan(tables.catalogue) { key, value in
                result.append(try DocumentInfo.decode(value, key: BigEndianKey.decode(key)))
                return true
            }
            return result.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        }
    }

    /// The event at a position, or nil.
    public func event(at position: UInt64) throws(LedgerError) -> RecordedEvent? {
        try reading { txn in try event(at: position, in: txn) }
    }

    /// The event with this ID, or nil.
    public func event(id: UUID) throws(LedgerError) -> RecordedEvent? {
        try reading { txn in try event(id: id, in: txn) }
    }

    /// A document's events in version order, or nil when the document is unknown.
    public func events(of document: String) throws(LedgerError) -> [RecordedEvent]? {
        try reading { txn in
            guard let info = try documentInfo(document, in: txn) else { return nil }
            var result: [RecordedEvent] = []
            try txn.scan(tables.streams, from: StreamEntry.key(document: info.key, version: 1)) { key, value in
                guard BigEndianKey.decode(key) == info.key else { return false }
                let entry = try StreamEntry.decode(value)
                guard let e = try event(at: entry.position, in: txn) else {
                    throw LedgerError(.integrity, "version \(BigEndianKey.decode(key, at: 8)) of \(DocumentID.quoted(document)) points at position \(entry.position), which is missing")
                }
                result.append(e)
                return true
            }
            return result
        }
    }

    /// Events of the global log from `position` on, in order, that match `filter`; at most `limit`.
    /// Reads in pages of short transactions, so it can walk a log of any size.
    public func events(from position: UInt64 = 1, matching filter: EventFilter = EventFilter(), limit: Int? = nil) throws(LedgerError) -> [RecordedEvent] {
        var result: [RecordedEvent] = []
        try forEachEvent(from: position, matching: filter) { e in
            result.append(e)
            return limit.map { result.count < $0 } ?? true
        }
        return result
    }

    /// Calls `body` with each event from `position` on (matching `filter`) until it returns false.
    /// `body` runs outside any transaction: it may read or write the ledger.
    public func forEachEvent(
        from position: UInt64 = 1, matching filter: EventFilter = EventFilter(), pageSize: Int = 1024,
        _ body: (RecordedEvent) throws -> Bool
    ) throws(LedgerError) {
        var next = max(position, 1)
        while true {
            var page: [RecordedEvent] = []
            var last: UInt64 = 0
            try reading { txn in
                try txn.scan(tables.log, from: BigEndianKey.encode(next)) { key, value in
                    let pos = BigEndianKey.decode(key)
                    last = pos
                    let e = try EventRecord.decode(value, position: pos)
                    if filter.matches(e) { page.append(e) }
                    return last - next + 1 < UInt64(pageSize)
                }
            }
            for e in page {
                let keepGoing: Bool
                do { keepGoing = try body(e) } catch let error as LedgerError { throw error } catch {
                    throw LedgerError(.storage, "\(error)")
                }
                if !keepGoing { return }
            }
            if last < next { return }
            next = last + 1
        }
    }

    /// A document as of a version or a time; nil when the document is unknown or did not exist yet
    /// at that time. A version past the latest is nil too.
    public func state(of document: String, asOf: AsOf = .latest) throws(LedgerError) -> DocumentState? {
        try state(of: document, asOf: asOf, reusing: nil)
    }

    /// The same, decoding the text through `decoded` (see `TextStore.load(_:reusing:in:)`): a reader
    /// of several versions of one document then applies one delta per version, not a whole chain.
    func state(of document: String, asOf: AsOf, reusing decoded: DecodedTexts?) throws(LedgerError) -> DocumentState? {
        try reading { txn -> DocumentState? in
            guard let info = try documentInfo(document, in: txn) else { return nil }
            let version: UInt64
            switch asOf {
            case .latest: version = info.version
            case .version(let v):
                guard v >= 1, v <= info.version else { return nil }
                version = v
            case .time(let t):
                guard let v = try self.version(of: info, atTime: t, in: txn) else { return nil }
                version = v
            case .knownAt(let t):
                guard let position = try lastPosition(recordedBy: t, in: txn),
                    let v = try self.version(of: info, atPosition: position, in: txn)
                else { return nil }
                version = v
            }
            guard let entryBytes = try txn.get(tables.streams, key: StreamEntry.key(document: info.key, version: version)) else {
                throw LedgerError(.integrity, "version \(version) of \(DocumentID.quoted(document)) is missing from its stream")
            }
            let entry = try entryBytes.withUnsafeBytes { (b) throws(LedgerError) in try StreamEntry.decode(b) }
            guard let e = try event(at: entry.position, in: txn) else {
                throw LedgerError(.integrity, "version \(version) of \(DocumentID.quoted(document)) points at position \(entry.position), which is missing")
            }
            guard let hash = entry.textHash else {
                throw LedgerError(.integrity, "version \(version) of \(DocumentID.quoted(document)) has no text")
            }
            let text: [UInt8]?
            if let decoded { text = try tables.textStore.load(hash, reusing: decoded, in: txn) } else { text = try tables.textStore.load(hash, in: txn) }
            guard let bytes = text else {
                throw LedgerError(.integrity, "the text \(hash.hex) of version \(version) of \(DocumentID.quoted(document)) is missing")
            }
            return DocumentState(
                document: document, version: version, status: entry.type == .retracted ? .retracted : .active,
                text: String(decoding: bytes, as: UTF8.self), contentHash: hash, event: e, title: info.title,
                language: info.language, variantOf: info.variantOf)
        }
    }

    /// The text stored under a content hash, or nil. To read many versions in the order of their
    /// history, use a `SequentialTextReader`: each next version then costs one delta.
    public func text(hash: Digest) throws(LedgerError) -> String? {
        try reading { txn in try tables.textStore.load(hash, in: txn).map { String(decoding: $0, as: UTF8.self) } }
    }

    /// A reader for texts taken in the order a history runs (export, replay, reports).
    public func sequentialTextReader() -> SequentialTextReader { SequentialTextReader(ledger: self) }

    // MARK: Async wrappers

    public func state(of document: String, asOf: AsOf = .latest) async throws(LedgerError) -> DocumentState? {
        try await offloaded { ledger throws(LedgerError) in try ledger.state(of: document, asOf: asOf) }
    }

    public func documents() async throws(LedgerError) -> [DocumentInfo] {
        try await offloaded { ledger throws(LedgerError) in try ledger.documents() }
    }

    public func events(from position: UInt64 = 1, matching filter: EventFilter = EventFilter(), limit: Int? = nil) async throws(LedgerError) -> [RecordedEvent] {
        try await offloaded { ledger throws(LedgerError) in try ledger.events(from: position, matching: filter, limit: limit) }
    }

    // MARK: Reads inside a transaction

    func reading<R>(_ body: (borrowing ReadTransaction) throws -> R) throws(LedgerError) -> R {
        do {
            return try env.read(body)
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError.storage(error, doing: "reading the ledger at \(directory)")
        }
    }

    func head<T: Transaction & ~Copyable>(in txn: borrowing T) throws -> LogHead {
        guard let raw = try txn.get(tables.meta, key: MetaKey.head) else { return .empty }
        guard raw.count == 48 else { throw LedgerError(.integrity, "the ledger's head record is damaged") }
        return LogHead(
            position: BigEndianKey.decode(raw), hash: Digest(bytes: Array(raw[8..<40])),
            recordedAt: Timestamp(milliseconds: Int64(bitPattern: BigEndianKey.decode(raw, at: 40))))
    }

    func documentInfo<T: Transaction & ~Copyable>(_ id: String, in txn: borrowing T) throws -> DocumentInfo? {
        guard let keyRecord = try txn.get(tables.documentKeys, key: Digest.sha256(id).bytes) else { return nil }
        guard keyRecord.count >= 8, keyRecord[8...].elementsEqual(id.utf8) else {
            throw LedgerError(.integrity, "two document IDs share a SHA-256 digest, or the document index is damaged, for \(DocumentID.quoted(id))")
        }
        let key = BigEndianKey.decode(keyRecord)
        return try txn.withValue(tables.catalogue, key: BigEndianKey.encode(key)) { value in
            try DocumentInfo.decode(value, key: key)
        }
    }

    func event<T: Transaction & ~Copyable>(at position: UInt64, in txn: borrowing T) throws -> RecordedEvent? {
        try txn.withValue(tables.log, key: BigEndianKey.encode(position)) { value in
            try EventRecord.decode(value, position: position)
        }
    }

    func event<T: Transaction & ~Copyable>(id: UUID, in txn: borrowing T) throws -> RecordedEvent? {
        let idBytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        guard let raw = try txn.get(tables.eventIDs, key: idBytes), raw.count == 8 else { return nil }
        return try event(at: BigEndianKey.decode(raw), in: txn)
    }

    func streamEntry<T: Transaction & ~Copyable>(_ info: DocumentInfo, version: UInt64, in txn: borrowing T) throws -> StreamEntry? {
        try txn.withValue(tables.streams, key: StreamEntry.key(document: info.key, version: version)) { value in
            try StreamEntry.decode(value)
        }
    }

    /// A version's stream entry, which must exist.
    func stream<T: Transaction & ~Copyable>(_ info: DocumentInfo, version: UInt64, in txn: borrowing T) throws -> StreamEntry {
        guard let entry = try streamEntry(info, version: version, in: txn) else {
            throw LedgerError(.integrity, "version \(version) of \(DocumentID.quoted(info.id)) is missing from its stream")
        }
        return entry
    }

    /// The largest index in `range` for which `isAtOrBefore` holds, when it holds for a prefix of
    /// the range (a bisection: log₂ of the range's size probes).
    func lastIndex(in range: ClosedRange<UInt64>, _ isAtOrBefore: (UInt64) throws -> Bool) throws -> UInt64? {
        var low = range.lowerBound, high = range.upperBound, found: UInt64? = nil
        while low <= high {
            let mid = low + (high - low) / 2
            if try isAtOrBefore(mid) {
                found = mid
                low = mid + 1
            } else {
                if mid == range.lowerBound { break }
                high = mid - 1
            }
        }
        return found
    }

    /// The last position recorded at or before `t` (recorded times never go backwards in the log).
    func lastPosition<T: Transaction & ~Copyable>(recordedBy t: Timestamp, in txn: borrowing T) throws -> UInt64? {
        let last = try head(in: txn).position
        guard last > 0 else { return nil }
        return try lastIndex(in: 1...last) { position in
            guard let event = try event(at: position, in: txn) else {
                throw LedgerError(.integrity, "position \(position) is missing from the log")
            }
            return event.recordedAt <= t
        }
    }

    /// The latest version of a document whose event is at or before `position` in the log.
    func version<T: Transaction & ~Copyable>(of info: DocumentInfo, atPosition position: UInt64, in txn: borrowing T) throws -> UInt64? {
        try lastIndex(in: 1...info.version) { version in try stream(info, version: version, in: txn).position <= position }
    }

    /// The latest version, in version order, whose effective time is at or before `t`.
    func version<T: Transaction & ~Copyable>(of info: DocumentInfo, atTime t: Timestamp, in txn: borrowing T) throws -> UInt64? {
        if info.effectiveTimesAreMonotonic {
            // Times only grow with versions: bisect.
            return try lastIndex(in: 1...info.version) { version in try stream(info, version: version, in: txn).at <= t }
        }
        var found: UInt64? = nil
        try txn.scan(tables.streams, from: StreamEntry.key(document: info.key, version: info.version), reverse: true) { key, value in
            guard BigEndianKey.decode(key) == info.key else { return false }
            if try StreamEntry.decode(value).at <= t {
                found = BigEndianKey.decode(key, at: 8)
                return false
            }
            return true
        }
        return found
    }
}

/// Reads texts in the order a history runs. A new version is stored as a delta against an earlier
/// text, and a chain of them starts at a full copy at most `TextStore.maxChainDepth` deltas back:
/// reading each version alone walks its chain from there, while this reader keeps the texts it
/// decoded recently (within a byte budget) and applies only the deltas it has not applied yet, one
/// per version when versions come in order. The texts are immutable, so what it keeps is never stale.
public final class SequentialTextReader: Sendable {
    let ledger: Ledger
    let decoded: DecodedTexts

    init(ledger: Ledger, budget: Int = 32 << 20) {
        self.ledger = ledger
        decoded = DecodedTexts(budget: budget)
    }

    /// The text stored under `hash`, or nil.
    public func text(hash: Digest) throws(LedgerError) -> String? {
        try bytes(hash: hash).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The UTF-8 bytes of the text stored under `hash`, or nil.
    public func bytes(hash: Digest) throws(LedgerError) -> [UInt8]? {
        try ledger.reading { txn in try ledger.tables.textStore.load(hash, reusing: decoded, in: txn) }
    }
}
