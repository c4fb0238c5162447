import Dispatch
import Foundation
import Synchronization
import LMDB

/// An event-sourced ledger of document edits, stored in one LMDB environment in a directory.
///
/// Writes go through one serial writer (and LMDB's lock across processes); reads use short
/// transactions and copy their results out, so a `Ledger` can be shared freely between threads and
/// between tasks. Open one `Ledger` per directory per process.
///
/// `@unchecked Sendable`: its stored properties are immutable except the writer's caches
/// (`textCache`, `recentlyRetracted`), which are only touched on `writeQueue`.
public final class Ledger: @unchecked Sendable {
    /// The newest storage format this build reads and writes.
    public static let formatVersion: UInt64 = 1
    /// The largest text one version may have (UTF-8 bytes). Word provenance holds a version's tokens
    /// in memory, so a limit here is a clear refusal instead of a process that runs out of memory.
    public static let maximumTextBytes = 32 << 20

    public struct Options: Sendable {
        /// Open without writing (also chosen by itself when the directory is not writable).
        public var readOnly = false
        /// Initial LMDB map size; the map grows by itself.
        public var initialMapSize = 256 << 20
        /// Open a ledger directory that belongs to another user (refused by default: someone else's
        /// ledger is theirs to change, and files written into it would belong to you).
        public var allowForeignOwner = false
        /// Projections to maintain with every append (and to catch up or rebuild on open), besides
        /// the built-in ones.
        public var projections: [any Projection] = []
        /// Maintain the built-in projections (statistics, provenance, phrases). The Merkle tree over
        /// event hashes is maintained either way: checkpoints and proofs need it.
        public var builtInProjections = true
        /// Leave the following projections (provenance, the phrase index, any registered as
        /// `.following`) alone while this ledger is open, instead of folding them on a thread of their
        /// own: for a bulk load, so that the log has both cores. They are brought up to date by
        /// `waitForProjections()` or by the first read that needs them.
        public var deferFollowingProjections = false
        /// Called as a projection is caught up or rebuilt: its name, the last position folded, the
        /// log's last position (for a progress line; called from the opening thread).
        public var projectionProgress: (@Sendable (_ projection: String, _ position: UInt64, _ head: UInt64) -> Void)?
        /// The shared log this ledger is a replica of: new events are appended through it
        /// (`SharedLog`). Reading commands need none: a replica answers from its own tables.
        public var sharedLog: (any SharedLog)?
        /// For `create`: make the ledger a replica of a shared log with this identity (its ID, origin and
        /// public key) instead of a ledger of its own with a new ID and signing key.
        public var replicaOf: SharedLedgerIdentity?

        var allProjections: [any Projection] { [MerkleProjection()] + (builtInProjections ? [StatisticsProjection(), ProvenanceProjection(), PhraseIndexProjection()] : []) + projections }
        public init() {}
    }

    public let directory: String
    /// A random ID given to the ledger when it was created.
    public let id: UUID
    /// True when this ledger was opened without write access.
    public let isReadOnly: Bool

    let env: Environment
    let tables: Tables
    let projections: [RegisteredProjection]
    let projectionProgress: (@Sendable (String, UInt64, UInt64) -> Void)?
    let writeQueue = DispatchQueue(label: "palimpsest.ledger.writer")
    /// The shared log new events are appended through, when this ledger is a replica of one.
    let sharedLog: (any SharedLog)?
    /// Following projections a read-only open had to leave out (their tables were not there to open):
    /// reported as wholly behind, so that a reader opens the ledger writable to build them.
    let unbuiltFollowing: [String]
    /// Folds the following projections behind the writer (nil when read-only, deferred, or none).
    let projector: Projector?
    let projectionFailures = ProjectionFailures()
    let textCache: TextCache
    /// Texts decoded by projection folds (under `foldLock`), so a fold reading a document's versions
    /// in order applies one delta per version.
    let foldTexts: DecodedTexts
    /// Held by whoever folds the following projections in this process (the projector, or a reader
    /// bringing them to the head): one fold at a time, never the same events twice.
    let foldLock = NSLock()
    /// Threads waiting for `foldLock` in the foreground (an import waiting for its projections, a
    /// read bringing them to the head): the projector, which runs at a lower priority, lets go after
    /// the round it is folding, so that the rest is folded at the waiter's priority — at nice 10
    /// under another process's load it would hold the lock for minutes.
    let foregroundFoldsWaiting = Atomic<Int>(0)
    /// Texts of the documents most recently retracted through this writer: delta bases for new
    /// documents (renames). Touched only on `writeQueue`.
    let recentlyRetracted = RecentTexts()
    /// The latest text written under each file name (the ID's last path component): a delta base for
    /// a new document that copies another one (git's packer pairs objects by name the same way).
    /// Touched only on `writeQueue`.
    let textsByName = TextsByName()

