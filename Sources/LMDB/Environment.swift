import CLMDB
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One LMDB environment: a directory holding `data.mdb` and `lock.mdb`.
///
/// Transactions are reachable only inside synchronous closures (`read { txn in … }`,
/// `write { txn in … }`), so a transaction handle never escapes, never crosses an `await` and never
/// moves threads. Open one `Environment` per path per process (LMDB's rule).
///
/// `@unchecked Sendable` because every use of the C handle is serialised where LMDB requires it:
/// read transactions are `MDB_NOTLS` and independent; write transactions are serialised by LMDB's
/// own writer lock; resizing the map (which LMDB forbids while any transaction of this process is
/// open) takes `resizeLock` exclusively while every transaction holds it shared.
public final class Environment: @unchecked Sendable {
    public struct Options: Sendable {
        /// Initial map size in bytes; the map grows by itself when a write finds it full.
        public var mapSize: Int = 256 << 20
        public var maxDatabases: UInt32 = 32
        public var maxReaders: UInt32 = 126
        /// Open without write access (`MDB_RDONLY`).
        public var readOnly = false
        /// Skip LMDB's lock file (`MDB_NOLOCK`): only safe when nobody can write, e.g. a ledger on
        /// read-only media.
        public var noLock = false
        /// Mode of the files LMDB creates.
        public var fileMode: mode_t = 0o600
        public init() {}
    }

    let handle: OpaquePointer
    public let path: String
    public let isReadOnly: Bool
    /// This environment's entry in `OpenEnvironments`.
    private let registryKey: String
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>

