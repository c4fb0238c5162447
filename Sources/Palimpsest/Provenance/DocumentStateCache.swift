import LMDB

/// State a projection keeps in memory per document between events (a provenance engine, the latest
/// text). It is only a cache of what the projection's tables say: an entry is used only while the
/// version and log position it reflects are the ones the tables record as folded last, so a failed
/// transaction, another process's appends or a rebuild never leave stale state in use.
protocol CachedDocumentState: AnyObject {
    var version: UInt64 { get set }
    var position: UInt64 { get set }
    var lastUse: UInt64 { get set }
    /// What the entry costs, in the unit of the cache's limit.
    var weight: Int { get }
}

/// Entries by (table, document); the caller holds the projection's lock.
struct DocumentStateCache<Entry: CachedDocumentState> {
    struct Key: Hashable {
        /// A table of the projection: live and scratch tables (rebuilds, verification) never share entries.
        let table: Database
        let document: [UInt8]
    }

    private(set) var entries: [Key: Entry] = [:]
    /// The weight each entry had when last counted, and their sum: kept as entries come and go, so
    /// that a cache of a million small documents is not summed again at every event.
    private var counted: [Key: Int] = [:]
    private var total = 0
    private var clock: UInt64 = 0
    /// The entries the last `ready` of each table prepared: a round computes with them after its read
    /// transaction has closed, so nothing may evict them before that round has written — another
    /// fold on other tables (a verification's scratch tables) readies and evicts in between, and must
    /// neither drop them nor unpin them.
    private var pinned = Set<Key>()
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// The entry for `key` if it reflects `stored` (version and position; nil: nothing folded yet),
    /// else what `load` builds from the tables.
    mutating func entry(_ key: Key, stored: (version: UInt64, position: UInt64)?, load: () throws -> Entry) rethrows -> Entry {
        let entry: Entry
        if let hit = entries[key], hit.version == (stored?.version ?? 0), hit.position == (stored?.position ?? 0) {
            entry = hit
        } else {
            entry = try load()
            entries[key] = entry
            recount(key, entry)
        }
        clock += 1
        entry.lastUse = clock
        return entry
    }

    /// Readies the entry of each document `events` touch, once per document (`prepare` of a staged
    /// projection): `stored` reads what the tables record for it, `load` builds the entry from them
    /// when the cached one does not reflect that.
    mutating func ready<Stored>(
        for events: [RecordedEvent], in table: Database, documentKey: (String) -> [UInt8],
        stored: ([UInt8]) throws -> Stored?, folded: (Stored) -> (version: UInt64, position: UInt64),
        load: ([UInt8], Stored?) throws -> Entry
    ) rethrows {
        var seen = Set<[UInt8]>()
        pinned = pinned.filter { $0.table != table }
        for event in events {
            let doc = documentKey(event.document)
            guard seen.insert(doc).inserted else { continue }
            let record = try stored(doc)
            let key = Key(table: table, document: doc)
            pinned.insert(key)
            _ = try entry(key, stored: record.map(folded)) { try load(doc, record) }
        }
    }

    mutating func remove(_ key: Key) {
        entries[key] = nil
        total -= counted.removeValue(forKey: key) ?? 0
    }

    private mutating func recount(_ key: Key, _ entry: Entry) {
        let weight = entry.weight
        total += weight - (counted.updateValue(weight, forKey: key) ?? 0)
    }

    /// Counts `current` and the entries the last `ready` of its table prepared again (a round changed
    /// them all: counting `current` alone let a round of a hundred new documents grow past the limit
    /// unseen — 3.2 million tokens held against a limit of 2 million on rust-lang/rfcs), then, when the total weight is over the limit, drops the least recently used entries (never
    /// `current`) until it is under three quarters of it, so that the sort is rare. `release` runs
    /// first for each (to write what it holds); entries of other tables than `current`'s that cannot
    /// be written in this transaction (`release` returns false) are kept, and so are the entries the
    /// last `ready` prepared.
    mutating func evict(keeping current: Key, release: (Key, Entry) throws -> Bool) rethrows {
        if let entry = entries[current] { recount(current, entry) }
        for key in pinned where key.table == current.table && key != current {
            if let entry = entries[key] { recount(key, entry) }
        }
        guard total > limit else { return }
        let target = limit / 4 * 3
        for (key, entry) in entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) where key != current && !pinned.contains(key) {
            guard try release(key, entry) else { continue }
            remove(key)
            if total <= target { break }
        }
    }
}
