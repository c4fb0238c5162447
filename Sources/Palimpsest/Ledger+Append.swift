import Foundation
import LMDB

/// What appending one event did.
public struct AppendResult: Sendable, Equatable {
    /// The event as recorded (for a repeated event ID, the one recorded the first time).
    public let event: RecordedEvent
    /// True when the event ID was already in the ledger and nothing was written.
    public let wasAlreadyRecorded: Bool
    /// True when the event's effective time is earlier than the document's previous event.
    public let wasBackdated: Bool
    /// Bytes of text the event carries (0 for a retraction or a repeat).
    public let textBytes: Int
}

extension Ledger {
    /// Appends one event in its own durable transaction.
    @discardableResult
    public func append(_ event: NewEvent) throws(LedgerError) -> AppendResult {
        try append(contentsOf: [event])[0]
    }

    /// Appends events in one transaction: all are recorded, or (on any error) none.
    @discardableResult
    public func append(contentsOf events: [NewEvent]) throws(LedgerError) -> [AppendResult] {
        // A replica first copies what others appended, outside the shared log's lock.
        try catchUpWithSharedLog()
        return try withWriter { txn, writer in
            var results: [AppendResult] = []
            results.reserveCapacity(events.count)
            for (n, event) in events.enumerated() {
                do {
                    results.append(try writer.append(event, in: txn))
                } catch let error as LedgerError where events.count > 1 {
                    throw error.prefixed("event \(n + 1) of \(events.count)")
                }
            }
            return results
        }
    }

    @discardableResult
    public func append(_ event: NewEvent) async throws(LedgerError) -> AppendResult {
        try await offloaded { ledger throws(LedgerError) in try ledger.append(event) }
    }

    @discardableResult
    public func append(contentsOf events: [NewEvent]) async throws(LedgerError) -> [AppendResult] {
        try await offloaded { ledger throws(LedgerError) in try ledger.append(contentsOf: events) }
    }

    func offloaded<R: Sendable>(_ body: @escaping @Sendable (Ledger) throws(LedgerError) -> R) async throws(LedgerError) -> R {
        let result: Result<R, LedgerError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(LedgerError) in try body(self) })
            }
        }
        return try result.get()
    }

    /// Runs `body` in one write transaction on the writer queue. Throwing (or a failure to commit)
    /// leaves the ledger exactly as it was.
    ///
    /// With a shared log (`Options.sharedLog`) and `sequenced`, the first new event takes the shared
    /// log's lock and the transaction's new events are committed to it before this commit; not
    /// `sequenced`, only events copied from the shared log (`append(recorded:)`) may be written.
    func withWriter<R>(sequenced: Bool = true, _ body: (borrowing WriteTransaction, inout TransactionWriter) throws -> R) throws(LedgerError) -> R {
        guard !isReadOnly else {
            throw LedgerError(.storage, "the ledger at \(directory) is read-only; nothing was written")
        }
        let outcome: Result<R, LedgerError> = writeQueue.sync {
            let shared = SharedSessionSlot()
            defer { shared.session?.rollback() }
            do {
                var added: [(Digest, [UInt8])] = []
                var retracted: [Digest] = []
                var named: [(String, Digest)] = []
                var withheld: [Digest] = []
                var appended = false
                let value = try env.write { txn in
                    added.removeAll()
                    // A retried transaction (the map grew) starts its shared session again.
                    shared.session?.rollback()
                    shared.session = nil
                    shared.records.removeAll()
                    try catchUpProjections(in: txn)
                    var writer = TransactionWriter(ledger: self, shared: sequenced && sharedLog != nil ? shared : nil)
                    let value = try body(txn, &writer)
                    for registered in projections where !registered.isFollowing { try registered.projection.willCommit(tables: registered.live, in: txn) }
                    appended = writer.lastPosition != nil
                    if let last = writer.lastPosition {
                        for registered in projections where !registered.isFollowing {
                            try putCheckpoint(ProjectionCheckpoint(version: registered.projection.version, position: last), of: registered.projection.name, in: txn)
                        }
                    }
                    added = writer.addedTexts
                    retracted = writer.retractedTexts
                    named = writer.namedTexts
                    withheld = writer.withheldTexts
                    if let session = shared.session {
                        guard withheld.isEmpty else {
                            throw LedgerError(.invalidInput, "redacting a shared ledger is not supported: a redaction must rewrite the texts in the shared log and in every replica at once (DESIGN.md §10); nothing was written")
                        }
                        // The shared log first: if it refuses, this transaction is abandoned with it.
                        // If this commit then fails, the replica copies the events back from it.
                        shared.session = nil
                        try session.commit(shared.records)
                    }
                    return value
                }
                if !withheld.isEmpty {
                    // Redacted: no cache of this process may serve the old bytes again.
                    textCache.forget(withheld)
                    recentlyRetracted.forget(withheld)
                    textsByName.forget(withheld)
                    foldTexts.removeAll()
                }
                // Only after the commit: cached texts are then certainly the stored ones.
                for (hash, text) in added { textCache.put(hash, text) }
                recentlyRetracted.append(contentsOf: retracted)
                textsByName.record(named)
                if appended { projector?.wake() }
                return .success(value)
            } catch {
                return .failure(LedgerError.storage(error, doing: "writing to the ledger at \(directory)", directory: directory))
            }
        }
        return try outcome.get()
    }
}

