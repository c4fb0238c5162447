import Dispatch
import LMDB

/// What `verify` checked, and the first problem it found.
public struct VerificationReport: Sendable, Equatable {
    public var events: UInt64 = 0
    public var texts: UInt64 = 0
    /// Bytes (UTF-8) of the distinct texts checked.
    public var textBytes: UInt64 = 0
    /// The Merkle root of the whole log, recomputed from the event hashes.
    public var merkleRoot: Digest = MerkleTree.emptyRoot
    /// Signed checkpoints whose signature and root were checked.
    public var checkpoints: UInt64 = 0
    /// The first bad position and what is wrong with it, or nil when everything checks.
    public var firstProblem: String?
    public var projectionMismatches: [ProjectionMismatch] = []
    /// WARC records cited by capture events, found and checked.
    public var capturedRecords: UInt64 = 0
    var citations: [CitedRecord] = []
    public var isClean: Bool { firstProblem == nil && projectionMismatches.isEmpty }
}

extension Ledger {
    /// Recomputes every event's hash and the chain, checks positions and per-document versions are
    /// gap-free, every text against its content hash, the Merkle tree (every stored node, and every
    /// signed checkpoint's signature and root), and the catalogue, streams and ID indexes against
    /// what the log implies; with `projections`, also rebuilds every projection into scratch tables
    /// and compares. Stops at the first bad position.
    ///
    /// The log, the stored texts and the salted commitments are checked side by side: the texts in
    /// the order they were stored, so that each version is decoded from the one before it (one delta)
    /// rather than from its chain's base. The commitments (hashing every sentence of every version,
    /// most of the work) start with the other two instead of after them, so that both cores stay busy
    /// from start to end; what they find counts only when the log and the texts are sound, as
    /// before.
    public func verify(projections checkProjections: Bool = false) throws(LedgerError) -> VerificationReport {
        let log = ConcurrentResults<Result<(VerificationReport, UInt64?), LedgerError>>(count: 1)
        let stored = ConcurrentResults<Result<StoredTextsCheck, LedgerError>>(count: 1)
        let committed = ConcurrentResults<Result<String?, LedgerError>>(count: 1)
        sideBySide(3) { [self] part in
            switch part {
            case 0: log[0] = Result { () throws(LedgerError) in try verifyLog() }
            case 1: stored[0] = Result { () throws(LedgerError) in try verifyStoredTexts() }
            default: committed[0] = Result { () throws(LedgerError) in try verifyCommitments() }
            }
        }
        var (report, stoppedAt) = try log[0]!.get()
        let texts = try stored[0]!.get()
        report.texts = texts.records
        report.textBytes = texts.bytes
        if let damaged = texts.problem {
            // Name the damage by the first event that carries the text, when that comes before (or
            // instead of) what the log's check found.
            let user = try damaged.hash.flatMap { hash throws(LedgerError) in try firstPosition(carrying: hash) }
            if let user, user <= stoppedAt ?? .max {
                report.firstProblem = "position \(user): " + damaged.whatItSays(forEventText: true)
            } else if report.firstProblem == nil {
                report.firstProblem = damaged.whatItSays(forEventText: false)
            }
        }
        if report.firstProblem == nil, let problem = try committed[0]!.get() { report.firstProblem = problem }
        if report.firstProblem == nil, let problem = try verifyIndexes() { report.firstProblem = problem }
        let (checked, recordProblem) = verifyCitedRecords(report.citations)
        report.capturedRecords = checked
        report.citations = []
        if report.firstProblem == nil, let recordProblem { report.firstProblem = recordProblem }
        if checkProjections { report.projectionMismatches = try verifyProjections() }
        return report
    }