    /// Opens (creating the files when allowed) the environment in the existing directory `path`.
    ///
    /// LMDB allows one environment per file per process: closing a second one would take the file lock
    /// and destroy the shared mutexes under the first. So while another `Environment` of this process
    /// has the same directory open, this waits (up to `openWait` seconds) for it to close, then fails.
    public init(path: String, options: Options = Options(), openWait: Double = 10) throws(LMDBError) {
        let key = OpenEnvironments.key(path)
        guard OpenEnvironments.shared.claim(key, waiting: openWait) else {
            throw LMDBError(code: .busy, operation: "opening \(path): another environment of this process still has it open")
        }
        var env: OpaquePointer?
        do {
            try check(mdb_env_create(&env), "creating an LMDB environment")
        } catch {
            OpenEnvironments.shared.release(key)
            throw error
        }
        guard let env else {
            OpenEnvironments.shared.release(key)
            throw LMDBError(code: .invalid, operation: "creating an LMDB environment")
        }
        do {
            try check(mdb_env_set_maxdbs(env, options.maxDatabases), "setting the number of databases")
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "setting the number of readers")
            try check(mdb_env_set_mapsize(env, options.mapSize), "setting the map size")
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if options.noLock { flags |= UInt32(MDB_NOLOCK) }
            try check(mdb_env_open(env, path, flags, options.fileMode), "opening \(path)")
        } catch {
            mdb_env_close(env)
            OpenEnvironments.shared.release(key)
            throw error
        }
        handle = env
        self.path = path
        self.registryKey = key
        isReadOnly = options.readOnly
        resizeLock = .allocate(capacity: 1)
        pthread_rwlock_init(resizeLock, nil)
        if !options.noLock {
            // Free reader slots left behind by processes that died (kill -9) holding a read transaction.
            var dead: Int32 = 0
            _ = mdb_reader_check(env, &dead)
        }
    }

    deinit {
        mdb_env_close(handle)
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
        OpenEnvironments.shared.release(registryKey)
    }

    /// Writes a consistent copy of the environment's data file to `fd` (`mdb_env_copyfd2`); compacting
    /// leaves out free pages and renumbers the rest, so bytes that only freed pages held are not copied.
    @available(*, noasync, message: "run copies from synchronous code")
    public func copy(to fd: Int32, compacting: Bool) throws(LMDBError) {
        try check(mdb_env_copyfd2(handle, fd, compacting ? UInt32(MDB_CP_COMPACT) : 0), "copying \(path)")
    }

    /// True while another part of this process waits to open this environment's directory: whoever
    /// keeps it open for background work should let go.
    public var isWantedElsewhere: Bool { OpenEnvironments.shared.isWanted(registryKey) }

    /// The current map size in bytes (the most the data file may grow to before the map grows).
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// Drops this process's mapping of the data file's pages (`madvise(MADV_DONTNEED)` over the map),
    /// after a bulk write has read its way through much of the file. LMDB reads every page through
    /// the map, so a long import or fold otherwise keeps every page it ever touched resident in this
    /// process (~180 MB after Anarchism). Nothing is lost: the map is a shared, read-only file
    /// mapping, so the pages stay in the kernel's page cache and the next read maps them again. Held
    /// shared with transactions, exclusive against a map resize (the map must not move meanwhile).
    ///
    /// LMDB does not say where its map is (`me_mapaddr` is only set for `MDB_FIXEDMAP`), so the
    /// mapping is found in `/proc/self/maps` by the data file's inode; elsewhere than on Linux this
    /// does nothing.
    public func releaseMappedPages() {
        #if os(Linux)
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        var fd: Int32 = -1
        var status = stat()
        guard mdb_env_get_fd(handle, &fd) == 0, fstat(fd, &status) == 0,
            let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        else { return }
        let inode = String(status.st_ino)
        for line in maps.split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[4] == inode, fields[5].hasSuffix("data.mdb") else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start,
                let address = UnsafeMutableRawPointer(bitPattern: start)
            else { continue }
            _ = madvise(address, Int(end - start), MADV_DONTNEED)
        }
        #endif
    }

    /// Opens every named database once (they stay open for the environment's life), creating the
    /// missing ones unless the environment is read-only. A missing database in a read-only
    /// environment is reported as `nil`.
    public func openDatabases(_ names: [String]) throws -> [String: Database] {
        if isReadOnly {
            // Handles opened in a transaction that is aborted are closed with it: commit (a read-only
            // commit writes nothing) so they stay open for the environment's life.
            pthread_rwlock_rdlock(resizeLock)
            defer { pthread_rwlock_unlock(resizeLock) }
            let txn = try begin(flags: UInt32(MDB_RDONLY))
            var result: [String: Database] = [:]
            for name in names {
                var dbi: MDB_dbi = 0
                let rc = mdb_dbi_open(txn, name, 0, &dbi)
                if rc == MDB_NOTFOUND { continue }
                if rc != 0 {
                    mdb_txn_abort(txn)
                    try check(rc, "opening database \(name)")
                }
                result[name] = Database(dbi: dbi, name: name)
            }
            try check(mdb_txn_commit(txn), "opening the databases of \(path)")
            return result
        }
        return try write { txn in
            var result: [String: Database] = [:]
            for name in names {
                var dbi: MDB_dbi = 0
                try check(mdb_dbi_open(txn.handle, name, UInt32(MDB_CREATE), &dbi), "opening database \(name)")
                result[name] = Database(dbi: dbi, name: name)
            }
            return result
        }
    }

    /// Runs `body` in a read-only transaction. Values handed out inside are valid only inside it:
    /// copy what you keep.
    @available(*, noasync, message: "run transactions from synchronous code; wrap them in a serial queue")
    @discardableResult
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let txn = try begin(flags: UInt32(MDB_RDONLY))
        defer { mdb_txn_abort(txn) }
        return try body(ReadTransaction(handle: txn))
    }

    /// Runs `body` in a write transaction and commits it when `body` returns; throwing aborts it and
    /// nothing is written.
    ///
    /// When the map is full, the transaction is aborted, the map grows, and `body` runs again from
    /// the start: keep every side effect of `body` inside the transaction, or make it repeatable.
    /// Do not call `write` while this thread holds another transaction.
    @available(*, noasync, message: "run transactions from synchronous code; wrap them in a serial queue")
    @discardableResult
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        while true {
            do {
                return try writeOnce(body)
            } catch let error as LMDBError where error.code == .mapFull {
                try grow(from: mapSize)
            }
        }
    }

    private func writeOnce<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let txn = try begin(flags: 0)
        let result: R
        do {
            result = try body(WriteTransaction(handle: txn))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // A failed commit has already freed the transaction: never abort after it.
        try check(mdb_txn_commit(txn), "committing a write transaction")
        return result
    }

    /// Begins a transaction, adopting a map that another process has grown in the meantime.
    private func begin(flags: UInt32) throws(LMDBError) -> OpaquePointer {
        while true {
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, flags, &txn)
            if rc == MDB_MAP_RESIZED {
                // Adopting the new size needs every transaction of this process closed: give up our
                // shared hold, adopt under the exclusive one, and take the shared hold back.
                pthread_rwlock_unlock(resizeLock)
                pthread_rwlock_wrlock(resizeLock)
                let adopt = mdb_env_set_mapsize(handle, 0)
                pthread_rwlock_unlock(resizeLock)
                pthread_rwlock_rdlock(resizeLock)
                try check(adopt, "adopting the map size another process set")
                continue
            }
            try check(rc, "beginning a transaction")
            guard let txn else { throw LMDBError(code: .invalid, operation: "beginning a transaction") }
            return txn
        }
    }

    /// Grows the map (doubling, by at most 4 GiB a step) unless another thread already did.
    private func grow(from observed: Int) throws(LMDBError) {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let current = mapSize
        guard current == observed else { return }
        let next = current + min(current, 4 << 30)
        try check(mdb_env_set_mapsize(handle, next), "growing the map to \(next) bytes")
    }
}