    struct Tables {
        let meta: Database, log: Database, streams: Database, catalogue: Database
        let documentKeys: Database, texts: Database, textIndex: Database, eventIDs: Database
        /// Projection name → version (8) ‖ position (8), big-endian.
        let checkpoints: Database

        static let names = ["meta", "log", "streams", "catalogue", "documentKeys", "texts", "textIndex", "eventIDs", "checkpoints"]

        init(_ dbs: [String: Database]) throws(LedgerError) {
            guard let meta = dbs["meta"], let log = dbs["log"], let streams = dbs["streams"],
                let catalogue = dbs["catalogue"], let documentKeys = dbs["documentKeys"], let texts = dbs["texts"],
                let textIndex = dbs["textIndex"], let eventIDs = dbs["eventIDs"], let checkpoints = dbs["checkpoints"]
            else { throw LedgerError(.storage, "the ledger is missing some of its tables") }
            (self.meta, self.log, self.streams, self.catalogue) = (meta, log, streams, catalogue)
            (self.documentKeys, self.texts, self.textIndex, self.eventIDs) = (documentKeys, texts, textIndex, eventIDs)
            self.checkpoints = checkpoints
        }

        var textStore: TextStore { TextStore(records: texts, index: textIndex) }
    }

    enum MetaKey {
        static let format = Array("format".utf8)
        static let ledgerID = Array("ledgerId".utf8)
        /// position (8, big-endian) ‖ hash (32) ‖ recordedAt (8, big-endian) of the last event.
        static let head = Array("head".utf8)
    }

    private init(directory: String, env: Environment, tables: Tables, projections: [RegisteredProjection], progress: (@Sendable (String, UInt64, UInt64) -> Void)?, id: UUID, projector: Projector?, textCache: TextCache, foldTexts: DecodedTexts, sharedLog: (any SharedLog)?, unbuiltFollowing: [String]) {
        self.directory = directory
        self.sharedLog = sharedLog
        self.unbuiltFollowing = unbuiltFollowing
        self.textCache = textCache
        self.foldTexts = foldTexts
        self.projector = projector
        self.projections = projections
        self.projectionProgress = progress
        self.env = env
        self.tables = tables
        self.id = id
        self.isReadOnly = env.isReadOnly
    }

