import LMDB

/// What `verify` checked, and the first problem it found.
public struct VerificationReport: Sendable, Equatable {
    public var events: UInt64 = 0
    public var texts: UInt64 = 0
    /// The first bad position and what is wrong with it, or nil when everything checks.
    public var firstProblem: String?
    public var projectionMismatches: [ProjectionMismatch] = []
    public var isClean: Bool { firstProblem == nil && projectionMismatches.isEmpty }
}

extension Ledger {
    /// Recomputes every event's hash and the chain, checks positions and per-document versions are
    /// gap-free, every text against its content hash, and the catalogue, streams and ID indexes
    /// against what the log implies; with `projections`, also rebuilds every
    /// projection into scratch tables and compares. Stops at the first bad position.
    public func verify(projections checkProjections: Bool = false) throws(LedgerError) -> VerificationReport {
        var report = VerificationReport()
        var previous = Digest.zero
        var expectedPosition: UInt64 = 1
        var versions: [String: UInt64] = [:]
        var checkedTexts = Set<Digest>()
        try forEachEvent { event in
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
                guard let text = try self.text(hash: hash) else { return problem("its text \(hash.hex) is missing") }
                guard Digest.sha256(text) == hash else { return problem("its stored text does not match its contentHash \(hash.hex)") }
                report.texts += 1
            }
            report.events += 1
            previous = event.hash
            expectedPosition += 1
            return true
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
