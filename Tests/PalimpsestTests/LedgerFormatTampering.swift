import LMDB

/// Test-only surgery on a ledger's files, to simulate one written by a newer build.
enum LedgerFormatTampering {
    static func setFormat(_ version: UInt64, at path: String) throws {
        let env = try Environment(path: path)
        let meta = try env.openDatabases(["meta"])["meta"]!
        try env.write { txn in try txn.put(meta, key: Array("format".utf8), value: BigEndianKey.encode(version)) }
    }
}
