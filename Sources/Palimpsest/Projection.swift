// Projections read and write through LMDB's transactions (`WriteTransaction`, `ReadTransaction`,
// `Database`, `BigEndianKey`): a tool that embeds the library gets them with `import Palimpsest`.
@_exported import LMDB

/// A projection: a deterministic fold over the recorded events, with its own LMDB tables and a
/// checkpoint (the last position it has folded, and the version of its logic).
///
/// Each projection declares how it keeps up with the log (its `lifecycle`):
/// - ``ProjectionLifecycle/inline``: folded in the same write transaction that records each event. The
///   append pays for it, so only cheap, O(1)-per-event work belongs here (catalogue-like counts, the
///   Merkle tree, statistics).
/// - ``ProjectionLifecycle/following``: folded behind the writer by the ledger's projector, on its own
///   thread and in its own write transactions, each storing the projection's checkpoint with its
///   tables, so a kill at any moment resumes exactly where it stopped. Heavy folds (provenance, the
///   phrase index) belong here: appends and imports then run at the log's speed.
///
/// Either way a reader never sees a projection disagree with the log: ``Ledger/read(projection:_:)``
/// first brings a following projection to the log's head. When a ledger opens, a projection whose
/// checkpoint is behind the log (events were appended by a process that did not register it) is
/// caught up, and one whose `version` changed — its logic changed — is rebuilt from position 1
/// instead of serving stale state.
///
/// Tools that embed the library register their own projections in `Ledger.Options.projections`.
public protocol Projection: Sendable {
    /// A stable name: its tables are stored as `projection.<name>.<table>`.
    var name: String { get }
    /// Bump whenever `apply` changes what it writes.
    var version: UInt64 { get }
    /// The names of its tables.
    var tableNames: [String] { get }
    /// How the projection keeps up with the log (default: inline).
    var lifecycle: ProjectionLifecycle { get }
    /// Whether `apply` needs the text (rebuilding is much faster for projections that do not).
    var needsText: Bool { get }
    /// Folds one event. `text` is the full text after the event (nil for a retraction). Must depend
    /// on nothing but the event, the text and the projection's own tables.
    func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws
    /// Called once in every write transaction that folded events into the projection, just before it
    /// commits: a projection that keeps state in memory between events (to avoid rewriting the same
    /// records event after event) writes it here. If the transaction then fails, those writes vanish
    /// with it, so a projection must check its memory against its tables before trusting it again.
    func willCommit(tables: ProjectionTables, in txn: borrowing WriteTransaction) throws
}

/// How a projection keeps up with the log.
public enum ProjectionLifecycle: String, Sendable {
    /// Folded in the append's own transaction (cheap work only).
    case inline
    /// Folded behind the writer by the projector, in its own transactions.
    case following
}

extension Projection {
    public var lifecycle: ProjectionLifecycle { .inline }
    public var needsText: Bool { true }
    public func willCommit(tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {}
}

/// A projection's tables, by the names it declared.
public struct ProjectionTables: Sendable {
    let databases: [String: Database]
    /// The ledger's texts (the built-in projections store references to them).
    let texts: TextSource

    public subscript(name: String) -> Database {
        guard let db = databases[name] else { preconditionFailure("the projection has no table named \(name)") }
        return db
    }
}

/// Where a projection stands: the version of its logic and the last position folded into it.
public struct ProjectionCheckpoint: Sendable, Equatable {
    public var version: UInt64
    public var position: UInt64
    public init(version: UInt64, position: UInt64) { (self.version, self.position) = (version, position) }
}

/// A registered projection with its opened tables.
struct RegisteredProjection: Sendable {
    let projection: any Projection
    var isFollowing: Bool { projection.lifecycle == .following }
    let live: ProjectionTables
    /// Scratch tables of the same shape, for `verifyProjections`.
    let scratch: ProjectionTables

    static func tableName(_ projection: String, _ table: String, scratch: Bool = false) -> String {
        (scratch ? "scratch." : "projection.") + "\(projection).\(table)"
    }

    static func databaseNames(for projection: any Projection) -> [String] {
        projection.tableNames.flatMap { [tableName(projection.name, $0), tableName(projection.name, $0, scratch: true)] }
    }
}

/// A write a staged fold hands to the thread that holds the transaction.
struct StagedWrite: Sendable {
    let table: Database
    let key: [UInt8]
    let value: [UInt8]
    var options: WriteTransaction.PutOptions = []
}

/// A projection whose fold splits into reads, computation and writes (DESIGN.md §5: "a fold never
/// holds the writer while it computes"): the thread holding the write transaction loads state and
/// writes, while the computation of several such projections runs on several cores at once.
///
/// `apply` must equal `prepare` + `compute` + `write` of one event, so that a fold gives the same
/// tables however its events were grouped.
protocol StagedProjection: Projection {
    /// On the transaction's thread, before `compute`: makes sure the in-memory state of the documents
    /// these events touch reflects the tables (reloading it when not; `tables.texts` reads the ledger's
    /// texts, so that a projection stores references to them, never copies).
    func prepare<T: Transaction & ~Copyable>(_ events: [RecordedEvent], tables: ProjectionTables, in txn: borrowing T) throws
    /// On any thread, without a transaction: folds the events, in order, into the in-memory state
    /// `prepare` readied, and returns what to write, in order.
    func compute(_ events: [(event: RecordedEvent, text: String?)], tables: ProjectionTables) -> [StagedWrite]
    /// On the transaction's thread: writes what `compute` returned, then releases state over budget.
    func write(_ writes: [StagedWrite], tables: ProjectionTables, in txn: borrowing WriteTransaction) throws
}

/// The ledger's texts, by content hash, for the built-in projections (which store references to them).
struct TextSource: Sendable {
    let store: TextStore
    let written: TextCache
    let decoded: DecodedTexts
    let log: Database

    /// The document's text right after the event at `position` (empty after a retraction): a
    /// projection that records the position it folded last needs no copy, nor even the hash, of it.
    func textAfter<T: Transaction & ~Copyable>(position: UInt64, in txn: borrowing T) throws -> (text: [UInt8], hash: Digest?) {
        guard let event = try txn.withValue(log, key: BigEndianKey.encode(position), { raw in try EventRecord.decode(raw, position: position) }) else {
            throw LedgerError(.integrity, "the event at position \(position) is missing from the log")
        }
        guard event.type != .retracted, let hash = event.contentHash else { return ([], nil) }
        return (try load(hash, in: txn), hash)
    }

    func load<T: Transaction & ~Copyable>(_ hash: Digest, in txn: borrowing T) throws -> [UInt8] {
        guard let text = try written.get(hash) ?? store.load(hash, reusing: decoded, in: txn) else {
            throw LedgerError(.integrity, "the text \(hash.hex) is missing from the ledger")
        }
        return text
    }
}

extension StagedProjection {
    func applyStaged(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        try prepare([event], tables: tables, in: txn)
        try write(compute([(event, text)], tables: tables), tables: tables, in: txn)
    }
}