/// Appends events inside one write transaction. Every check runs before the first write of an event,
/// so a refused event leaves the transaction as it was.
struct TransactionWriter {
    let ledger: Ledger
    /// The shared log's session of this transaction (nil: the ledger appends on its own).
    let shared: SharedSessionSlot?
    /// The shared log's clock, once its session is open: the recorded time of new events.
    private var sharedClock: Timestamp?
    init(ledger: Ledger, shared: SharedSessionSlot? = nil) { (self.ledger, self.shared) = (ledger, shared) }

    /// Texts written by this transaction, in order, for the writer's cache once it commits.
    var addedTexts: [(Digest, [UInt8])] = []
    /// The same texts by hash: delta bases for later events of the same transaction. Content-
    /// addressed, so never stale.
    private var pendingTexts: [Digest: [UInt8]] = [:]
    /// Texts of documents retracted by this transaction (renames are a retraction and a publication).
    var retractedTexts: [Digest] = []
    /// The position of the last event this transaction appended, for the projections' checkpoints.
    var lastPosition: UInt64?
    /// (document, text hash) of every text this transaction wrote, for `Ledger.textsByName`.
    var namedTexts: [(String, Digest)] = []
    /// Texts this transaction withheld (redaction), for the caches to forget once it commits.
    var withheldTexts: [Digest] = []
    private var pendingNames: [Substring: Digest] = [:]

    var tables: Ledger.Tables { ledger.tables }

    /// Appends a new event: assigns position, version, recorded time and hashes.
    ///
    /// With `publishRestoresRetracted`, publishing a retracted document records a restoration (a file
    /// deleted and added again at the same path, in a git history); importers of real histories use it.
    mutating func append(_ event: NewEvent, publishRestoresRetracted: Bool = false, in txn: borrowing WriteTransaction) throws -> AppendResult {
        try joinSharedLog(in: txn)
        var event = event
        if publishRestoresRetracted, case .publish(let text, _, _, _) = event.change {
            if try event.eventID.flatMap({ try ledger.event(id: $0, in: txn) }) == nil,
                try ledger.documentInfo(event.document, in: txn)?.status == .retracted
            {
                event.change = .restore(text: text)
            }
        }
        return try append(event, recorded: nil, sharing: shared != nil, in: txn)
    }

    /// Appends an event as another ledger recorded it (an export line): its position, recorded time
    /// and hashes must be exactly what this ledger would give it.
    ///
    /// On a replica, an export line that does not come from the shared log itself (`copied`: false —
    /// a local ledger's export imported into a shared one) is appended through the shared log like a
    /// new event, at the position it states.
    mutating func append(recorded: RecordedEvent, text: String?, copied: Bool = false, in txn: borrowing WriteTransaction) throws -> AppendResult {
        let sharing = shared != nil && !copied
        if sharing {
            guard recorded.type != .redacted else {
                throw LedgerError(.invalidInput, "the event at position \(recorded.position) is a redaction, and redacting a shared ledger is not supported yet; nothing was written")
            }
            try joinSharedLog(in: txn)
        }
        let change: Change
        switch recorded.type {
        case .published:
            change = .publish(text: text ?? "", title: recorded.title, language: recorded.language, variantOf: recorded.variantOf)
        case .edited: change = .edit(text: text ?? "")
        case .retracted: change = .retract(reason: recorded.reason, kind: recorded.kind ?? .withdrawn)
        case .restored: change = .restore(text: text ?? "")
        case .redacted: return try appendRedaction(recorded: recorded, in: txn)
        }
        let event = NewEvent(
            document: recorded.document, change: change, at: recorded.at, actor: recorded.actor,
            source: recorded.source, message: recorded.message, metadata: recorded.metadata,
            eventID: recorded.eventID, allowBackdated: true)
        return try append(event, recorded: recorded, sharing: sharing, in: txn)
    }

