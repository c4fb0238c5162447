import CLMDB

/// An error reported by LMDB, with the raw return code and what was being done.
///
/// Matchable by code in `catch`: `catch let error as LMDBError where error.code == .mapFull`.
public struct LMDBError: Error, CustomStringConvertible, Sendable {
    /// An LMDB or errno return code. Extensible: codes this wrapper does not name are still carried.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let keyExists = Code(rawValue: MDB_KEYEXIST)
        public static let notFound = Code(rawValue: MDB_NOTFOUND)
        public static let mapFull = Code(rawValue: MDB_MAP_FULL)
        public static let mapResized = Code(rawValue: MDB_MAP_RESIZED)
        public static let readersFull = Code(rawValue: MDB_READERS_FULL)
        public static let invalid = Code(rawValue: MDB_INVALID)
        public static let versionMismatch = Code(rawValue: MDB_VERSION_MISMATCH)
        public static let badValueSize = Code(rawValue: MDB_BAD_VALSIZE)
        public static let permissionDenied = Code(rawValue: 13)  // EACCES
        public static let readOnlyFileSystem = Code(rawValue: 30)  // EROFS
        public static let noSpace = Code(rawValue: 28)  // ENOSPC
        public static let fileTooLarge = Code(rawValue: 27)  // EFBIG: past the process's file-size limit
        public static let quotaExceeded = Code(rawValue: 122)  // EDQUOT
        public static let noSuchFile = Code(rawValue: 2)  // ENOENT
        public static let busy = Code(rawValue: 16)  // EBUSY: another environment of this process has the file open
    }

    public let code: Code
    /// What the wrapper was doing, e.g. "opening /path" or "committing a write transaction".
    public let operation: String

    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// LMDB's own description of the code (`mdb_strerror`, which also covers errno values).
    public var reason: String { String(cString: mdb_strerror(code.rawValue)) }

    public var description: String { "\(operation): \(reason)" }
}

@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != 0 { throw LMDBError(code: .init(rawValue: rc), operation: operation()) }
}