    /// Creates a ledger in `directory` (made with owner-only permissions when missing), or opens the
    /// one already there: creating is idempotent. Either way the ledger gets its Ed25519 signing key
    /// (for checkpoints) when it has none.
    public static func create(at directory: String, options: Options = Options()) throws(LedgerError) -> Ledger {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw LedgerError(.storage, "\(directory) exists and is not a directory; a ledger needs a directory")
            }
            let entries = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
            if !entries.isEmpty, !entries.contains("data.mdb") {
                throw LedgerError(.storage, "\(directory) is not empty and is not a Palimpsest ledger; refusing to create a ledger inside it")
            }
        } else {
            do {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw LedgerError(.storage, "cannot create the ledger directory \(directory): \(error.localizedDescription)")
            }
        }
        let ledger = try open(at: directory, options: options, creating: true)
        // A replica checks the shared ledger's checkpoints with its public key; it signs none itself.
        if options.replicaOf == nil { try ledger.ensureSigningKey() }
        return ledger
    }

    /// Opens the ledger in `directory`.
    public static func open(at directory: String, options: Options = Options()) throws(LedgerError) -> Ledger {
        try open(at: directory, options: options, creating: false)
    }

    private static func open(at directory: String, options: Options, creating: Bool) throws(LedgerError) -> Ledger {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw LedgerError(.notFound, "there is no ledger at \(directory); create one with `palimpsest init`")
        }
        guard isDirectory.boolValue else {
            throw LedgerError(.storage, "\(directory) is not a directory, so it is not a Palimpsest ledger")
        }
        var info = stat()
        if stat(directory, &info) == 0, info.st_uid != geteuid(), !options.allowForeignOwner {
            throw LedgerError(.storage, "the ledger directory \(directory) belongs to user \(info.st_uid), not to you (user \(geteuid())); pass --allow-foreign-owner (Ledger.Options.allowForeignOwner) to open it anyway")
        }
        let dataFile = (directory as NSString).appendingPathComponent("data.mdb")
        if !creating, !fm.fileExists(atPath: dataFile) {
            let entries = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
            if entries.isEmpty {
                throw LedgerError(.notFound, "there is no ledger at \(directory); create one with `palimpsest init`")
            }
            throw LedgerError(.storage, "\(directory) is not a Palimpsest ledger (it has no data.mdb)")
        }

        // A directory without owner write permission is read-only for us even when the process could
        // write anyway (root): the owner said so.
        let writable = isWritable(directory)
        if creating, !writable {
            throw LedgerError(.storage, "the ledger directory \(directory) is read-only")
        }
        var envOptions = Environment.Options()
        envOptions.mapSize = options.initialMapSize
        let projections = options.allProjections
        envOptions.maxDatabases = UInt32(16 + projections.reduce(0) { $0 + 2 * $1.tableNames.count })
        if let clash = Dictionary(grouping: projections, by: \.name).first(where: { $0.value.count > 1 }) {
            throw LedgerError(.invalidInput, "two projections are named \"\(clash.key)\"")
        }
        envOptions.readOnly = options.readOnly || !writable
        if !writable {
            let lockFile = (directory as NSString).appendingPathComponent("lock.mdb")
            envOptions.noLock = !fm.isWritableFile(atPath: lockFile) || !isWritable(lockFile)
        }
        let env: Environment
        do {
            env = try Environment(path: directory, options: envOptions)
        } catch {
            switch error.code {
            case .invalid, .versionMismatch:
                throw LedgerError(.storage, "\(directory) is not a Palimpsest ledger (its data.mdb is not an LMDB file this build can read)", underlying: error)
            case .permissionDenied, .readOnlyFileSystem:
                throw LedgerError(.storage, "the ledger at \(directory) cannot be opened: permission denied", underlying: error)
            case .busy:
                throw LedgerError(.storage, "the ledger at \(directory) is still open in this process (a Ledger not yet released); open each ledger once per process", underlying: error)
            default:
                throw LedgerError(.storage, "the ledger at \(directory) cannot be opened: \(error.reason)", underlying: error)
            }
        }
        do {
            let dbs = try env.openDatabases(Tables.names + projections.flatMap(RegisteredProjection.databaseNames))
            if env.isReadOnly, dbs["meta"] == nil {
                throw LedgerError(.storage, "\(directory) is not a Palimpsest ledger (it has no ledger metadata)")
            }
            let tables = try Tables(dbs)
            let id: UUID = try env.write { txn in
                if try txn.get(tables.meta, key: MetaKey.format) == nil {
                    guard creating, try txn.count(tables.log) == 0 else {
                        throw LedgerError(.storage, "\(directory) is not a Palimpsest ledger (it has no ledger metadata)")
                    }
                    try txn.put(tables.meta, key: MetaKey.format, value: BigEndianKey.encode(formatVersion))
                    try txn.put(tables.meta, key: MetaKey.ledgerID, value: Array((options.replicaOf?.id ?? UUID()).uuidString.lowercased().utf8))
                    if let identity = options.replicaOf {
                        try txn.put(tables.meta, key: Ledger.publicKeyMeta, value: identity.publicKey)
                        try txn.put(tables.meta, key: Ledger.originMeta, value: Array(identity.origin.utf8))
                    }
                }
                let id = try checkedID(of: directory, tables: tables, in: txn)
                if let identity = options.replicaOf ?? options.sharedLog?.identity, identity.id != id {
                    throw LedgerError(.conflict, "the ledger at \(directory) (id \(id.uuidString.lowercased())) is not a replica of the shared ledger \(identity.id.uuidString.lowercased())")
                }
                return id
            } readOnly: { txn in
                try checkedID(of: directory, tables: tables, in: txn)
            }
            // A read-only ledger cannot create the tables of a projection never built in it: such a
            // projection is left out, and reading it says so.
            let buildable = projections.filter { projection in
                !env.isReadOnly || projection.tableNames.allSatisfy { dbs[RegisteredProjection.tableName(projection.name, $0)] != nil && dbs[RegisteredProjection.tableName(projection.name, $0, scratch: true)] != nil }
            }
            let unbuilt = projections.filter { p in p.lifecycle == .following && !buildable.contains(where: { $0.name == p.name }) }.map(\.name)
            let textCache = TextCache(), foldTexts = DecodedTexts(budget: 16 << 20)
            let textSource = TextSource(store: tables.textStore, written: textCache, decoded: foldTexts, log: tables.log)
            let registered = try buildable.map { projection throws(LedgerError) -> RegisteredProjection in
                func tables(scratch: Bool) throws(LedgerError) -> ProjectionTables {
                    var found: [String: Database] = [:]
                    for table in projection.tableNames {
                        guard let db = dbs[RegisteredProjection.tableName(projection.name, table, scratch: scratch)] else {
                            throw LedgerError(.storage, "the projection \"\(projection.name)\" has never been built in the read-only ledger at \(directory)")
                        }
                        found[table] = db
                    }
                    return ProjectionTables(databases: found, texts: textSource)
                }
                return RegisteredProjection(projection: projection, live: try tables(scratch: false), scratch: try tables(scratch: true))
            }
            let following = !env.isReadOnly && !options.deferFollowingProjections && registered.contains(where: \.isFollowing)
            let ledger = Ledger(directory: directory, env: env, tables: tables, projections: registered, progress: options.projectionProgress, id: id, projector: following ? Projector() : nil, textCache: textCache, foldTexts: foldTexts, sharedLog: options.sharedLog, unbuiltFollowing: unbuilt)
            try ledger.bringProjectionsUpToDate()
            ledger.projector?.start(ledger)
            ledger.projector?.wake()
            return ledger
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError.storage(error, doing: "opening the ledger at \(directory)")
        }
    }

    deinit {
        projector?.stop()
    }

    /// The ledger's ID, after checking that its storage format is one this build reads.
    private static func checkedID<T: Transaction & ~Copyable>(of directory: String, tables: Tables, in txn: borrowing T) throws -> UUID {
        guard let format = try txn.get(tables.meta, key: MetaKey.format) else {
            throw LedgerError(.storage, "\(directory) is not a Palimpsest ledger (it has no ledger metadata)")
        }
        let version = BigEndianKey.decode(format)
        guard version <= formatVersion else {
            throw LedgerError(.storage, "the ledger at \(directory) was written by a newer Palimpsest (storage format \(version); this build reads format \(formatVersion) and older)")
        }
        guard let raw = try txn.get(tables.meta, key: MetaKey.ledgerID),
            let id = UUID(uuidString: String(decoding: raw, as: UTF8.self))
        else { throw LedgerError(.storage, "the ledger at \(directory) has no valid ledger ID") }
        return id
    }

    /// Bytes of the data file in use, and of those, bytes holding live data (the rest waits on LMDB's
    /// free list to be reused by later writes).
    public func spaceUsage() throws(LedgerError) -> (fileBytes: Int, liveBytes: Int) {
        do {
            let usage = try env.spaceUsage()
            return (usage.usedBytes, usage.liveBytes)
        } catch {
            throw LedgerError.storage(error, doing: "measuring the ledger at \(directory)")
        }
    }

    static func isWritable(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return st.st_mode & S_IWUSR != 0 && access(path, W_OK) == 0
    }
}