    /// `sharing`: the event goes to the shared log too (a new event, or an export line imported into
    /// a replica), as opposed to one copied from it.
    private mutating func append(_ event: NewEvent, recorded: RecordedEvent?, sharing: Bool, in txn: borrowing WriteTransaction) throws -> AppendResult {
        let tables = self.tables
        // Only error messages need the quoted ID: build it when one is thrown, not for every event.
        func docName() -> String { DocumentID.quoted(event.document) }
        if let problem = DocumentID.problem(with: event.document) {
            throw LedgerError(.invalidInput, problem)
        }
        guard !event.actor.isEmpty else {
            throw LedgerError(.invalidInput, "the actor of an event on \(docName()) may not be empty (use \"unknown\" when it is not known)")
        }
        if case .publish(_, _, _, let variantOf?) = event.change, let problem = DocumentID.problem(with: variantOf) {
            throw LedgerError(.invalidInput, "variant-of: \(problem)")
        }
        if let text = event.change.text, text.utf8.count > Ledger.maximumTextBytes {
            throw LedgerError(.invalidInput, "the text of \(docName()) is \(text.utf8.count) bytes; the limit is \(Ledger.maximumTextBytes) bytes (32 MiB) a version")
        }

        // A repeated event ID is a no-op, not a second event.
        if let id = event.eventID, let existing = try ledger.event(id: id, in: txn) {
            // The same ID for the same document is the same event, whatever the importer mapped it
            // to (a publish recorded as a restoration, a page's first revision in a later dump).
            guard existing.document == event.document else {
                throw LedgerError(.conflict, "the event ID \(id.uuidString.lowercased()) is already recorded at position \(existing.position) for a \(existing.type.rawValue) event of \(DocumentID.quoted(existing.document))")
            }
            if let recorded, recorded.hash != existing.hash {
                throw LedgerError(.conflict, "the event ID \(id.uuidString.lowercased()) is already recorded at position \(existing.position) with a different hash")
            }
            return AppendResult(event: existing, wasAlreadyRecorded: true, wasBackdated: false, textBytes: 0)
        }

        let current = try ledger.documentInfo(event.document, in: txn)
        let currentVersion = current?.version ?? 0
        switch event.expectedVersion {
        case .any: break
        case .noStream where current != nil:
            throw LedgerError(.conflict, "\(docName()) already exists (version \(currentVersion)), but the writer expected no document")
        case .exact(let v) where v != currentVersion:
            throw LedgerError(.conflict, "\(docName()) is at version \(currentVersion), but the writer expected version \(v); nothing was written")
        default: break
        }
        switch (event.change, current?.status) {
        case (.publish, nil): break
        case (.publish, .retracted?):
            throw LedgerError(.conflict, "\(docName()) was published and then retracted (version \(current!.version)); bring it back with `restore`")
        case (.publish, _?):
            throw LedgerError(.conflict, "\(docName()) is already published (version \(current!.version)); record a change with `edit`")
        case (_, nil):
            throw LedgerError(.notFound, "there is no document \(docName()) in the ledger; `publish` it first")
        case (.edit, .retracted?), (.retract, .retracted?):
            throw LedgerError(.conflict, "\(docName()) is retracted (version \(current!.version)); `restore` it first")
        case (.restore, .active?):
            throw LedgerError(.conflict, "\(docName()) is not retracted, so it cannot be restored")
        default: break
        }
        let backdated = current.map { event.at < $0.lastAt } ?? false
        if backdated, !event.allowBackdated {
            throw LedgerError(.conflict, "the time \(event.at) is earlier than the last event of \(docName()) (version \(currentVersion) at \(current!.lastAt)); pass --allow-backdated to record it anyway")
        }

        // Position, chain and recorded time.
        let head = try ledger.head(in: txn)
        let position = head.position + 1
        let now = sharedClock ?? Timestamp.now()
        let recordedAt = recorded?.recordedAt ?? max(now, head.recordedAt)

        // Text.
        var contentHash: Digest? = nil
        var textBytes: [UInt8] = []
        var commitment: Digest? = nil
        var salt: [UInt8]? = nil
        if let text = event.change.text {
            textBytes = Array(text.utf8)
            contentHash = event.knownContentHash ?? Digest.sha256(textBytes)
            if let recorded {
                // An export line: its commitment is whatever recipe its ledger used — plain SHA-256,
                // salted segments (with `textSalt`), or a redacted text's proof.
                if let redactedBy = recorded.redactedBy {
                    guard redactedBy > recorded.position else {
                        throw LedgerError(.invalidInput, "the text of the event at position \(recorded.position) is marked redacted by position \(redactedBy), which is not a later event")
                    }
                    commitment = recorded.contentHash
                    if let proof = recorded.textProof, proof.commitment(readableText: textBytes) != recorded.contentHash {
                        throw LedgerError(.integrity, "the readable part of the redacted text of the event at position \(recorded.position) does not match its contentHash")
                    }
                } else if let recordedSalt = recorded.textSalt {
                    salt = recordedSalt
                    commitment = TextCommitment.commitment(text: textBytes, salt: recordedSalt)
                }
            } else {
                let made = SaltedCommitment(text: textBytes)
                (salt, commitment) = (made.salt, made.digest)
            }
        }
        let version = currentVersion + 1
        let (title, language, variantOf): (String?, String?, String?) = {
            if case .publish(_, let t, let l, let v) = event.change { return (t, l, v) }
            return (nil, nil, nil)
        }()
        let (reason, kind): (String?, RetractionKind?) = {
            if case .retract(let r, let k) = event.change { return (r, k) }
            return (nil, nil)
        }()
        var recordedEvent = RecordedEvent(
            position: position, eventID: event.eventID ?? UUID.timeOrdered(at: recordedAt), document: event.document, version: version,
            type: event.change.type, at: event.at, recordedAt: recordedAt, actor: event.actor, source: event.source,
            message: event.message, metadata: event.metadata, contentHash: contentHash, commitment: commitment,
            textSalt: salt, redactedBy: recorded?.redactedBy, textProof: recorded?.textProof, previousHash: head.hash,
            hash: .zero, title: title, language: language, variantOf: variantOf, reason: reason, kind: kind)
        recordedEvent.hash = recordedEvent.computeHash()

        if let recorded {
            guard recorded.position == position else {
                throw LedgerError(.conflict, "the event for \(docName()) is at position \(recorded.position), but the ledger's next position is \(position)")
            }
            guard recorded.version == version else {
                throw LedgerError(.conflict, "the event at position \(position) is version \(recorded.version) of \(docName()), but the document's next version is \(version)")
            }
            guard recorded.previousHash == head.hash else {
                throw LedgerError(.integrity, "the event at position \(position) does not chain to the previous event (its previousHash is not the hash of position \(head.position))")
            }
            guard recorded.contentHash == (commitment ?? contentHash) else {
                throw LedgerError(.integrity, "the text of the event at position \(position) does not match its contentHash")
            }
            guard recorded.hash == recordedEvent.hash else {
                throw LedgerError(.integrity, "the event at position \(position) does not match its hash (recomputed \(recordedEvent.hash.hex))")
            }
        }

        // Every check passed: write.
        if let contentHash {
            let bases = try deltaBases(for: event, current: current, in: txn)
            try tables.textStore.store(textBytes, hash: contentHash, bases: bases, in: txn)
            if sharing, let shared {
                // The document's previous text, when it had one, is the shared row's delta base.
                let previous = current?.contentHash.flatMap { hash in bases.first(where: { $0.hash == hash }) }
                shared.records.append(SharedLogCodec.record(recordedEvent, text: textBytes, base: previous))
            }
            namedTexts.append((event.document, contentHash))
            pendingNames[TextsByName.name(of: event.document)] = contentHash
            if ledger.textCache.get(contentHash) == nil, pendingTexts.updateValue(textBytes, forKey: contentHash) == nil {
                addedTexts.append((contentHash, textBytes))
            }
        }
        if case .retract = event.change, let withdrawn = current?.contentHash {
            retractedTexts.append(withdrawn)
        }
        if contentHash == nil, sharing, let shared {
            shared.records.append(SharedLogCodec.record(recordedEvent, text: nil, base: nil))
        }


        try txn.put(tables.log, key: BigEndianKey.encode(position), value: EventRecord.encode(recordedEvent), options: .append)
        let idBytes = withUnsafeBytes(of: recordedEvent.eventID.uuid) { Array($0) }
        try txn.put(tables.eventIDs, key: idBytes, value: BigEndianKey.encode(position))

        var info: DocumentInfo
        if var existing = current {
            existing.record(recordedEvent, textLength: UInt64(textBytes.count))
            info = existing
        } else {
            info = DocumentInfo(first: recordedEvent, key: try UInt64(txn.count(tables.catalogue)) + 1, textLength: UInt64(textBytes.count))
            var keyRecord = BigEndianKey.encode(info.key)
            keyRecord.append(contentsOf: event.document.utf8)
            try txn.put(tables.documentKeys, key: Digest.sha256(event.document).bytes, value: keyRecord)
        }
        try txn.put(tables.catalogue, key: BigEndianKey.encode(info.key), value: info.encode())
        let entry = StreamEntry(position: position, at: event.at, textHash: info.contentHash, type: event.change.type)
        try txn.put(tables.streams, key: StreamEntry.key(document: info.key, version: version), value: entry.encode())

        // Every inline projection folds the event in this same transaction (following ones catch up
        // behind, in the projector's transactions).
        for registered in ledger.projections where !registered.isFollowing {
            try registered.projection.apply(recordedEvent, text: event.change.text, tables: registered.live, in: txn)
        }
        lastPosition = position

        try txn.put(tables.meta, key: Ledger.MetaKey.head, value: LogHead(position: position, hash: recordedEvent.hash, recordedAt: recordedAt).encoded)

        return AppendResult(event: recordedEvent, wasAlreadyRecorded: false, wasBackdated: backdated, textBytes: textBytes.count)
    }