    /// The log's half of `verify`: every event, the chain, versions, the Merkle tree and checkpoints,
    /// and that every text an event names is stored. Returns the report and the position it stopped
    /// at, if it found a problem at one.
    private func verifyLog() throws(LedgerError) -> (VerificationReport, UInt64?) {
        var report = VerificationReport()
        var stoppedAt: UInt64?
        var previous = Digest.zero
        var expectedPosition: UInt64 = 1
        var versions: [String: UInt64] = [:]
        var namedTexts = Set<Digest>()
        var tree = MerkleFrontier()
        var nodeCheck = MerkleNodeCheck(ledger: self)
        var textCheck = TextPresenceCheck(ledger: self)
        var redactions = RedactionCheck()
        let publicKey = try self.publicKey()
        var checkpoints = try self.checkpoints()
        func checkCheckpoints(atSize size: UInt64) -> String? {
            while let checkpoint = checkpoints.first, checkpoint.treeSize <= size {
                checkpoints.removeFirst()
                guard checkpoint.ledgerID == id else { return "checkpoint \(checkpoint.number) names another ledger, \(checkpoint.ledgerID.uuidString.lowercased())" }
                guard let publicKey, checkpoint.isSigned(by: publicKey) else { return "checkpoint \(checkpoint.number) is not signed by this ledger's key" }
                guard checkpoint.rootHash == tree.root else {
                    return "checkpoint \(checkpoint.number) says the first \(checkpoint.treeSize) events have the Merkle root \(checkpoint.rootHash.hex), but they have \(tree.root.hex)"
                }
                report.checkpoints += 1
            }
            return nil
        }
        report.firstProblem = checkCheckpoints(atSize: 0)
        if report.firstProblem == nil { try forEachEvent { event in
            func problem(_ what: String) -> Bool {
                report.firstProblem = "position \(event.position): \(what)"
                stoppedAt = event.position
                return false
            }
            guard event.position == expectedPosition else { return problem("expected position \(expectedPosition); the log has a gap") }
            guard event.previousHash == previous else { return problem("its previousHash is not the hash of position \(event.position - 1)") }
            guard event.computeHash() == event.hash else { return problem("its hash does not match its content (recomputed \(event.computeHash().hex))") }
            if event.type.isDocumentChange {
                let version = (versions[event.document] ?? 0) + 1
                guard event.version == version else { return problem("it is version \(event.version) of \(DocumentID.quoted(event.document)), expected \(version)") }
                versions[event.document] = version
            } else {
                guard let current = versions[event.document], event.version == current else {
                    return problem("the redaction names version \(event.version) of \(DocumentID.quoted(event.document)), which is not the document's version at that point")
                }
                guard !event.redacts.isEmpty else { return problem("the redaction names no text") }
                redactions.add(event)
            }
            if let wrong = redactions.problem(withTextOf: event) { return problem(wrong) }
            if let hash = event.contentHash, namedTexts.insert(hash).inserted {
                textCheck.expect(hash, at: event.position)
                if let missing = try textCheck.flushIfFull() {
                    report.firstProblem = "position \(missing.position): its text \(missing.hash.hex) is missing"
                    stoppedAt = missing.position
                    return false
                }
            }
            report.events += 1
            if let citation = Self.citation(of: event) { report.citations.append(citation) }
            previous = event.hash
            expectedPosition += 1
            try tree.append(eventHash: event.hash) { level, index, node in try nodeCheck.expect(level: level, index: index, node) }
            if let wrong = try nodeCheck.flushIfFull() { return problem(wrong) }
            if let wrong = checkCheckpoints(atSize: tree.size) { return problem(wrong) }
            return true
        } }
        if report.firstProblem == nil, let missing = try textCheck.flush() {
            report.firstProblem = "position \(missing.position): its text \(missing.hash.hex) is missing"
            stoppedAt = missing.position
        }
        if report.firstProblem == nil, let (position, wrong) = redactions.finish() {
            report.firstProblem = "position \(position): \(wrong)"
            stoppedAt = position
        }
        report.merkleRoot = tree.root
        if report.firstProblem == nil, let wrong = try nodeCheck.finish() { report.firstProblem = wrong }
        if report.firstProblem == nil, let checkpoint = checkpoints.first {
            report.firstProblem = "checkpoint \(checkpoint.number) covers \(checkpoint.treeSize) events, but the log has \(report.events)"
        }
        if report.firstProblem == nil {
            let head = try self.head()
            if head.position != report.events || head.hash != previous {
                report.firstProblem = "the ledger's head says position \(head.position), but the log ends at \(report.events)"
            }
        }
        return (report, stoppedAt)
    }