extension Environment {
    /// A write transaction, or a read transaction when the environment is read-only.
    func write<R>(
        _ body: (borrowing WriteTransaction) throws -> R, readOnly: (borrowing ReadTransaction) throws -> R
    ) throws -> R {
        isReadOnly ? try read(readOnly) : try write(body)
    }
}

extension LedgerError {
    /// Wraps a storage-layer failure in one sentence. `directory` (of a write) lets an I/O error be
    /// recognised as a full disk: LMDB reports a short write, which is what a full disk or a file-size
    /// limit produces, as EIO.
    static func storage(_ error: any Error, doing what: String, directory: String? = nil) -> LedgerError {
        if let error = error as? LedgerError { return error }
        if let lmdb = error as? LMDBError {
            let full = lmdb.code.rawValue == EIO && directory.map(Ledger.storageLooksFull) == true
            switch lmdb.code {
            case _ where full:
                return LedgerError(.storage, "storage full while \(what): there is no room left for the data file (the disk, a quota or a file-size limit); nothing was written", underlying: lmdb)
            case .noSpace, .mapFull, .fileTooLarge, .quotaExceeded:
                return LedgerError(.storage, "storage full while \(what): \(lmdb.reason.lowercased()); nothing was written", underlying: lmdb)
            case .permissionDenied, .readOnlyFileSystem:
                return LedgerError(.storage, "permission denied while \(what): the ledger is read-only", underlying: lmdb)
            default:
                return LedgerError(.storage, "storage error while \(what): \(lmdb.reason)", underlying: lmdb)
            }
        }
        return LedgerError(.storage, "storage error while \(what): \(error)")
    }
}

