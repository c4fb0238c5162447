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
    public var isClean: Bool { firstProblem == nil && projectionMismatches.isEmpty }
}

extension Ledger {
    /// Recomputes every event's hash and the chain, checks positions and per-document versions are
    /// gap-free, every text against its content hash, the Merkle tree (every stored node, and every
    /// signed checkpoint's signature and root), and the catalogue, streams and ID indexes against
    /// what the log implies; with `projections`, also rebuilds every projection into scratch tables
    /// and compares. Stops at the first bad position.
    public func verify(projections checkProjections: Bool = false) throws(LedgerError) -> VerificationReport {
        var report = VerificationReport()
        var previous = Digest.zero
        var expectedPosition: UInt64 = 1
        var versions: [String: UInt64] = [:]
        var checkedTexts = Set<Digest>()
        var tree = MerkleFrontier()
        var nodeCheck = MerkleNodeCheck(ledger: self)
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
                return false
            }
            guard event.position == expectedPosition else { return problem("expected position \(expectedPosition); the log has a gap") }
            guard event.previousHash == previous else { return problem("its previousHash is not the hash of position \(event.position - 1)") }
            guard event.computeHash() == event.hash else { return problem("its hash does not match its content (recomputed \(event.computeHash().hex))") }
            let version = (versions[event.document] ?? 0) + 1
            guard event.version == version else { return problem("it is version \(event.version) of \(DocumentID.quoted(event.document)), expected \(version)") }
            versions[event.document] = version
            if let hash = event.contentHash, checkedTexts.insert(hash).inserted {
                let text: String?
                do {
                    text = try self.text(hash: hash)
                } catch {
                    return problem("its text \(hash.hex) cannot be read: \((error as? LedgerError)?.message ?? "\(error)")")
                }
                guard let text else { return problem("its text \(hash.hex) is missing") }
                guard Digest.sha256(text) == hash else { return problem("its stored text does not match its contentHash \(hash.hex)") }
                report.texts += 1
                report.textBytes += UInt64(text.utf8.count)
            }
            report.events += 1
            previous = event.hash
            expectedPosition += 1
            try tree.append(eventHash: event.hash) { level, index, node in try nodeCheck.expect(level: level, index: index, node) }
            if let wrong = try nodeCheck.flushIfFull() { return problem(wrong) }
            if let wrong = checkCheckpoints(atSize: tree.size) { return problem(wrong) }
            return true
        } }
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
        if report.firstProblem == nil, let problem = try verifyIndexes() { report.firstProblem = problem }
        if checkProjections { report.projectionMismatches = try verifyProjections() }
        return report
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