    /// The texts' half of `verify`: every stored record decoded, in the order written, and hashed; its
    /// hash must be the one the index files it under; the index names nothing else.
    private func verifyStoredTexts() throws(LedgerError) -> StoredTextsCheck {
        var check = StoredTextsCheck()
        let store = tables.textStore
        let decoded = DecodedTexts()
        var next: UInt64? = 1
        while let from = next, check.problem == nil {
            next = try reading { txn -> UInt64? in
                do {
                    return try store.forEachRecord(from: from, limit: 256, reusing: decoded, in: txn) { number, text in
                        guard check.problem == nil else { return }
                        let hash = Digest.sha256(text)
                        guard try store.number(of: hash, in: txn) == number else {
                            check.problem = .init(record: number, hash: try store.hash(ofRecord: number, in: txn), why: nil)
                            return
                        }
                        check.records += 1
                        check.bytes += UInt64(text.count)
                    }
                } catch let unreadable as TextStore.UnreadableRecord {
                    check.problem = .init(record: unreadable.number, hash: try store.hash(ofRecord: unreadable.number, in: txn), why: unreadable.why)
                    return nil
                }
            }
        }
        if check.problem == nil {
            let counts = try reading { txn in try store.counts(in: txn) }
            if counts.indexed != counts.records {
                check.problem = .init(record: nil, hash: nil, why: "the text index names \(counts.indexed) texts, but \(counts.records) are stored")
            }
        }
        return check
    }

    /// Every text against what its event's hash commits to, where that is not simply its SHA-256
    /// (which the stored texts' check covers): a salted commitment is recomputed from the text and
    /// the salt; a partly redacted text's readable rest and proof must give the commitment back; a
    /// wholly redacted text must read as its redaction's marker and nothing else.
    private func verifyCommitments() throws(LedgerError) -> String? {
        let texts = sequentialTextReader()
        var reasons: [UInt64: String] = [:]
        var pendingWhole: [UInt64: [(UInt64, [UInt8])]] = [:]
        var problem: String?
        // Texts are decoded in order on this thread, a batch at a time; their commitments are
        // recomputed on every core (hashing each sentence of every version is the costly part).
        var batch: [(position: UInt64, commitment: Digest, text: [UInt8], salt: [UInt8]?, proof: PartialTextProof?)] = []
        func check() -> String? {
            let wrong = ConcurrentResults<Bool>(count: batch.count)
            let work = batch
            DispatchQueue.concurrentPerform(iterations: work.count) { k in
                let item = work[k]
                let recomputed = item.salt.map { TextCommitment.commitment(text: item.text, salt: $0) } ?? item.proof?.commitment(readableText: item.text)
                wrong[k] = recomputed != item.commitment
            }
            defer { batch.removeAll(keepingCapacity: true) }
            guard let k = work.indices.first(where: { wrong[$0] == true }) else { return nil }
            let item = work[k]
            return item.salt != nil
                ? "position \(item.position): its text does not match its contentHash \(item.commitment.hex)"
                : "position \(item.position): the readable part of its redacted text does not match its contentHash \(item.commitment.hex)"
        }
        try forEachEvent { event in
            if event.type == .redacted { reasons[event.position] = event.reason ?? "" }
            guard let hash = event.contentHash, event.textSalt != nil || event.redactedBy != nil else { return true }
            guard let text = try texts.bytes(hash: hash), let commitment = event.commitment else {
                problem = "position \(event.position): its text is missing"
                return false
            }
            if event.textSalt != nil || event.textProof != nil {
                batch.append((event.position, commitment, text, event.textSalt, event.textProof))
                if batch.count >= 32, let wrong = check() {
                    problem = wrong
                    return false
                }
            } else if let by = event.redactedBy {
                // The redaction comes later in the log: checked once the scan has passed it.
                pendingWhole[by, default: []].append((event.position, text))
            }
            return true
        }
        if problem == nil, !batch.isEmpty { problem = check() }
        if let problem { return problem }
        for (by, texts) in pendingWhole.sorted(by: { $0.key < $1.key }) {
            let marker = Array(Ledger.redactionMarker(position: by, reason: reasons[by] ?? "").utf8)
            if let (position, _) = texts.first(where: { $0.1 != marker }) {
                return "position \(position): its text is redacted whole, yet it reads as something other than the marker of event #\(by)"
            }
        }
        return nil
    }

