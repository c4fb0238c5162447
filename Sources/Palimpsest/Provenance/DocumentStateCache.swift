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
    private var clock: UInt64 = 0
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
        }
        clock += 1
        entry.lastUse = clock
        return entry
    }

    mutating func remove(_ key: Key) { entries[key] = nil }

    /// Drops the least recently used entries (never `current`) while the total weight is over the
    /// limit. `release` runs first for each (to write what it holds); entries of other tables than
    /// `current`'s that cannot be written in this transaction (`release` returns false) are kept.
    mutating func evict(keeping current: Key, release: (Key, Entry) throws -> Bool) rethrows {
        var total = entries.values.reduce(0) { $0 + $1.weight }
        guard total > limit else { return }
        for (key, entry) in entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) where key != current {
            guard try release(key, entry) else { continue }
            entries[key] = nil
            total -= entry.weight
            if total <= limit { break }
        }
    }
}
