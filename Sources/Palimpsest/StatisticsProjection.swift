import LMDB

/// The built-in statistics projection: events by type, and per actor the events, the documents they
/// touched, and their first and last effective times. Folds envelopes only (no texts).
public struct StatisticsProjection: Projection {
    public init() {}
    public var name: String { "statistics" }
    public var version: UInt64 { 1 }
    public var tableNames: [String] { ["types", "actors", "actorDocuments"] }
    public var needsText: Bool { false }

    public func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        let type = Array(event.type.rawValue.utf8)
        let count = try txn.get(tables["types"], key: type).map { BigEndianKey.decode($0) } ?? 0
        try txn.put(tables["types"], key: type, value: BigEndianKey.encode(count + 1))

        // Actor names can exceed LMDB's key limit: key by their SHA-256, keep the name in the value.
        let actorKey = Digest.sha256(event.actor).bytes
        var record = try txn.get(tables["actors"], key: actorKey).map(ActorRecord.init) ?? ActorRecord(actor: event.actor, at: event.at)
        record.events += 1
        record.firstAt = min(record.firstAt, event.at)
        record.lastAt = max(record.lastAt, event.at)
        let pairKey = actorKey + Digest.sha256(event.document).bytes
        if try txn.put(tables["actorDocuments"], key: pairKey, value: [], options: .noOverwrite) { record.documents += 1 }
        try txn.put(tables["actors"], key: actorKey, value: record.encoded)
    }

    struct ActorRecord {
        var actor: String
        var events: UInt64 = 0
        var documents: UInt64 = 0
        var firstAt: Timestamp
        var lastAt: Timestamp

        init(actor: String, at: Timestamp) { (self.actor, firstAt, lastAt) = (actor, at, at) }

        init(_ bytes: [UInt8]) throws {
            var fields: (String, UInt64, UInt64, Int64, Int64)? = nil
            bytes.withUnsafeBytes { raw in
                var r = RecordReader(raw)
                if let actor = try? r.string(), let events = try? r.varint(), let documents = try? r.varint(),
                    let first = try? r.signed(), let last = try? r.signed()
                {
                    fields = (actor, events, documents, first, last)
                }
            }
            guard let fields else { throw LedgerError(.integrity, "a record of the statistics projection is damaged") }
            (actor, events, documents) = (fields.0, fields.1, fields.2)
            (firstAt, lastAt) = (Timestamp(milliseconds: fields.3), Timestamp(milliseconds: fields.4))
        }

        var encoded: [UInt8] {
            var w = RecordWriter()
            w.string(actor)
            w.varint(events)
            w.varint(documents)
            w.signed(firstAt.milliseconds)
            w.signed(lastAt.milliseconds)
            return w.bytes
        }
    }
}

/// Figures about the whole ledger, from the statistics projection and the catalogue.
public struct LedgerStatistics: Sendable, Equatable {
    public struct Actor: Sendable, Equatable {
        public var name: String
        public var events: UInt64
        public var documents: UInt64
        public var firstAt: Timestamp
        public var lastAt: Timestamp
    }

    public var events: UInt64
    public var documents: Int
    public var retractedDocuments: Int
    public var eventsByType: [EventType: UInt64]
    /// Every actor, most events first.
    public var actors: [Actor]
}

extension Ledger {
    /// Totals, events by type and per actor.
    public func statistics() throws(LedgerError) -> LedgerStatistics {
        let documents = try self.documents()
        let head = try self.head()
        return try read(projection: "statistics") { tables, txn in
            var byType: [EventType: UInt64] = [:]
            try txn.scan(tables["types"]) { k, v in
                if let type = EventType(rawValue: String(decoding: k, as: UTF8.self)) { byType[type] = BigEndianKey.decode(v) }
                return true
            }
            var actors: [LedgerStatistics.Actor] = []
            try txn.scan(tables["actors"]) { _, v in
                let r = try StatisticsProjection.ActorRecord(Array(v))
                actors.append(.init(name: r.actor, events: r.events, documents: r.documents, firstAt: r.firstAt, lastAt: r.lastAt))
                return true
            }
            actors.sort { a, b in a.events != b.events ? a.events > b.events : a.name < b.name }
            return LedgerStatistics(
                events: head.position, documents: documents.count,
                retractedDocuments: documents.filter { $0.status == .retracted }.count, eventsByType: byType, actors: actors)
        }
    }
}