    /// The first position whose event carries the text `hash`, if any (a walk of the log: only for
    /// naming damage).
    private func firstPosition(carrying hash: Digest) throws(LedgerError) -> UInt64? {
        var found: UInt64?
        try forEachEvent { event in
            guard event.contentHash == hash else { return true }
            found = event.position
            return false
        }
        return found
    }
}

/// What the check of the stored texts found.
struct StoredTextsCheck {
    var records: UInt64 = 0
    var bytes: UInt64 = 0
    var problem: Damage?

    struct Damage {
        /// The damaged record, nil when the problem is the table as a whole.
        let record: UInt64?
        /// The text the index files the record under, when it does.
        let hash: Digest?
        /// Why it cannot be read; nil when it reads but is not the text its hash names.
        let why: String?

        func whatItSays(forEventText: Bool) -> String {
            if forEventText, let hash {
                if let why { return "its text \(hash.hex) cannot be read: \(why)" }
                return "its stored text does not match its contentHash \(hash.hex)"
            }
            guard let record else { return why ?? "the stored texts are damaged" }
            let name = hash.map { "the stored text record \(record) (for \($0.hex))" } ?? "the stored text record \(record), which no hash in the text index names,"
            return why.map { "\(name) cannot be read: \($0)" } ?? "\(name) does not match its hash"
        }
    }
}

/// Checks, in one pass over the log, that redacted texts and redaction events name each other: every
/// redacted text is withheld by a later redaction event of its document that lists it, every listed
/// text is marked redacted, and a partly redacted text withholds exactly the segments its redactions
/// list (so a withheld span cannot be moved).
struct RedactionCheck {
    /// Redacted texts: position → (the latest redaction, the segments its proof withholds; nil: whole).
    private var texts: [UInt64: (by: UInt64, document: String, withheld: [Int]?)] = [:]
    /// Redaction events: position → (document, what it lists).
    private var events: [UInt64: (document: String, redacts: [RedactedText])] = [:]

    mutating func add(_ redaction: RecordedEvent) {
        events[redaction.position] = (redaction.document, redaction.redacts)
    }

    /// What is wrong with an event's own redaction fields, if anything.
    mutating func problem(withTextOf event: RecordedEvent) -> String? {
        if event.type != .redacted, !event.redacts.isEmpty || event.authority != nil { return "only a redaction lists redacted texts" }
        if !event.type.carriesText {
            return event.textSalt != nil || event.redactedBy != nil || event.commitment != nil ? "it carries no text, yet has text commitment fields" : nil
        }
        if let by = event.redactedBy {
            guard by > event.position else { return "its text is marked redacted by position \(by), which is not a later event" }
            guard event.textSalt == nil, event.commitment != nil else { return "its text is redacted, yet its commitment fields are not those of a redacted text" }
            texts[event.position] = (by, event.document, event.textProof?.withheldSegments)
        } else if event.textProof != nil || (event.commitment != nil && event.textSalt == nil) {
            return "its text has a redaction proof or a commitment without a salt, yet no redaction withholds it"
        }
        return nil
    }

