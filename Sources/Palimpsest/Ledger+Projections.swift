import Foundation
import LMDB

/// The first place where a projection's live tables differ from a rebuild.
public struct ProjectionMismatch: Sendable, Equatable, CustomStringConvertible {
    public let projection: String
    public let table: String
    /// Hex of the first key that differs (present on one side only, or with different values).
    public let key: String
    public let what: String
    public var description: String { "projection \"\(projection)\", table \"\(table)\", key \(key): \(what)" }

    public init(projection: String, table: String, key: String, what: String) {
        (self.projection, self.table, self.key, self.what) = (projection, table, key, what)
    }
}

extension Ledger {
    /// Events folded per transaction when a projection catches up or rebuilds.
    static let foldBatch = 2000

    /// The names of the registered projections (the built-in ones first).
    public var projectionNames: [String] { projections.map(\.projection.name) }

    /// Where a registered projection stands, or nil when it has never been built.
    public func checkpoint(of projection: String) throws(LedgerError) -> ProjectionCheckpoint? {
        try reading { txn in try checkpoint(of: projection, in: txn) }
    }

    /// Throws away a registered projection's tables and folds every event into them again.
    public func rebuildProjection(named name: String) throws(LedgerError) {
        guard let registered = projections.first(where: { $0.projection.name == name }) else {
            throw LedgerError(.notFound, "there is no projection named \"\(name)\" (registered: \(projections.map(\.projection.name).sorted().joined(separator: ", ")))")
        }
        guard !isReadOnly else { throw LedgerError(.storage, "the ledger at \(directory) is read-only; a projection cannot be rebuilt") }
        try fold(registered, from: 1, into: registered.live, clearingFirst: true, checkpointing: true)
    }

    /// Rebuilds every registered projection into scratch tables and compares them, byte for byte,
    /// with the live ones; returns the first difference of each projection that differs.
    public func verifyProjections() throws(LedgerError) -> [ProjectionMismatch] {
        guard !isReadOnly else { throw LedgerError(.storage, "the ledger at \(directory) is read-only; projections cannot be rebuilt to compare") }
        var mismatches: [ProjectionMismatch] = []
        for registered in projections {
            try fold(registered, from: 1, into: registered.scratch, clearingFirst: true, checkpointing: false)
            if let mismatch = try firstDifference(registered) { mismatches.append(mismatch) }
            try writing { txn in
                for table in registered.projection.tableNames { try txn.clear(registered.scratch[table]) }
            }
        }
        return mismatches
    }

    /// Reads a registered projection's tables in one read transaction (values are valid only inside
    /// `body`: copy what you keep).
    public func read<R>(projection name: String, _ body: (ProjectionTables, borrowing ReadTransaction) throws -> R) throws(LedgerError) -> R {
        guard let registered = projections.first(where: { $0.projection.name == name }) else {
            if isReadOnly {
                throw LedgerError(.storage, "the projection \"\(name)\" has never been built in the read-only ledger at \(directory); open it writable once to build it")
            }
            throw LedgerError(.notFound, "there is no projection named \"\(name)\"")
        }
        return try reading { txn in
            // Never serve a projection that disagrees with the log.
            let current = try checkpoint(of: name, in: txn)
            guard let current, current.version == registered.projection.version, current.position == (try head(in: txn)).position else {
                throw LedgerError(.storage, "the projection \"\(name)\" is not current in the read-only ledger at \(directory); open it writable once to bring it up to date")
            }
            return try body(registered.live, txn)
        }
    }

    // MARK: Internals

    func checkpoint<T: Transaction & ~Copyable>(of projection: String, in txn: borrowing T) throws -> ProjectionCheckpoint? {
        try txn.withValue(tables.checkpoints, key: Array(projection.utf8)) { value in
            guard value.count == 16 else { throw LedgerError(.integrity, "the checkpoint of projection \"\(projection)\" is damaged") }
            return ProjectionCheckpoint(version: BigEndianKey.decode(value), position: BigEndianKey.decode(value, at: 8))
        }
    }

    func putCheckpoint(_ checkpoint: ProjectionCheckpoint, of projection: String, in txn: borrowing WriteTransaction) throws {
        try txn.put(tables.checkpoints, key: Array(projection.utf8), value: BigEndianKey.encode(checkpoint.version) + BigEndianKey.encode(checkpoint.position))
    }

    /// On open: catch each projection up with the log, or rebuild it when its logic changed. A
    /// read-only ledger cannot, so it refuses to serve a projection that is not current.
    func bringProjectionsUpToDate() throws(LedgerError) {
        for registered in projections {
            let projection = registered.projection
            let head = try self.head().position
            let current = try checkpoint(of: projection.name)
            // A read-only ledger cannot catch up: its projections are checked when they are read.
            if isReadOnly { continue }
            // A checkpoint at 0 with the right version means a rebuild was started: start it again
            // from empty tables rather than fold twice into what is there.
            if let current, current.version == projection.version, current.position > 0 {
                if current.position < head {
                    try fold(registered, from: current.position + 1, into: registered.live, clearingFirst: false, checkpointing: true)
                }
            } else {
                try fold(registered, from: 1, into: registered.live, clearingFirst: true, checkpointing: true)
            }
        }
    }

