import CLMDB

/// What every transaction can do: read. Transactions are `~Copyable` and only ever borrowed inside
/// `Environment.read`/`write`, so none outlives its closure.
public protocol Transaction: ~Copyable {
    var handle: OpaquePointer { get }
}

/// A read-only transaction (`MDB_RDONLY`, `MDB_NOTLS`).
public struct ReadTransaction: Transaction, ~Copyable {
    public let handle: OpaquePointer
}

/// A write transaction. LMDB allows one at a time per environment, across processes.
public struct WriteTransaction: Transaction, ~Copyable {
    public let handle: OpaquePointer
}

@available(*, unavailable, message: "transactions stay on the thread and in the closure that began them")
extension ReadTransaction: Sendable {}
@available(*, unavailable, message: "transactions stay on the thread and in the closure that began them")
extension WriteTransaction: Sendable {}

@inline(__always)
func withVal<R>(_ bytes: UnsafeRawBufferPointer, _ body: (inout MDB_val) throws -> R) rethrows -> R {
    var val = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    return try body(&val)
}

@inline(__always)
func buffer(_ val: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size)
}

extension Transaction where Self: ~Copyable {
    /// Calls `body` with the value stored under `key`, or returns nil when there is none. The buffer
    /// points into the map and is valid only during `body`.
    public func withValue<R>(
        _ db: Database, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        var value = MDB_val()
        let rc = withVal(key) { k in mdb_get(handle, db.dbi, &k, &value) }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "reading from \(db.name)")
        return try body(buffer(value))
    }

    public func withValue<R>(_ db: Database, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try key.withUnsafeBytes { k in try withValue(db, key: k, body) }
    }

    /// A copy of the value stored under `key`, or nil.
    public func get(_ db: Database, key: [UInt8]) throws -> [UInt8]? {
        try withValue(db, key: key) { Array($0) }
    }

    public func contains(_ db: Database, key: [UInt8]) throws -> Bool {
        try withValue(db, key: key) { _ in true } ?? false
    }

    /// Walks entries in key order (or reverse), starting at the first key ≥ `start` (≤ `start` when
    /// reversed; the first or last key when `start` is nil), until `body` returns false. Buffers are
    /// valid only during each call of `body`.
    public func scan(
        _ db: Database, from start: [UInt8]? = nil, reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(handle, db.dbi, &cursor), "opening a cursor on \(db.name)")
        defer { mdb_cursor_close(cursor) }
        var key = MDB_val(), value = MDB_val()
        var rc: Int32
        if let start {
            rc = start.withUnsafeBytes { s in
                withVal(s) { k in
                    let found = mdb_cursor_get(cursor, &k, &value, MDB_SET_RANGE)
                    key = k
                    return found
                }
            }
            if reverse {
                if rc == MDB_NOTFOUND {
                    rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST)
                } else if rc == 0, !buffer(key).elementsEqual(start) {
                    rc = mdb_cursor_get(cursor, &key, &value, MDB_PREV)
                }
            }
        } else {
            rc = mdb_cursor_get(cursor, &key, &value, reverse ? MDB_LAST : MDB_FIRST)
        }
        let step = reverse ? MDB_PREV : MDB_NEXT
        while rc == 0 {
            guard try body(buffer(key), buffer(value)) else { return }
            rc = mdb_cursor_get(cursor, &key, &value, step)
        }
        if rc != MDB_NOTFOUND { try check(rc, "walking \(db.name)") }
    }

    /// The last key and value (a copy), or nil when the database is empty.
    public func last(_ db: Database) throws -> (key: [UInt8], value: [UInt8])? {
        var result: (key: [UInt8], value: [UInt8])?
        try scan(db, reverse: true) { k, v in
            result = (Array(k), Array(v))
            return false
        }
        return result
    }

    /// The number of entries.
    public func count(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(handle, db.dbi, &stat), "counting \(db.name)")
        return stat.ms_entries
    }
}

extension WriteTransaction {
    public struct PutOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// The key sorts after every existing key (`MDB_APPEND`): fast, and an error otherwise.
        public static let append = PutOptions(rawValue: UInt32(MDB_APPEND))
        /// Keep an existing value (`MDB_NOOVERWRITE`).
        public static let noOverwrite = PutOptions(rawValue: UInt32(MDB_NOOVERWRITE))
    }

    /// Stores `value` under `key`. Returns false when `.noOverwrite` found the key already there.
    @discardableResult
    public func put(
        _ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, options: PutOptions = []
    ) throws -> Bool {
        let rc = withVal(key) { k in withVal(value) { v in mdb_put(handle, db.dbi, &k, &v, options.rawValue) } }
        if rc == MDB_KEYEXIST, options.contains(.noOverwrite) { return false }
        try check(rc, "writing to \(db.name)")
        return true
    }

    @discardableResult
    public func put(_ db: Database, key: [UInt8], value: [UInt8], options: PutOptions = []) throws -> Bool {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(db, key: k, value: v, options: options) } }
    }

    /// Removes `key`; returns false when it was not there.
    @discardableResult
    public func delete(_ db: Database, key: [UInt8]) throws -> Bool {
        let rc = key.withUnsafeBytes { k in withVal(k) { mdb_del(handle, db.dbi, &$0, nil) } }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "deleting from \(db.name)")
        return true
    }

    /// Removes every entry of `db`, keeping the database open.
    public func clear(_ db: Database) throws {
        try check(mdb_drop(handle, db.dbi, 0), "clearing \(db.name)")
    }
}

/// Big-endian fixed-width integer keys: LMDB compares keys as bytes, so big-endian sorts numerically.
public enum BigEndianKey {
    @inline(__always)
    public static func encode(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    @inline(__always)
    public static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt64 {
        var v: UInt64 = 0
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 8])) }
        return UInt64(bigEndian: v)
    }

    public static func decode(_ bytes: [UInt8], at offset: Int = 0) -> UInt64 {
        bytes.withUnsafeBytes { decode($0, at: offset) }
    }
}