    /// The first inconsistency, by position.
    func finish() -> (UInt64, String)? {
        var problems: [(UInt64, String)] = []
        var listed: [UInt64: (latest: UInt64, segments: Set<Int>, whole: Bool)] = [:]
        for (position, event) in events {
            for r in event.redacts {
                guard let text = texts[r.position], text.document == event.document, text.by >= position else {
                    problems.append((position, "the redaction lists the text of position \(r.position), which is not marked as redacted by it"))
                    continue
                }
                var entry = listed[r.position] ?? (0, [], false)
                entry.latest = max(entry.latest, position)
                entry.segments.formUnion(r.segments)
                entry.whole = entry.whole || r.isWhole
                listed[r.position] = entry
            }
        }
        for (position, text) in texts {
            guard let entry = listed[position], entry.latest == text.by, events[text.by] != nil else {
                problems.append((position, "its text is marked redacted by event #\(text.by), which is not a redaction that lists it"))
                continue
            }
            if let withheld = text.withheld {
                if entry.whole || Set(withheld) != entry.segments || withheld.count != entry.segments.count {
                    problems.append((position, "its redacted text withholds segments \(withheld), but its redactions list \(entry.segments.sorted())\(entry.whole ? " and the whole text" : "")"))
                }
            } else if !entry.whole {
                problems.append((position, "its text is withheld whole, but its redactions list only segments \(entry.segments.sorted())"))
            }
        }
        return problems.min { $0.0 < $1.0 }
    }
}

/// Checks that the texts events name are in the text index, a few thousand per read transaction.
struct TextPresenceCheck {
    let ledger: Ledger
    private var pending: [(Digest, UInt64)] = []

    init(ledger: Ledger) { self.ledger = ledger }

    mutating func expect(_ hash: Digest, at position: UInt64) { pending.append((hash, position)) }

    mutating func flushIfFull() throws(LedgerError) -> (position: UInt64, hash: Digest)? {
        pending.count >= 4096 ? try flush() : nil
    }

    /// The first position whose text is not stored, if any.
    mutating func flush() throws(LedgerError) -> (position: UInt64, hash: Digest)? {
        defer { pending.removeAll(keepingCapacity: true) }
        let batch = pending
        let store = ledger.tables.textStore
        return try ledger.reading { txn -> (position: UInt64, hash: Digest)? in
            for (hash, position) in batch where try !store.contains(hash, in: txn) { return (position, hash) }
            return nil
        }
    }
}

/// Compares the Merkle nodes `verify` recomputes with the stored ones, a few thousand per read
/// transaction, and finally that the table holds nothing else.
struct MerkleNodeCheck {
    let ledger: Ledger
    private var pending: [(MerkleTree.SubtreeKey, Digest)] = []
    private var checked = 0

    init(ledger: Ledger) { self.ledger = ledger }

    mutating func expect(level: Int, index: UInt64, _ node: Digest) throws {
        pending.append((MerkleTree.SubtreeKey(level: level, index: index), node))
    }

    mutating func flushIfFull() throws(LedgerError) -> String? {
        pending.count >= 4096 ? try flush() : nil
    }

    private mutating func flush() throws(LedgerError) -> String? {
        defer { pending.removeAll(keepingCapacity: true) }
        guard let nodes = ledger.merkleTables?["nodes"] else { return nil }
        let batch = pending
        checked += batch.count
        return try ledger.reading { txn -> String? in
            for (key, expected) in batch {
                let stored = try txn.get(nodes, key: MerkleProjection.key(level: key.level, index: key.index))
                guard stored == expected.bytes else {
                    let first = key.index << UInt64(key.level) + 1
                    return "the Merkle tree's node at level \(key.level), index \(key.index) (over positions \(first)–\(first + (1 << UInt64(key.level)) - 1)) \(stored == nil ? "is missing" : "does not match the events")"
                }
            }
            return nil
        }
    }

    mutating func finish() throws(LedgerError) -> String? {
        if let wrong = try flush() { return wrong }
        guard let nodes = ledger.merkleTables?["nodes"] else { return nil }
        let stored = try ledger.reading { txn in try txn.count(nodes) }
        return stored == checked ? nil : "the Merkle tree has \(stored) stored nodes; the log implies \(checked)"
    }
}