    /// Folds events from `position` to the head into `target`, in batched transactions.
    func fold(_ registered: RegisteredProjection, from position: UInt64, into target: ProjectionTables, clearingFirst: Bool, checkpointing: Bool) throws(LedgerError) {
        let projection = registered.projection
        var next = position
        var first = true
        while true {
            // The body may run more than once (a full map aborts it, grows and runs it again): it
            // changes nothing outside the transaction; `next` moves only after the commit.
            let (folded, last) = try writing { txn in
                if first, clearingFirst {
                    for table in projection.tableNames { try txn.clear(target[table]) }
                    if checkpointing { try putCheckpoint(ProjectionCheckpoint(version: projection.version, position: 0), of: projection.name, in: txn) }
                }
                let (count, last) = try foldEvents(of: projection, from: next, limit: Self.foldBatch, into: target, in: txn)
                try projection.willCommit(tables: target, in: txn)
                if checkpointing, count > 0 || (first && clearingFirst) {
                    try putCheckpoint(ProjectionCheckpoint(version: projection.version, position: last), of: projection.name, in: txn)
                }
                return (count, last)
            }
            next = last + 1
            first = false
            if checkpointing, let progress = projectionProgress {
                progress(projection.name, next - 1, try head().position)
            }
            if folded < Self.foldBatch { return }
        }
    }

    /// Folds up to `limit` events from `position` on into `target`, inside `txn`; returns how many and
    /// the last position folded.
    func foldEvents(
        of projection: any Projection, from position: UInt64, limit: Int, into target: ProjectionTables, in txn: borrowing WriteTransaction
    ) throws -> (count: Int, last: UInt64) {
        var count = 0
        var last = position - 1
        try txn.scan(tables.log, from: BigEndianKey.encode(position)) { key, value in
            let event = try EventRecord.decode(value, position: BigEndianKey.decode(key))
            let text = try event.contentHash.flatMap { hash -> String? in
                guard projection.needsText else { return nil }
                guard let bytes = try tables.textStore.load(hash, in: txn) else {
                    throw LedgerError(.integrity, "the text of the event at position \(event.position) is missing")
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            try projection.apply(event, text: text, tables: target, in: txn)
            last = event.position
            count += 1
            return count < limit
        }
        return (count, last)
    }

    /// At the start of a write: another process (one that does not register every projection this
    /// one does) may have appended since this ledger was opened. Fold what a projection missed, in
    /// the same transaction, before anything new is folded into it.
    func catchUpProjections(in txn: borrowing WriteTransaction) throws {
        guard !projections.isEmpty else { return }
        let head = try head(in: txn).position
        for registered in projections {
            let projection = registered.projection
            let current = try checkpoint(of: projection.name, in: txn)
            guard let current, current.version == projection.version else {
                throw LedgerError(.conflict, "the projection \"\(projection.name)\" was rebuilt elsewhere with another version of its logic; reopen the ledger")
            }
            guard current.position < head else { continue }
            let (_, last) = try foldEvents(of: projection, from: current.position + 1, limit: Int.max, into: registered.live, in: txn)
            try putCheckpoint(ProjectionCheckpoint(version: projection.version, position: last), of: projection.name, in: txn)
        }
    }

    /// Compares live and scratch tables of a projection, key by key.
    func firstDifference(_ registered: RegisteredProjection) throws(LedgerError) -> ProjectionMismatch? {
        try reading { txn in
            for table in registered.projection.tableNames {
                var live: [([UInt8], [UInt8])] = [], rebuilt: [([UInt8], [UInt8])] = []
                try txn.scan(registered.live[table]) { k, v in live.append((Array(k), Array(v))); return true }
                try txn.scan(registered.scratch[table]) { k, v in rebuilt.append((Array(k), Array(v))); return true }
                func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).leftPadded(2) }.joined() }
                for index in 0..<max(live.count, rebuilt.count) {
                    let a = index < live.count ? live[index] : nil, b = index < rebuilt.count ? rebuilt[index] : nil
                    if let a, let b, a.0 == b.0, a.1 == b.1 { continue }
                    let name = registered.projection.name
                    switch (a, b) {
                    case (let a?, let b?) where a.0 == b.0:
                        return ProjectionMismatch(projection: name, table: table, key: hex(a.0), what: "the live value differs from the rebuilt one")
                    case (let a?, let b?):
                        let (key, what) = a.0.lexicographicallyPrecedes(b.0) ? (a.0, "present in the live table only") : (b.0, "missing from the live table")
                        return ProjectionMismatch(projection: name, table: table, key: hex(key), what: what)
                    case (let a?, nil):
                        return ProjectionMismatch(projection: name, table: table, key: hex(a.0), what: "present in the live table only")
                    case (nil, let b?):
                        return ProjectionMismatch(projection: name, table: table, key: hex(b.0), what: "missing from the live table")
                    default: continue
                    }
                }
            }
            return nil
        }
    }

    /// A write transaction outside the append path (projection upkeep), errors as `LedgerError`.
    func writing<R>(_ body: (borrowing WriteTransaction) throws -> R) throws(LedgerError) -> R {
        let outcome: Result<R, LedgerError> = writeQueue.sync {
            do {
                return .success(try env.write(body))
            } catch {
                return .failure(LedgerError.storage(error, doing: "updating projections in the ledger at \(directory)", directory: directory))
            }
        }
        return try outcome.get()
    }
}
