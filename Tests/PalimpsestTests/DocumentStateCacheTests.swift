import LMDB
import PalimpsestTestSupport
import Testing

@testable import Palimpsest

@Suite struct DocumentStateCacheTests {
    final class Entry: CachedDocumentState {
        var version: UInt64, position: UInt64, lastUse: UInt64 = 0
        let weight: Int
        let name: String
        init(_ name: String, version: UInt64, position: UInt64, weight: Int) { (self.name, self.version, self.position, self.weight) = (name, version, position, weight) }
    }

    func withTables<R>(_ body: (Database, Database) throws -> R) throws -> R {
        try withTemporaryDirectory { dir in
            let env = try Environment(path: dir, options: { var o = Environment.Options(); o.maxDatabases = 4; return o }())
            let dbs = try env.openDatabases(["live", "scratch"])
            return try body(dbs["live"]!, dbs["scratch"]!)
        }
    }

    @Test func anEntryIsUsedOnlyWhileTheTablesAgreeWithIt() throws {
        try withTables { live, _ in
            var cache = DocumentStateCache<Entry>(limit: 100)
            let key = DocumentStateCache<Entry>.Key(table: live, document: [1])
            let first = cache.entry(key, stored: nil) { Entry("fresh", version: 0, position: 0, weight: 1) }
            first.version = 3
            first.position = 7
            #expect(cache.entry(key, stored: (3, 7)) { Entry("reloaded", version: 3, position: 7, weight: 1) }.name == "fresh")
            // A failed transaction: the tables say version 2, the entry says 3.
            #expect(cache.entry(key, stored: (2, 5)) { Entry("reloaded", version: 2, position: 5, weight: 1) }.name == "reloaded")
            // Another process folded a version with the same number at another position.
            #expect(cache.entry(key, stored: (2, 9)) { Entry("again", version: 2, position: 9, weight: 1) }.name == "again")
        }
    }

    @Test func evictionDropsTheLeastRecentlyUsedAndKeepsWhatCannotBeWritten() throws {
        try withTables { live, scratch in
            var cache = DocumentStateCache<Entry>(limit: 10)
            func key(_ d: UInt8, _ t: Database) -> DocumentStateCache<Entry>.Key { .init(table: t, document: [d]) }
            _ = cache.entry(key(1, live), stored: nil) { Entry("a", version: 0, position: 0, weight: 4) }
            _ = cache.entry(key(2, scratch), stored: nil) { Entry("b", version: 0, position: 0, weight: 4) }
            _ = cache.entry(key(3, live), stored: nil) { Entry("c", version: 0, position: 0, weight: 4) }
            _ = cache.entry(key(4, live), stored: nil) { Entry("d", version: 0, position: 0, weight: 4) }
            var released: [String] = []
            cache.evict(keeping: key(4, live)) { k, e in
                guard k.table == live else { return false }  // another table's entry cannot be written now
                released.append(e.name)
                return true
            }
            // 16 > 10: "a" (oldest) goes, "b" is kept (other table), "c" goes; 8 ≤ 10 stops.
            #expect(released == ["a", "c"])
            #expect(Set(cache.entries.values.map(\.name)) == ["b", "d"])
        }
    }
}