extension Ledger {
    /// Whether the ledger's data file cannot grow by another megabyte: the file system is (nearly)
    /// full, or the process's file-size limit is (nearly) reached.
    static func storageLooksFull(_ directory: String) -> Bool {
        let margin: UInt64 = 1 << 20
        var fs = statvfs()
        if statvfs(directory, &fs) == 0, UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < margin { return true }
        var limit = rlimit()
        var file = stat()
        if getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
            stat((directory as NSString).appendingPathComponent("data.mdb"), &file) == 0, UInt64(file.st_size) + margin >= UInt64(limit.rlim_cur)
        {
            return true
        }
        return false
    }
}

/// Texts recently written or read by the writer, by content hash, so that the next version of a
/// document finds its delta base without reading it back. Content-addressed, so never stale; bounded.
///
/// Locked: the writer fills it and the projector, on its own thread, reads the texts just written.
final class TextCache: @unchecked Sendable {
    private let lock = NSLock()
    private var texts: [Digest: [UInt8]] = [:]
    private var bytes = 0
    static let budget = 16 << 20

    func get(_ hash: Digest) -> [UInt8]? { lock.withLock { texts[hash] } }

    func put(_ hash: Digest, _ text: [UInt8]) {
        lock.withLock {
            if bytes + text.count > Self.budget {
                texts.removeAll(keepingCapacity: true)
                bytes = 0
            }
            if texts.updateValue(text, forKey: hash) == nil { bytes += text.count }
        }
    }

    /// Drops texts that were redacted.
    func forget(_ hashes: [Digest]) {
        lock.withLock {
            for hash in hashes { if let text = texts.removeValue(forKey: hash) { bytes -= text.count } }
        }
    }
}

/// The last few text hashes of retracted documents, newest last.
final class RecentTexts: @unchecked Sendable {
    private var hashes: [Digest] = []

    func append(contentsOf new: [Digest]) {
        hashes.append(contentsOf: new)
        if hashes.count > 8 { hashes.removeFirst(hashes.count - 8) }
    }

    func latest(_ n: Int) -> [Digest] { Array(hashes.suffix(n).reversed()) }

    func forget(_ withheld: [Digest]) { hashes.removeAll(where: withheld.contains) }
}

/// The latest text hash per file name, bounded.
final class TextsByName: @unchecked Sendable {
    private var hashes: [Substring: Digest] = [:]
    static let capacity = 100_000

    static func name(of document: String) -> Substring {
        document.split(separator: "/", omittingEmptySubsequences: true).last ?? Substring(document)
    }

    subscript(document: String) -> Digest? { hashes[Self.name(of: document)] }

    func record(_ updates: [(String, Digest)]) {
        if hashes.count + updates.count > Self.capacity { hashes.removeAll(keepingCapacity: true) }
        for (document, hash) in updates { hashes[Self.name(of: document)] = hash }
    }

    func forget(_ withheld: [Digest]) {
        let gone = Set(withheld)
        hashes = hashes.filter { !gone.contains($0.value) }
    }
}