/// A named database, opened once for the environment's life.
public struct Database: Sendable, Hashable {
    let dbi: MDB_dbi
    public let name: String
}

extension Environment {
    /// How much of the data file holds live data: LMDB never shrinks its file, and pages freed by
    /// copy-on-write wait on its free list to be reused by later writes.
    public struct SpaceUsage: Sendable {
        public let pageSize: Int
        /// Pages from the start of the file to the last one written.
        public let pagesUsed: Int
        /// Of those, pages on the free list (reusable, holding nothing live).
        public let freePages: Int
        public var liveBytes: Int { (pagesUsed - freePages) * pageSize }
        public var usedBytes: Int { pagesUsed * pageSize }
    }

    @available(*, noasync, message: "run transactions from synchronous code")
    public func spaceUsage() throws -> SpaceUsage {
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        let free: Int = try read { txn in
            // The free list is database 0; each value is a page-number list led by its length.
            var cursor: OpaquePointer?
            try check(mdb_cursor_open(txn.handle, 0, &cursor), "reading the free list")
            defer { mdb_cursor_close(cursor) }
            var key = MDB_val(), value = MDB_val()
            var total = 0
            var rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST)
            while rc == 0 {
                if value.mv_size >= MemoryLayout<Int>.size {
                    total += value.mv_data.loadUnaligned(as: Int.self)
                }
                rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc, "reading the free list") }
            return total
        }
        return SpaceUsage(pageSize: Int(stat.ms_psize), pagesUsed: info.me_last_pgno + 1, freePages: free)
    }
}

/// The directories this process has an environment open in, and how many openers wait for each.
final class OpenEnvironments: @unchecked Sendable {
    static let shared = OpenEnvironments()
    private let condition = NSCondition()
    private var open: Set<String> = []
    private var waiting: [String: Int] = [:]

    static func key(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    func claim(_ key: String, waiting seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        waiting[key, default: 0] += 1
        defer { waiting[key, default: 1] -= 1 }
        while open.contains(key) {
            guard condition.wait(until: deadline) else { return false }
        }
        open.insert(key)
        return true
    }

    func release(_ key: String) {
        condition.lock()
        open.remove(key)
        condition.broadcast()
        condition.unlock()
    }

    func isWanted(_ key: String) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return (waiting[key] ?? 0) > 0
    }
}