    /// At the first new event of a transaction on a replica: takes the shared log's lock and copies in
    /// the events other writers appended since this replica last caught up, checking each as
    /// `replicate` does, so that this event is validated against the shared log's whole state.
    private mutating func joinSharedLog(in txn: borrowing WriteTransaction) throws {
        guard let shared, shared.session == nil, let log = ledger.sharedLog else { return }
        let session = try log.beginAppend()
        shared.session = session
        while try copy(from: { position in try session.events(after: position, limit: 1000) }, in: txn) {}
        sharedClock = max(session.clock, try ledger.head(in: txn).recordedAt)
    }

    /// Appends the next rows `read` gives after this transaction's head, checking each; false when
    /// there were none.
    mutating func copy(from read: (UInt64) throws -> [SharedLogRow], in txn: borrowing WriteTransaction) throws -> Bool {
        let rows = try read(try ledger.head(in: txn).position)
        for row in rows {
            let (event, text) = try SharedLogCodec.decode(row) { hash in try knownText(hash, in: txn) }
            _ = try append(recorded: event, text: text, copied: true, in: txn)
        }
        return !rows.isEmpty
    }

    /// A text this transaction or the ledger holds, by hash.
    func knownText(_ hash: Digest, in txn: borrowing WriteTransaction) throws -> [UInt8]? {
        try pendingTexts[hash] ?? ledger.textCache.get(hash) ?? tables.textStore.load(hash, in: txn)
    }

