import Foundation
import LMDB
import Testing

func withEnvironment<R>(mapSize: Int = 1 << 20, _ body: (Environment, Database) throws -> R) throws -> R {
    let dir = NSTemporaryDirectory() + "lmdb-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var options = Environment.Options()
    options.mapSize = mapSize
    let env = try Environment(path: dir, options: options)
    let db = try env.openDatabases(["t"])["t"]!
    return try body(env, db)
}

@Suite struct EnvironmentTests {
    @Test func putGetAndScanInKeyOrder() throws {
        try withEnvironment { env, db in
            try env.write { txn in
                for i: UInt64 in [5, 1, 300, 2] {
                    try txn.put(db, key: BigEndianKey.encode(i), value: Array("v\(i)".utf8))
                }
            }
            try env.read { txn in
                #expect(try txn.get(db, key: BigEndianKey.encode(300)) == Array("v300".utf8))
                #expect(try txn.get(db, key: BigEndianKey.encode(7)) == nil)
                #expect(try txn.count(db) == 4)
                var keys: [UInt64] = []
                try txn.scan(db) { k, _ in keys.append(BigEndianKey.decode(k)); return true }
                #expect(keys == [1, 2, 5, 300])
                keys = []
                try txn.scan(db, from: BigEndianKey.encode(3)) { k, _ in keys.append(BigEndianKey.decode(k)); return true }
                #expect(keys == [5, 300])
                keys = []
                try txn.scan(db, from: BigEndianKey.encode(4), reverse: true) { k, _ in keys.append(BigEndianKey.decode(k)); return true }
                #expect(keys == [2, 1])
                keys = []
                try txn.scan(db, from: BigEndianKey.encode(5), reverse: true) { k, _ in keys.append(BigEndianKey.decode(k)); return keys.count < 2 }
                #expect(keys == [5, 2])
                #expect(try txn.last(db).map { BigEndianKey.decode($0.key) } == 300)
            }
        }
    }

    @Test func appendRefusesAKeyOutOfOrder() throws {
        try withEnvironment { env, db in
            try env.write { txn in try txn.put(db, key: BigEndianKey.encode(2), value: [1], options: .append) }
            #expect(throws: LMDBError.self) {
                try env.write { txn in try txn.put(db, key: BigEndianKey.encode(1), value: [1], options: .append) }
            }
            #expect(try env.read { txn in try txn.count(db) } == 1)
        }
    }

    @Test func noOverwriteKeepsTheFirstValue() throws {
        try withEnvironment { env, db in
            let stored = try env.write { txn in
                (try txn.put(db, key: [1], value: [10], options: .noOverwrite),
                 try txn.put(db, key: [1], value: [20], options: .noOverwrite))
            }
            #expect(stored == (true, false))
            #expect(try env.read { txn in try txn.get(db, key: [1]) } == [10])
        }
    }

    @Test func aThrowingWriteLeavesNothing() throws {
        struct Stop: Error {}
        try withEnvironment { env, db in
            #expect(throws: Stop.self) {
                try env.write { txn in
                    try txn.put(db, key: [1], value: [1])
                    throw Stop()
                }
            }
            let count = try env.read { txn in try txn.count(db) }
            #expect(count == 0)
        }
    }

    @Test func theMapGrowsWhenFull() throws {
        try withEnvironment(mapSize: 256 << 10) { env, db in
            let before = env.mapSize
            let value = [UInt8](repeating: 7, count: 100_000)
            for i: UInt64 in 0..<40 {
                try env.write { txn in try txn.put(db, key: BigEndianKey.encode(i), value: value) }
            }
            #expect(env.mapSize > before)
            #expect(try env.read { txn in try txn.count(db) } == 40)
            #expect(try env.read { txn in try txn.get(db, key: BigEndianKey.encode(39)) } == value)
        }
    }

    @Test func deleteAndClear() throws {
        try withEnvironment { env, db in
            try env.write { txn in
                try txn.put(db, key: [1], value: [1])
                try txn.put(db, key: [2], value: [2])
                #expect(try txn.delete(db, key: [1]))
                #expect(try !txn.delete(db, key: [9]))
            }
            #expect(try env.read { txn in try txn.count(db) } == 1)
            try env.write { txn in try txn.clear(db) }
            #expect(try env.read { txn in try txn.count(db) } == 0)
        }
    }

    @Test func spaceUsageCountsFreedPages() throws {
        try withEnvironment(mapSize: 8 << 20) { env, db in
            let value = [UInt8](repeating: 1, count: 100)
            try env.write { txn in
                for i: UInt64 in 0..<2000 { try txn.put(db, key: BigEndianKey.encode(i), value: value) }
            }
            let before = try env.spaceUsage()
            #expect(before.pageSize > 0 && before.pagesUsed > 50)
            // Deleting everything frees the pages: they go to the free list, the file does not shrink.
            try env.write { txn in try txn.clear(db) }
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            let after = try env.spaceUsage()
            #expect(after.pagesUsed >= before.pagesUsed)
            #expect(after.freePages > 40)
            #expect(after.liveBytes < before.liveBytes)
        }
    }

    @Test func bigEndianKeysSortNumerically() {
        var rng = SystemRandomNumberGenerator()
        let values = (0..<500).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) }
        let byBytes = values.map(BigEndianKey.encode).sorted { $0.lexicographicallyPrecedes($1) }.map { BigEndianKey.decode($0) }
        #expect(byBytes == values.sorted())
    }

    @Test func openingAMissingDirectoryFails() {
        #expect(throws: LMDBError.self) {
            _ = try Environment(path: "/nonexistent/palimpsest-\(UUID())")
        }
    }
}
