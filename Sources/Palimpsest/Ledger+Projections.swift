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
        try rebuildProjections(named: [name])
    }

    /// Throws away the tables of the named projections (default: every registered one) and folds every
    /// event into them again: the inline ones together in one pass, the following ones each in a lane
    /// of its own, the lanes side by side.
    public func rebuildProjections(named names: [String]? = nil) throws(LedgerError) {
        let names = names ?? projectionNames
        var chosen: [RegisteredProjection] = []
        for name in names {
            guard let registered = projections.first(where: { $0.projection.name == name }) else {
                throw LedgerError(.notFound, "there is no projection named \"\(name)\" (registered: \(projections.map(\.projection.name).sorted().joined(separator: ", ")))")
            }
            chosen.append(registered)
        }
        guard !isReadOnly else { throw LedgerError(.storage, "the ledger at \(directory) is read-only; a projection cannot be rebuilt") }
        // The projector waits while the tables are cleared and refolded (a reader catching up would too).
        lockFoldsInForeground()
        defer { foldLock.unlock() }
        try writing { txn in for registered in chosen { try clear(registered, in: txn) } }
        let inline = chosen.filter { !$0.isFollowing }
        if !inline.isEmpty { try catchUp(group: inline, reportingProgress: true) }
        let following = projections.filter(\.isFollowing)
        if chosen.contains(where: \.isFollowing) {
            var firstFailure: ProjectionFailure? = nil
            for (registered, outcome) in zip(following, try followSideBySide(following, reportingProgress: true, stopIf: { false })) {
                if case .failed(let failure) = outcome {
                    projectionFailures.record(failure)
                    firstFailure = firstFailure ?? failure
                } else {
                    projectionFailures.clear(registered.projection.name)
                }
            }
            if let failure = firstFailure { throw LedgerError(failure.error.code, failure.description, underlying: failure.error) }
        }
    }

    /// Rebuilds every registered projection into scratch tables and compares them, byte for byte,
    /// with the live ones; returns the first difference of each projection that differs.
    public func verifyProjections() throws(LedgerError) -> [ProjectionMismatch] {
        guard !isReadOnly else { throw LedgerError(.storage, "the ledger at \(directory) is read-only; projections cannot be rebuilt to compare") }
        var mismatches: [ProjectionMismatch] = []
        for registered in projections {
            try fold(registered, from: 1, into: registered.scratch, clearingFirst: true)
            // The live tables at the same position as the scratch ones: the head, unless more was
            // appended meanwhile (then both are brought to the new head).
            while true {
                _ = try catchUp(registered)
                let (live, rebuilt) = try reading { txn in (try checkpoint(of: registered.projection.name, in: txn)?.position ?? 0, try head(in: txn).position) }
                if live == rebuilt { break }
                try fold(registered, from: 1, into: registered.scratch, clearingFirst: true)
            }
            if let mismatch = try firstDifference(registered) { mismatches.append(mismatch) }
            try writing { txn in
                for table in registered.projection.tableNames { try txn.clear(registered.scratch[table]) }
            }
        }
        return mismatches
    }

    /// Reads a registered projection's tables in one read transaction (values are valid only inside
    /// `body`: copy what you keep). A following projection is first brought to the log's head, so
    /// `body` sees it exactly as current as the log in the same transaction.
    public func read<R>(projection name: String, _ body: (ProjectionTables, borrowing ReadTransaction) throws -> R) throws(LedgerError) -> R {
        guard let registered = projections.first(where: { $0.projection.name == name }) else {
            if isReadOnly {
                // Left out at open because a table its logic now uses is missing: built before, by
                // another version of that logic, when a checkpoint says so.
                if try reading({ txn in try checkpoint(of: name, in: txn) }) != nil {
                    throw LedgerError(.storage, "the projection \"\(name)\" is built by another version of its logic in the read-only ledger at \(directory); open it writable once to bring it up to date")
                }
                throw LedgerError(.storage, "the projection \"\(name)\" has never been built in the read-only ledger at \(directory); open it writable once to build it")
            }
            throw LedgerError(.notFound, "there is no projection named \"\(name)\"")
        }
        // Another process may append between the catch-up and the read: try again (each round folds
        // only what was appended meanwhile).
        for _ in 0..<100 {
            if registered.isFollowing, !isReadOnly { try bringUpToDate(registered) }
            let outcome: Result<R, LedgerError>? = try reading { txn in
                // Never serve a projection that disagrees with the log.
                let current = try checkpoint(of: name, in: txn)
                let head = try head(in: txn).position
                guard let current, current.version == registered.projection.version, current.position == head else {
                    guard isReadOnly || !registered.isFollowing else { return nil }
                    let behind = current.map { $0.version == registered.projection.version ? "\(head - min($0.position, head)) of \(head) events behind the log" : "built by another version of its logic" } ?? "never built"
                    return .failure(LedgerError(.projectionBehind, "the projection \"\(name)\" is \(behind) in the read-only ledger at \(directory); open it writable once to bring it up to date"))
                }
                return .success(try body(registered.live, txn))
            }
            if let outcome { return try outcome.get() }
        }
        throw LedgerError(.storage, "the projection \"\(name)\" could not catch up with the log of \(directory): other writers kept appending; try again")
    }

    /// Brings every following projection to the log's head (and every inline one, which always is,
    /// unless another process appended without it). Throws the first failure, naming the projection
    /// and the position whose fold failed.
    public func waitForProjections() throws(LedgerError) {
        guard !isReadOnly else { return }
        try catchUpFollowing(reportingProgress: true)
    }

    public func waitForProjections() async throws(LedgerError) {
        try await offloaded { ledger throws(LedgerError) in try ledger.waitForProjections() }
    }

    /// Where each following projection stands against the log: events still to fold, and the last
    /// failure of its fold, if any.
    public func followingProjectionsLag() throws(LedgerError) -> [(projection: String, behind: UInt64, failure: ProjectionFailure?)] {
        try reading { txn in
            let head = try head(in: txn).position
            return try projections.filter(\.isFollowing).map { registered in
                let name = registered.projection.name
                let current = try checkpoint(of: name, in: txn)
                let position = current?.version == registered.projection.version ? current!.position : 0
                return (name, head - min(position, head), projectionFailures[name])
            } + unbuiltFollowing.map { ($0, head, nil) }
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

    /// On open: catch each inline projection up with the log, or rebuild it when its logic changed.
    /// Following projections are left to the projector (and to their readers). A read-only ledger
    /// cannot, so it refuses to serve a projection that is not current.
    func bringProjectionsUpToDate() throws(LedgerError) {
        if isReadOnly { return }
        for registered in projections where !registered.isFollowing {
            _ = try catchUp(registered, reportingProgress: true)
        }
    }

    /// Folds the following projections to the head (all of them: they fold together, their
    /// computations side by side), recording and throwing a failure.
    func bringUpToDate(_ registered: RegisteredProjection) throws(LedgerError) {
        try catchUpFollowing(reportingProgress: true, skippingFailed: true, required: registered.projection.name)
    }

    /// The projector's round: folds the following projections that have not failed to the head, in
    /// batches, stopping early when asked. Failures are recorded for readers to report.
    func foldFollowingProjectionsInBackground(stopIf shouldStop: @escaping @Sendable () -> Bool) {
        _ = try? catchUpFollowing(skippingFailed: true, inBackground: true, stopIf: { shouldStop() || self.isFoldWantedInForeground })
    }

    /// Clears a projection's tables and sets its checkpoint to (version, 0): a rebuild starts.
    func clear(_ registered: RegisteredProjection, in txn: borrowing WriteTransaction) throws {
        let projection = registered.projection
        for table in projection.tableNames { try txn.clear(registered.live[table]) }
        try putCheckpoint(ProjectionCheckpoint(version: projection.version, position: 0), of: projection.name, in: txn)
    }

    /// Clears a projection's tables and removes its checkpoint (a redaction changed texts it folded):
    /// a fold another process computed from the old texts then finds no checkpoint to continue from
    /// and writes nothing, and the next fold starts over from position 1.
    func reset(_ registered: RegisteredProjection, in txn: borrowing WriteTransaction) throws {
        for table in registered.projection.tableNames { try txn.clear(registered.live[table]) }
        _ = try txn.delete(tables.checkpoints, key: Array(registered.projection.name.utf8))
    }

    /// Folds an inline projection's live tables from its checkpoint to the head (at open, and for a
    /// rebuild). Returns true when the head was reached.
    @discardableResult
    func catchUp(_ registered: RegisteredProjection, reportingProgress: Bool = false) throws(LedgerError) -> Bool {
        guard registered.isFollowing else { return try catchUp(group: [registered], reportingProgress: reportingProgress) }
        return try catchUpFollowing(reportingProgress: reportingProgress)
    }

    /// Folds every following projection to the head.
    @discardableResult
    func catchUpFollowing(
        reportingProgress: Bool = false, skippingFailed: Bool = false, required: String? = nil, inBackground: Bool = false,
        stopIf shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws(LedgerError) -> Bool {
        var lanes = projections.filter(\.isFollowing)
        if skippingFailed { lanes.removeAll { projectionFailures[$0.projection.name] != nil && $0.projection.name != required } }
        guard !lanes.isEmpty else { return true }
        if inBackground { foldLock.lock() } else { lockFoldsInForeground() }
        defer { foldLock.unlock() }
        // A projection whose fold fails is set aside (its failure recorded, its checkpoint where it
        // was) and the others go on without it: one embedder's bug holds nobody else back.
        let outcomes = try followSideBySide(lanes, reportingProgress: reportingProgress, stopIf: shouldStop)
        var firstFailure: ProjectionFailure? = nil
        var reachedAll = true
        for (k, registered) in lanes.enumerated() {
            switch outcomes[k] {
            case .reached:
                projectionFailures.clear(registered.projection.name)
            case .stopped:
                reachedAll = false
            case .failed(let failure):
                projectionFailures.record(failure)
                if required == nil || required == failure.projection { firstFailure = firstFailure ?? failure }
            }
        }
        if let failure = firstFailure { throw LedgerError(failure.error.code, failure.description, underlying: failure.error) }
        return reachedAll
    }

    /// Folds each projection of `group` to the head in a lane of its own, the lanes side by side: one
    /// computes while another holds the writer, so both cores stay busy. Folded in shared rounds, one
    /// core sat idle while each round's results were written (rust-lang/rfcs: 3.5 s of a 9 s
    /// catch-up). Every lane runs to its end; then the first storage error, if any, is thrown.
    private func followSideBySide(
        _ group: [RegisteredProjection], reportingProgress: Bool, stopIf shouldStop: @escaping @Sendable () -> Bool
    ) throws(LedgerError) -> [FollowOutcome] {
        let outcomes = ConcurrentResults<Result<FollowOutcome, LedgerError>>(count: group.count)
        sideBySide(group.count) { k in
            outcomes[k] = Result { () throws(LedgerError) in try self.follow([group[k]], reportingProgress: reportingProgress, stopIf: shouldStop) }
        }
        return try group.indices.map { k throws(LedgerError) in try outcomes[k]!.get() }
    }

    /// Takes `foldLock`, asking the projector to let go of it after its current round.
    func lockFoldsInForeground() {
        foregroundFoldsWaiting.add(1, ordering: .relaxed)
        foldLock.lock()
        foregroundFoldsWaiting.subtract(1, ordering: .relaxed)
    }

    /// Whether a foreground fold waits for `foldLock` (the projector's cue to stop after its round).
    var isFoldWantedInForeground: Bool { foregroundFoldsWaiting.load(ordering: .relaxed) > 0 }

    enum FollowOutcome { case reached, stopped, failed(ProjectionFailure) }

    /// Bytes of text a following fold reads, computes and then writes in one transaction. Each lane
    /// holds its round's texts (as strings) and what it computed from them until the write, and the
    /// lanes run side by side: `import git` of the Anarchism repository (15,180 commits) peaked at
    /// 280–324 MB with 32 MB rounds, 265–273 MB with 24 and 230–243 MB with 16, which took ~15% longer
    /// (more rounds rewrite the newest postings bucket and the document's state more often).
    static let followingBatchTextBytes = 24 << 20
    /// Distinct documents a following fold takes in one round. Each one's state (a provenance engine,
    /// the phrase postings of its new words) is held until the round's write: on a history of many
    /// documents (a git repository: rust-lang/rfcs has 1,086) a round of 2,000 events held ~600
    /// documents' engines and ~6 million postings, and peaked near 1 GB; one document's long history
    /// (Anarchism) is not bounded by this.
    static let followingBatchDocuments = 128

    /// Folds following projections to the head without holding the writer while they compute
    /// (DESIGN.md §5): each round reads a batch of events and loads the projections' state in a read
    /// transaction, computes the staged projections side by side with no transaction open, then takes
    /// the writer only to write the results, fold the unstaged projections, and store the checkpoints —
    /// after checking that nobody else folded the same events meanwhile. Returns true at the head.
    private func follow(_ group: [RegisteredProjection], reportingProgress: Bool, stopIf shouldStop: @Sendable () -> Bool) throws(LedgerError) -> FollowOutcome {
        struct Round { var from: UInt64; var folding: [RegisteredProjection]; var events: [(event: RecordedEvent, text: String?)]; var head: UInt64 }
        while !shouldStop() {
            // 1. Read: the events after the laggards' checkpoint, their texts, the state they touch.
            let read: Result<Round?, ProjectionFailure> = try reading { txn in
                let head = try head(in: txn).position
                var starts: [(registered: RegisteredProjection, from: UInt64)] = []
                for registered in group {
                    // Never built, or built by another version of its logic: cleared, then refolded.
                    guard let current = try checkpoint(of: registered.projection.name, in: txn), current.version == registered.projection.version else { return .success(nil) }
                    starts.append((registered, current.position + 1))
                }
                let from = starts.map(\.from).min()!
                guard from <= head else { return .success(Round(from: from, folding: [], events: [], head: head)) }
                let folding = starts.filter { $0.from == from }.map(\.registered)
                let needsText = folding.contains { $0.projection.needsText }
                var events: [(event: RecordedEvent, text: String?)] = []
                var bytes = 0
                var documents = Set<String>()
                try txn.scan(tables.log, from: BigEndianKey.encode(from)) { key, value in
                    let event = try EventRecord.decode(value, position: BigEndianKey.decode(key))
                    documents.insert(event.document)
                    if documents.count > Self.followingBatchDocuments, !events.isEmpty { return false }
                    let text = try event.contentHash.flatMap { hash -> String? in
                        guard needsText else { return nil }
                        guard let bytes = try textCache.get(hash) ?? tables.textStore.load(hash, reusing: foldTexts, in: txn) else {
                            throw LedgerError(.integrity, "the text of the event at position \(event.position) is missing")
                        }
                        return String(decoding: bytes, as: UTF8.self)
                    }
                    bytes += text?.utf8.count ?? 0
                    events.append((event, text))
                    return events.count < Self.foldBatch && bytes < Self.followingBatchTextBytes
                }
                for registered in folding {
                    guard let staged = registered.projection as? any StagedProjection else { continue }
                    do {
                        try staged.prepare(events.map(\.event), tables: registered.live, in: txn)
                    } catch let error as LMDBError {
                        throw error
                    } catch {
                        return .failure(ProjectionFailure(projection: staged.name, position: from, error: error as? LedgerError ?? LedgerError(.storage, "\(error)")))
                    }
                }
                return .success(Round(from: from, folding: folding, events: events, head: head))
            }
            let round: Round
            switch read {
            case .failure(let failure):
                return .failed(failure)
            case .success(nil):
                try writing { txn in
                    for registered in group {
                        let current = try checkpoint(of: registered.projection.name, in: txn)
                        if current?.version != registered.projection.version { try clear(registered, in: txn) }
                    }
                }
                continue
            case .success(let r?): round = r
            }
            if round.folding.isEmpty { return .reached }
            // 2. Compute, side by side, with no transaction open.
            let staged = round.folding.compactMap { registered in (registered.projection as? any StagedProjection).map { (registered, $0) } }
            let results = ConcurrentResults<[StagedWrite]>(count: staged.count)
            sideBySide(staged.count) { k in results[k] = staged[k].1.compute(round.events, tables: staged[k].0.live) }
            // 3. Write, unless another process folded these events first.
            let last = round.events.last!.event.position
            var attempts = 0
            let outcome: Result<Bool, ProjectionFailure> = try writingFold { txn in
                // A transaction run again (the map filled and grew) writes nothing: the first attempt
                // consumed state the projections keep in memory (records written at commit), so the
                // round starts over and the projections reload what the tables say.
                attempts += 1
                guard attempts == 1 else { return .success(false) }
                for registered in round.folding {
                    guard let current = try checkpoint(of: registered.projection.name, in: txn),
                        current.version == registered.projection.version, current.position == round.from - 1
                    else { return .success(false) }
                }
                do {
                    for (k, item) in staged.enumerated() { try item.1.write(results[k] ?? [], tables: item.0.live, in: txn) }
                    for registered in round.folding where !(registered.projection is any StagedProjection) {
                        for (event, text) in round.events {
                            do {
                                try registered.projection.apply(event, text: text, tables: registered.live, in: txn)
                            } catch let error as LMDBError {
                                throw error
                            } catch {
                                throw FoldFailure(projection: registered.projection.name, position: event.position, error: error)
                            }
                        }
                    }
                    for registered in round.folding { try registered.projection.willCommit(tables: registered.live, in: txn) }
                } catch let failure as FoldFailure {
                    let error = failure.error as? LedgerError ?? LedgerError(.storage, "\(failure.error)")
                    return .failure(ProjectionFailure(projection: failure.projection, position: failure.position, error: error))
                }
                for registered in round.folding {
                    try putCheckpoint(ProjectionCheckpoint(version: registered.projection.version, position: last), of: registered.projection.name, in: txn)
                }
                return .success(true)
            }
            switch outcome {
            case .failure(let failure):
                return .failed(failure)
            case .success(let wrote):
                if wrote { releaseIdleMemory() }
                if wrote, reportingProgress, let progress = projectionProgress {
                    for registered in round.folding { progress(registered.projection.name, last, round.head) }
                }
                if wrote, last >= round.head, round.folding.count == group.count { return .reached }
            }
        }
        return .stopped
    }

    /// Folds a group of inline projections' live tables from their checkpoints to the head (at open,
    /// for a rebuild, for a verification), in batched transactions that each read the checkpoints they
    /// continue from. A checkpoint of another version — the projection's logic changed — or none starts
    /// that projection over from empty tables. Projections behind the others fold first, alone, until
    /// the group is level. Returns true when the head was reached.
    @discardableResult
    func catchUp(group: [RegisteredProjection], reportingProgress: Bool = false) throws(LedgerError) -> Bool {
        while true {
            // The body may run more than once (a full map aborts it, grows and runs it again): it
            // changes nothing outside the transaction.
            let outcome: Result<(folded: Int, last: UInt64, head: UInt64, names: [String]), ProjectionFailure> = try writingFold { txn in
                let head = try head(in: txn).position
                var starts: [(registered: RegisteredProjection, from: UInt64)] = []
                for registered in group {
                    let projection = registered.projection
                    if let current = try checkpoint(of: projection.name, in: txn), current.version == projection.version, current.position > 0 {
                        starts.append((registered, current.position + 1))
                    } else {
                        try clear(registered, in: txn)
                        starts.append((registered, 1))
                    }
                }
                let from = starts.map(\.from).min() ?? 1
                guard from <= head else { return .success((0, from - 1, head, [])) }
                let folding = starts.filter { $0.from == from }.map(\.registered)
                let (count, last): (Int, UInt64)
                do {
                    (count, last) = try foldEvents(
                        of: folding.map(\.projection), from: from, limit: Self.foldBatch, into: folding.map(\.live), in: txn)
                    for registered in folding { try registered.projection.willCommit(tables: registered.live, in: txn) }
                } catch let failure as FoldFailure {
                    // Nothing of this batch is kept: the projections stay where they were.
                    let error = failure.error as? LedgerError ?? LedgerError(.storage, "\(failure.error)")
                    return .failure(ProjectionFailure(projection: failure.projection, position: failure.position, error: error))
                }
                for registered in folding {
                    try putCheckpoint(ProjectionCheckpoint(version: registered.projection.version, position: last), of: registered.projection.name, in: txn)
                }
                // Done when every projection of the group is at the head.
                let level = starts.allSatisfy { $0.from == from } ? last : starts.map { $0.from == from ? last : $0.from - 1 }.min()!
                return .success((count, level, head, folding.map(\.projection.name)))
            }
            switch outcome {
            case .failure(let failure):
                projectionFailures.record(failure)
                throw LedgerError(failure.error.code, failure.description, underlying: failure.error)
            case .success(let step):
                // Only after a round that folded something: an open with nothing to catch up pays nothing.
                if step.folded > 0 { releaseIdleMemory() }
                if reportingProgress, step.folded > 0, let progress = projectionProgress {
                    for name in step.names { progress(name, step.last, step.head) }
                }
                if step.last >= step.head { return true }
            }
        }
    }

    /// Folds events from `position` to the head into scratch tables (for `verifyProjections`), in
    /// batched transactions.
    func fold(_ registered: RegisteredProjection, from position: UInt64, into target: ProjectionTables, clearingFirst: Bool) throws(LedgerError) {
        let projection = registered.projection
        var next = position
        var first = true
        while true {
            // `next` moves only after the commit: a rerun of the body (a full map) starts where it did.
            let (folded, last) = try writing { txn in
                if first, clearingFirst {
                    for table in projection.tableNames { try txn.clear(target[table]) }
                }
                let (count, last) = try foldEvents(of: [projection], from: next, limit: Self.foldBatch, into: [target], in: txn)
                try projection.willCommit(tables: target, in: txn)
                return (count, last)
            }
            next = last + 1
            first = false
            if folded < Self.foldBatch { return }
        }
    }

    /// A projection's fold threw at `position`.
    struct FoldFailure: Error {
        let projection: String
        let position: UInt64
        let error: any Error
    }

    /// Events handed to the projections' folds at a time (their computations run side by side).
    static let foldChunkEvents = 64
    static let foldChunkTextBytes = 8 << 20

    /// Folds up to `limit` events from `position`
    /// on into `targets`, inside `txn`; returns how many and the last position folded. Staged
    /// projections compute side by side, off this thread, while this thread folds the others; an
    /// error of a projection's own fold is thrown as a `FoldFailure` naming it and the position.
    func foldEvents(
        of group: [any Projection], from position: UInt64, limit: Int, into targets: [ProjectionTables], in txn: borrowing WriteTransaction
    ) throws -> (count: Int, last: UInt64) {
        var count = 0
        var last = position - 1
        let needsText = group.contains(where: \.needsText)
        var chunk: [(event: RecordedEvent, text: String?)] = []
        var chunkBytes = 0
        try txn.scan(tables.log, from: BigEndianKey.encode(position)) { key, value in
            let event = try EventRecord.decode(value, position: BigEndianKey.decode(key))
            let text = try event.contentHash.flatMap { hash -> String? in
                guard needsText else { return nil }
                // Folds run on the writer's queue: the texts the writer just committed are in its
                // cache, and older ones decode one delta each from the text before them.
                guard let bytes = try textCache.get(hash) ?? tables.textStore.load(hash, reusing: foldTexts, in: txn) else {
                    throw LedgerError(.integrity, "the text of the event at position \(event.position) is missing")
                }
                chunkBytes += bytes.count
                return String(decoding: bytes, as: UTF8.self)
            }
            chunk.append((event, text))
            last = event.position
            count += 1
            if chunk.count >= Self.foldChunkEvents || chunkBytes >= Self.foldChunkTextBytes {
                try fold(chunk, into: group, targets: targets, in: txn)
                chunk.removeAll(keepingCapacity: true)
                chunkBytes = 0
            }
            return count < limit
        }
        if !chunk.isEmpty { try fold(chunk, into: group, targets: targets, in: txn) }
        return (count, last)
    }

    /// Folds a few events into each projection of a group: staged projections load their state here,
    /// compute on other threads (the first on this one, after the unstaged folds), then write here.
    private func fold(_ chunk: [(event: RecordedEvent, text: String?)], into group: [any Projection], targets: [ProjectionTables], in txn: borrowing WriteTransaction) throws {
        func failing<R>(_ projection: any Projection, at position: UInt64, _ body: () throws -> R) throws -> R {
            do {
                return try body()
            } catch let error as LMDBError {
                throw error  // storage: a full map grows and the transaction runs again
            } catch {
                throw FoldFailure(projection: projection.name, position: position, error: error)
            }
        }
        let events = chunk.map(\.event)
        var staged: [(index: Int, projection: any StagedProjection)] = []
        for (index, projection) in group.enumerated() {
            if let projection = projection as? any StagedProjection {
                try failing(projection, at: events[0].position) { try projection.prepare(events, tables: targets[index], in: txn) }
                staged.append((index, projection))
            }
        }
        let results = ConcurrentResults<[StagedWrite]>(count: staged.count)
        for (index, projection) in group.enumerated() where !(projection is any StagedProjection) {
            for (event, text) in chunk {
                try failing(projection, at: event.position) { try projection.apply(event, text: text, tables: targets[index], in: txn) }
            }
        }
        let computing = staged
        sideBySide(computing.count) { k in results[k] = computing[k].projection.compute(chunk, tables: targets[computing[k].index]) }
        for (k, item) in staged.enumerated() {
            try failing(item.projection, at: events[0].position) { try item.projection.write(results[k] ?? [], tables: targets[item.index], in: txn) }
        }
    }

    /// At the start of a write: another process (one that does not register every inline projection
    /// this one does) may have appended since this ledger was opened. Fold what an inline projection
    /// missed, in the same transaction, before anything new is folded into it.
    func catchUpProjections(in txn: borrowing WriteTransaction) throws {
        guard !projections.isEmpty else { return }
        let head = try head(in: txn).position
        for registered in projections where !registered.isFollowing {
            let projection = registered.projection
            let current = try checkpoint(of: projection.name, in: txn)
            guard let current, current.version == projection.version else {
                throw LedgerError(.conflict, "the projection \"\(projection.name)\" was rebuilt elsewhere with another version of its logic; reopen the ledger")
            }
            guard current.position < head else { continue }
            let (_, last) = try foldEvents(of: [projection], from: current.position + 1, limit: Int.max, into: [registered.live], in: txn)
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

    /// A write transaction whose body reports a projection's failure as a value: the transaction is
    /// then aborted (nothing of it kept), and the failure returned.
    func writingFold<S>(_ body: (borrowing WriteTransaction) throws -> Result<S, ProjectionFailure>) throws(LedgerError) -> Result<S, ProjectionFailure> {
        let outcome: Result<Result<S, ProjectionFailure>, LedgerError> = writeQueue.sync {
            do {
                let value = try env.write { txn in
                    switch try body(txn) {
                    case .success(let value): return value
                    case .failure(let failure): throw AbortedFold(failure: failure)
                    }
                }
                return .success(.success(value))
            } catch let aborted as AbortedFold {
                return .success(.failure(aborted.failure))
            } catch {
                return .failure(LedgerError.storage(error, doing: "updating projections in the ledger at \(directory)", directory: directory))
            }
        }
        return try outcome.get()
    }

    /// After a bulk write (an import's commit, a fold round): gives back what the round left
    /// resident but no longer needs — the data file's pages it read through the map
    /// (`Environment.releaseMappedPages`) and the malloc arenas' freed pages (`malloc_trim`: each
    /// thread's arena otherwise keeps the high-water mark of its round's texts and postings). An
    /// Anarchism import peaked at 640 MB resident before, ~180 MB of it mapped pages.
    func releaseIdleMemory() {
        env.releaseMappedPages()
        #if canImport(Glibc)
        _ = glibcMallocTrim(0)
        #endif
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

/// Runs `body(0..<count)` side by side: the first on this thread, the others on threads of their own
/// with stacks as large as the main thread's (the provenance engine's matching goes deep: dispatch's
/// worker threads have half a megabyte).
func sideBySide(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 1 else {
        if count == 1 { body(0) }
        return
    }
    let done = DispatchGroup()
    for k in 1..<count {
        done.enter()
        let thread = Thread {
            body(k)
            done.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    body(0)
    done.wait()
}

/// Thrown out of a projection's transaction to abort it (nothing of it kept) when its fold failed.
private struct AbortedFold: Error { let failure: ProjectionFailure }

#if canImport(Glibc)
/// glibc's `malloc_trim` (declared in `<malloc.h>`, which the Glibc module does not import).
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