    /// Texts a new text may be stored as a delta against: the document's previous text; for a new
    /// document, the document it is a variant of and texts recently withdrawn (a renamed file is
    /// retracted under its old name and published under the new one).
    private func deltaBases(
        for event: NewEvent, current: DocumentInfo?, in txn: borrowing WriteTransaction
    ) throws -> [(hash: Digest, text: [UInt8])] {
        var hashes: [Digest] = []
        if let previous = current?.contentHash {
            hashes.append(previous)
        } else if case .publish(_, _, _, let variantOf) = event.change {
            if let variantOf, let original = try ledger.documentInfo(variantOf, in: txn)?.contentHash {
                hashes.append(original)
            }
            if let sameName = pendingNames[TextsByName.name(of: event.document)] ?? ledger.textsByName[event.document]
            {
                hashes.append(sameName)
            }
            hashes += retractedTexts.suffix(2).reversed()
            hashes += ledger.recentlyRetracted.latest(2)
        }
        var bases: [(hash: Digest, text: [UInt8])] = []
        for hash in hashes where !bases.contains(where: { $0.hash == hash }) {
            guard let text = try pendingTexts[hash] ?? ledger.textCache.get(hash) ?? tables.textStore.load(hash, in: txn) else { continue }
            bases.append((hash, text))
        }
        return bases
    }
}

extension UUID {
    /// A new event's ID: a version 7 UUID (RFC 9562), the time in milliseconds in its first 48 bits
    /// (big-endian) and 74 random bits after the version and variant. IDs made one after another
    /// sort one after another, so a commit's events land in one or two pages of the `eventIDs` index;
    /// with random (version 4) IDs each landed on a page of its own once the index had grown (a
    /// commit of 100 events dirtied ~100 of its pages). The random bits come from the system's
    /// generator: Foundation's `UUID()` opens /dev/urandom on every call on Linux.
    static func timeOrdered(at time: Timestamp) -> UUID {
        var g = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, time.milliseconds)) & 0xFFFF_FFFF_FFFF
        let randomA = g.next() as UInt64, randomB = g.next() as UInt64
        var b = withUnsafeBytes(of: ((milliseconds << 16) | (randomA & 0xFFFF)).bigEndian) { Array($0) }
        b += withUnsafeBytes(of: randomB) { Array($0) }
        b[6] = (b[6] & 0x0F) | 0x70
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
