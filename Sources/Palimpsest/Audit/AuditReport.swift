import Crypto
import Dispatch
import Foundation
import PalimpsestText

/// An audit report (DESIGN.md §9): a document's whole life, or a phrase's life across documents,
/// with everything a sceptical reader needs to check it without the ledger — the events it cites
/// (their canonical JSON), an inclusion proof of each in a signed checkpoint, the texts it quotes
/// and the diffs between them — and a signature over the whole report.
///
/// `json` is the evidence (schema `Schemas/report.schema.json`; `tools/verify-report.py` checks it);
/// `AuditReportRenderer` turns the same report into Markdown, HTML or CSV for people.
public struct AuditReport: Sendable {
    public enum Subject: Sendable, Equatable {
        case document(String)
        case phrase(String, ignoringCase: Bool, document: String?)
    }

    /// One event that made a new version, with the diff from the text before it to the text after.
    public struct Change: Sendable {
        public var event: RecordedEvent
        /// The text before (nil for a publication) and after (nil for a retraction, which keeps the text),
        /// by the hash the ledger reads them by.
        public var before: Digest?
        public var after: Digest?
        /// The same texts by what their events' hashes commit them to (`contentHash` in the events'
        /// JSON): how the report names them.
        public var beforeCommitted: Digest?
        public var afterCommitted: Digest?
        public var pieces: [Piece]
    }

    /// A run of the diff (`TextDiff.Piece`), kept whole when it changed and shortened to its ends when
    /// it is a long unchanged run: a report on a long history holds every change, not every text.
    public struct Piece: Sendable, Equatable {
        public var kind: TextDiff.Kind
        /// The run's text; for a shortened unchanged run, its first `AuditReport.keptContext` characters.
        public var text: String
        /// For a shortened unchanged run, its last `AuditReport.keptContext` characters.
        public var tail: String?
        /// The whole run's length in Unicode scalars.
        public var length: Int
        public var move: Int?

        public var isShortened: Bool { tail != nil }

        /// Unicode scalars in `text`: its UTF-8 bytes that start one (counting bytes is far quicker
        /// than walking the scalars of a long unchanged run).
        static func scalarCount(_ text: String) -> Int {
            var text = text
            return text.withUTF8 { bytes in
                // A continuation byte is 10xxxxxx: its top bit set and the next one clear. Eight at a time.
                var continuations = 0, k = 0
                let raw = UnsafeRawBufferPointer(bytes)
                while k + 8 <= raw.count {
                    let word = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                    continuations += (word & ~(word << 1) & 0x8080_8080_8080_8080).nonzeroBitCount
                    k += 8
                }
                while k < raw.count {
                    if raw[k] & 0xC0 == 0x80 { continuations += 1 }
                    k += 1
                }
                return bytes.count - continuations
            }
        }

        public init(_ piece: TextDiff.Piece) {
            let scalars = piece.text.unicodeScalars
            (kind, length, move) = (piece.kind, Self.scalarCount(piece.text), piece.move)
            if piece.kind == .same, length > 2 * AuditReport.keptContext + 40 {
                let kept = AuditReport.keptContext
                text = String(scalars[..<scalars.index(scalars.startIndex, offsetBy: kept)])
                tail = String(scalars[scalars.index(scalars.endIndex, offsetBy: -kept)...])
            } else {
                (text, tail) = (piece.text, nil)
            }
        }
    }

    /// Characters of unchanged text kept on each side of a change.
    public static let keptContext = 160

    public var subject: Subject
    public var generatedAt: Timestamp
    public var ledgerID: UUID
    public var publicKey: [UInt8]
    public var checkpoint: SignedCheckpoint
    /// Every event the report cites, by position, with its inclusion proof in `checkpoint`'s tree.
    public var events: [RecordedEvent]
    public var proofs: [UInt64: InclusionProof]
    /// Texts given in full, by their events' `contentHash`: those no earlier change in the report derives.
    public var texts: [Digest: String]
    /// What checks each cited text against its event's `contentHash` when that is not its plain
    /// SHA-256: the salt of a salted commitment, or a redacted text's proof (as an export line's
    /// `textSalt` and `textProof`), by `contentHash`.
    public var textSalts: [Digest: [UInt8]] = [:]
    public var textProofs: [Digest: JSONValue] = [:]
    public var changes: [Change]
    /// For a document: the blame of its last text (nil when it is withdrawn).
    public var blame: Blame?
    /// For a phrase: every event that added or removed it.
    public var phraseHistory: PhraseHistory?
    /// Ed25519 over the canonical JSON of `json` without `signature`.
    public var signature: [UInt8] = []

    public static let schemaVersion: Int64 = 2

    /// What a report covers when it is not a whole history: a period (`since` and `until` both
    /// inclusive, by the events' effective times) or the changes that made versions A…B.
    public struct Scope: Sendable, Equatable {
        public var since: Timestamp?
        public var until: Timestamp?
        public var versions: ClosedRange<UInt64>?
        public init(since: Timestamp? = nil, until: Timestamp? = nil, versions: ClosedRange<UInt64>? = nil) {
            (self.since, self.until, self.versions) = (since, until, versions)
        }
        public var isWhole: Bool { since == nil && until == nil && versions == nil }
    }

    /// A scoped document report's versions: the changes that made `first` to `last` are shown,
    /// starting from the text of `base`, the version in force before them (nil: from nothing).
    public struct VersionRange: Sendable, Equatable {
        public var base: UInt64?
        public var first: UInt64
        public var last: UInt64
        public init(base: UInt64?, first: UInt64, last: UInt64) { (self.base, self.first, self.last) = (base, first, last) }
    }

    public var scope = Scope()
    /// For a document report: the versions it shows (the whole history when not scoped).
    public var range: VersionRange? = nil

    /// What the signature signs (signing recipe 2): this prefix, then the SHA-256 digest of the RFC 8785
    /// canonical JSON of the report without `signature`. Signing a digest lets a report be signed as it
    /// is written, one element at a time, and checked the same way; the prefix keeps a report's
    /// signature from being mistaken for any other message the key signs.
    public static let signingPrefix = Array("palimpsest-report-v2\n".utf8)

    public static func signedMessage(digest: some Sequence<UInt8>) -> [UInt8] { signingPrefix + Array(digest) }

    /// The message the signature covers, for a report held whole.
    public func signedMessage() -> [UInt8] {
        Self.signedMessage(digest: SHA256.hash(data: CanonicalJSON.encode(json(signed: false))))
    }
}

/// A report before its changes are computed: everything it cites, proves and quotes, and which
/// changes it shows. `Ledger.forEachChange(in:)` computes them one at a time in history order, so a
/// report on a long history is written (`Ledger.writeAuditReportJSON`, or the renderers) in memory
/// that does not grow with it.
public struct AuditReportPlan: Sendable {
    /// The report without its changes, proofs and signature.
    public var header: AuditReport
    struct Pending: Sendable {
        var event: RecordedEvent
        /// The nearest earlier version with a text (a retraction keeps the text it withdrew).
        var before: RecordedEvent?
    }
    var pending: [Pending]
    public var changeCount: Int { pending.count }
}

extension Ledger {
    /// A report on `subject`, held whole (for a long history prefer `auditReportPlan` and a writer),
    /// proved against the latest checkpoint when it covers every cited event, else against a new
    /// checkpoint signed now (`signedNewCheckpoint` says which).
    public func auditReport(_ subject: AuditReport.Subject, scope: AuditReport.Scope = AuditReport.Scope(), at time: Timestamp = .now()) throws(LedgerError) -> (report: AuditReport, signedNewCheckpoint: Bool) {
        let (plan, signedNew) = try auditReportPlan(subject, scope: scope, at: time)
        var report = plan.header
        try forEachChange(in: plan) { change in report.changes.append(change) }
        for event in report.events { report.proofs[event.position] = try inclusionProof(position: event.position, treeSize: report.checkpoint.treeSize) }
        do {
            report.signature = Array(try signingKey().signature(for: report.signedMessage()))
        } catch let error as LedgerError {
            throw error
        } catch {
            throw LedgerError(.storage, "cannot sign the report: \(error)")
        }
        return (report, signedNew)
    }

    /// What a report on `subject` within `scope` cites, proves and quotes, and which changes it shows.
    public func auditReportPlan(_ subject: AuditReport.Subject, scope: AuditReport.Scope = AuditReport.Scope(), at time: Timestamp = .now()) throws(LedgerError) -> (plan: AuditReportPlan, signedNewCheckpoint: Bool) {
        if scope.versions != nil, scope.since != nil || scope.until != nil {
            throw LedgerError(.invalidInput, "give a period (since, until) or a range of versions, not both")
        }
        if let since = scope.since, let until = scope.until, until <= since {
            throw LedgerError(.invalidInput, "the period ends (\(until.iso8601)) before it begins (\(since.iso8601))")
        }
        var pending: [AuditReportPlan.Pending] = []
        var cited = Set<UInt64>()
        var blame: Blame? = nil
        var history: PhraseHistory? = nil
        var range: AuditReport.VersionRange? = nil

        switch subject {
        case .document(let document):
            guard let events = try events(of: document), !events.isEmpty else {
                throw LedgerError(.notFound, "there is no document \(DocumentID.quoted(document)) in the ledger")
            }
            let resolved = try versionRange(of: document, versions: UInt64(events.count), scope: scope)
            range = resolved
            // Cited from the nearest version with a text at or before the base, so that the first change's
            // text before is one the report quotes and proves.
            var citeFrom = resolved.base ?? resolved.first
            while citeFrom > 1, events[Int(citeFrom) - 1].contentHash == nil { citeFrom -= 1 }
            var before: RecordedEvent? = nil
            for event in events[Int(citeFrom) - 1..<Int(resolved.last)] {
                cited.insert(event.position)
                if event.version >= resolved.first { pending.append(.init(event: event, before: before)) }
                if event.contentHash != nil { before = event }
            }
            if scope.isWhole, try state(of: document)?.status == .active { blame = try self.blame(document, history: false) }
        case .phrase(let phrase, let ignoringCase, let document):
            if scope.versions != nil, document == nil {
                throw LedgerError(.invalidInput, "a range of versions needs one document: give --doc with --versions")
            }
            var found = try phraseHistory(PhraseQuery(phrase, document: document, ignoringCase: ignoringCase))
            found.changes = found.changes.filter { change in
                (scope.since.map { change.event.at >= $0 } ?? true) && (scope.until.map { change.event.at <= $0 } ?? true)
                    && (scope.versions.map { $0.contains(change.event.version) } ?? true)
            }
            history = found
            for change in found.changes {
                guard let event = try event(at: change.event.position) else {
                    throw LedgerError(.integrity, "the phrase index cites position \(change.event.position), which is missing from the log")
                }
                // The versions back to the last one with a text (a retraction keeps the text it withdrew).
                var before: RecordedEvent? = nil
                var version = event.version
                while version > 1 {
                    version -= 1
                    guard let earlier = try state(of: event.document, asOf: .version(version))?.event else {
                        throw LedgerError(.integrity, "version \(version) of \(DocumentID.quoted(event.document)) is missing")
                    }
                    cited.insert(earlier.position)
                    if earlier.contentHash != nil { before = earlier; break }
                }
                cited.insert(event.position)
                for reference in [change.originallyBy].compactMap({ $0 }) + change.restoredBy { cited.insert(reference.position) }
                pending.append(.init(event: event, before: before))
            }
        }

        // Texts the verifier cannot derive from an earlier change of the report are given in full.
        let reader = sequentialTextReader()
        func text(_ hash: Digest) throws(LedgerError) -> String {
            guard let loaded = try reader.text(hash: hash) else { throw LedgerError(.integrity, "the text \(hash.hex) is missing from the ledger") }
            return loaded
        }
        var derived = Set<Digest>()
        var texts: [Digest: String] = [:]
        for change in pending {
            if let before = change.before, let hash = before.contentHash, let committed = before.committedHash, !derived.contains(committed), texts[committed] == nil {
                texts[committed] = try text(hash)
            }
            if change.event.contentHash != nil, let after = change.event.committedHash { derived.insert(after) }
        }
        if let blame, let event = try state(of: blame.document)?.event, let hash = event.contentHash, let committed = event.committedHash,
            !derived.contains(committed)
        {
            texts[committed] = try text(hash)
        }
        // A redacted text's proof names its redaction: the report cites that event too.
        for position in cited {
            if let by = try event(at: position)?.redactedBy { cited.insert(by) }
        }

        let positions = cited.sorted()
        let (checkpoint, signedNew) = try checkpointCovering(positions.last ?? 0, at: time)
        guard let publicKey = try publicKey() else { throw LedgerError(.notFound, "the ledger has no signing key; run `palimpsest init`") }
        var events: [RecordedEvent] = []
        events.reserveCapacity(positions.count)
        for position in positions {
            guard let event = try event(at: position) else { throw LedgerError(.integrity, "the log has no event at position \(position)") }
            events.append(event)
        }
        var report = AuditReport(
            subject: subject, generatedAt: time, ledgerID: id, publicKey: publicKey, checkpoint: checkpoint, events: events,
            proofs: [:], texts: texts, changes: [], blame: blame, phraseHistory: history)
        report.scope = scope
        report.range = range
        for event in events {
            guard let committed = event.committedHash, event.contentHash != nil else { continue }
            if let salt = event.textSalt { report.textSalts[committed] = salt }
            if let proof = event.textProofJSON { report.textProofs[committed] = proof }
        }
        return (AuditReportPlan(header: report, pending: pending), signedNew)
    }

    /// The versions of `document` (which has `count`) that a report within `scope` shows.
    private func versionRange(of document: String, versions count: UInt64, scope: AuditReport.Scope) throws(LedgerError) -> AuditReport.VersionRange {
        if let versions = scope.versions {
            guard versions.lowerBound >= 1, versions.upperBound <= count else {
                throw LedgerError(.invalidInput, "\(DocumentID.quoted(document)) has versions 1 to \(count); \(versions.lowerBound)..\(versions.upperBound) goes beyond them")
            }
            return .init(base: versions.lowerBound > 1 ? versions.lowerBound - 1 : nil, first: versions.lowerBound, last: versions.upperBound)
        }
        var base: UInt64? = nil, last = count
        // The version in force at the start: the last one made before it.
        if let since = scope.since { base = try state(of: document, asOf: .time(Timestamp(milliseconds: since.milliseconds - 1)))?.event.version }
        if let until = scope.until { last = try state(of: document, asOf: .time(until))?.event.version ?? 0 }
        let first = (base ?? 0) + 1
        guard first <= last else {
            let period = [scope.since.map { "from \($0.iso8601)" }, scope.until.map { "up to \($0.iso8601)" }].compactMap { $0 }.joined(separator: " and ")
            let inForce = base.map { " (version \($0) was in force throughout)" } ?? ""
            throw LedgerError(.notFound, "\(DocumentID.quoted(document)) has no version made \(period)\(inForce)")
        }
        return .init(base: base, first: first, last: last)
    }

    /// The changes `plan` shows, in order, each with the diff from the text before it. A thread of its
    /// own decodes the texts in history order and diffs them 64 at a time on every core, working
    /// ahead of `body` by a few chunks, so that writing one change overlaps diffing the next; `body` runs
    /// on the caller's thread, and only those few chunks' texts and diffs are held at once.
    public func forEachChange(in plan: AuditReportPlan, _ body: (AuditReport.Change) throws(LedgerError) -> Void) throws(LedgerError) {
        let pending = plan.pending
        let channel = BoundedChannel<[AuditReport.Change], Result<Void, LedgerError>>(capacity: 2)
        let producer = Thread { [self] in
            channel.finish(Result { () throws(LedgerError) in
                try diffChanges(pending, stopWhen: { channel.isCancelled }, each: channel.put)
            })
        }
        producer.stackSize = 8 << 20
        producer.start()
        // On every way out the producer is stopped and waited for: it reads this ledger.
        defer {
            channel.cancel()
            _ = channel.waitForProducer()
        }
        while let changes = channel.take() {
            for change in changes { try body(change) }
        }
        try channel.waitForProducer().get()
    }

    /// The changes of `pending` with their diffs, handed over a chunk at a time.
    private func diffChanges(
        _ pending: [AuditReportPlan.Pending], stopWhen stopped: () -> Bool, each: ([AuditReport.Change]) -> Void
    ) throws(LedgerError) {
        var cache: [Digest: String] = [:]
        // A small budget: texts come in history order, so the reader needs little more than the last
        // text of each delta chain (the report's peak memory is a goal; 32 MB of it was this cache).
        let reader = SequentialTextReader(ledger: self, budget: 8 << 20)
        var diffs = RecentDiffs()
        var start = 0
        while start < pending.count, !stopped() {
            let chunk = pending[start..<min(pending.count, start + 64)]
            let keys = chunk.map { change in RecentDiffs.Key(before: change.before?.contentHash, after: change.event.contentHash ?? change.before?.contentHash) }
            // Edit wars flip a page between the same two texts: each pair is diffed once, either way round.
            var needed: [RecentDiffs.Key] = []
            for key in keys where diffs[key] == nil && !needed.contains(key) && !needed.contains(key.inverse) { needed.append(key) }
            var texts: [Digest: String] = [:]
            for hash in needed.flatMap({ [$0.before, $0.after] }).compactMap({ $0 }) where texts[hash] == nil {
                if let known = cache[hash] { texts[hash] = known; continue }
                guard let loaded = try reader.text(hash: hash) else { throw LedgerError(.integrity, "the text \(hash.hex) is missing from the ledger") }
                texts[hash] = loaded
            }
            let pairs = needed.map { key in (key.before.flatMap { texts[$0] } ?? "", key.after.flatMap { texts[$0] } ?? "") }
            let results = ConcurrentResults<[AuditReport.Piece]>(count: pairs.count)
            DispatchQueue.concurrentPerform(iterations: pairs.count) { k in
                let (old, new) = pairs[k]
                results[k] = TextDiff.diff(old: old, new: new).map(AuditReport.Piece.init)
            }
            for (k, key) in needed.enumerated() { diffs.insert(results[k] ?? [], for: key) }
            each(chunk.enumerated().map { k, change in
                let (event, before) = (change.event, change.before)
                return AuditReport.Change(
                    event: event, before: before?.contentHash, after: event.contentHash, beforeCommitted: before?.committedHash,
                    afterCommitted: event.contentHash == nil ? nil : event.committedHash, pieces: diffs[keys[k]] ?? [])
            })
            // The last texts of the chunk start the next one.
            cache = [:]
            if let last = chunk.last?.event.contentHash ?? chunk.last?.before?.contentHash, let text = texts[last] { cache[last] = text }
            start += chunk.count
        }
    }

    /// The latest checkpoint when it covers `position`, else a new one.
    private func checkpointCovering(_ position: UInt64, at time: Timestamp) throws(LedgerError) -> (SignedCheckpoint, Bool) {
        if let latest = try checkpoints().last, latest.treeSize >= position { return (latest, false) }
        if isReadOnly {
            throw LedgerError(.storage, "no checkpoint covers position \(position) and the ledger is read-only; sign one with `palimpsest checkpoint`")
        }
        return (try signCheckpoint(at: time), true)
    }
}

/// The diffs a report computed lately, by the texts before and after, within a budget of pieces; a
/// diff asked for the other way round is the stored one with its removals and additions swapped.
struct RecentDiffs {
    struct Key: Hashable {
        var before: Digest?
        var after: Digest?
        var inverse: Key { Key(before: after, after: before) }
    }
    private var stored: [Key: [AuditReport.Piece]] = [:]
    private var order: [Key] = []
    private var pieces = 0
    static let budget = 60_000

    subscript(key: Key) -> [AuditReport.Piece]? {
        if let found = stored[key] { return found }
        return stored[key.inverse].map { $0.map(\.inverted) }
    }

    mutating func insert(_ diff: [AuditReport.Piece], for key: Key) {
        guard stored[key] == nil else { return }
        stored[key] = diff
        order.append(key)
        pieces += diff.count
        while pieces > Self.budget, order.count > 1 {
            let oldest = order.removeFirst()
            pieces -= stored.removeValue(forKey: oldest)?.count ?? 0
        }
    }
}

extension AuditReport.Piece {
    /// The same run seen from the other text: a removal is an addition, a move away a move here.
    var inverted: Self {
        var piece = self
        switch kind {
        case .same: break
        case .removed: piece.kind = .added
        case .added: piece.kind = .removed
        case .movedAway: piece.kind = .movedHere
        case .movedHere: piece.kind = .movedAway
        }
        return piece
    }
}

/// Results written by `concurrentPerform` iterations, one slot each.
final class ConcurrentResults<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    subscript(k: Int) -> T? {
        get { lock.withLock { slots[k] } }
        set { lock.withLock { slots[k] = newValue } }
    }
}

extension AuditReport {
    /// The report as JSON, with the signature (or, with `signed: false`, what the signature covers).
    /// `Ledger.writeAuditReportJSON` writes the same members, one element per line.
    public func json(signed: Bool = true) -> JSONValue {
        var object: [String: JSONValue] = [
            "changes": .array(changes.map(\.json)),
            "checkpoint": checkpoint.json,
            "events": .array(events.map { eventJSON($0, proof: proofs[$0.position]) }),
        ]
        for (key, value) in headMembers() + tailMembers() { object[key] = value }
        if let blame = blameJSON() { object["blame"] = blame }
        if let findings = findingsJSON() { object["findings"] = findings }
        if signed { object["signature"] = .string(Hex.encode(signature)) }
        return .object(object)
    }

    /// The small members that sort after `findings` and before `signature`.
    func headMembers() -> [(String, JSONValue)] {
        var members: [(String, JSONValue)] = [
            ("generatedAt", .string(generatedAt.iso8601)), ("kind", .string(subject.kind)), ("ledgerId", .string(ledgerID.uuidString.lowercased())),
            ("publicKey", .string(Hex.encode(publicKey))), ("schemaVersion", .int(Self.schemaVersion)),
        ]
        if let scope = scopeJSON() { members.append(("scope", scope)) }
        return members
    }

    /// The members that sort after `signature`.
    func tailMembers() -> [(String, JSONValue)] {
        var subjectJSON: [String: JSONValue]
        switch subject {
        case .document(let document): subjectJSON = ["document": .string(document)]
        case .phrase(let phrase, let ignoringCase, let document):
            subjectJSON = ["phrase": .string(phrase), "ignoreCase": .bool(ignoringCase)]
            if let document { subjectJSON["document"] = .string(document) }
        }
        return [
            ("subject", .object(subjectJSON)),
            ("textProofs", .object(Dictionary(uniqueKeysWithValues: textProofs.map { ($0.key.hex, $0.value) }))),
            ("textSalts", .object(Dictionary(uniqueKeysWithValues: textSalts.map { ($0.key.hex, JSONValue.string(Hex.encode($0.value))) }))),
            ("texts", .object(Dictionary(uniqueKeysWithValues: texts.map { ($0.key.hex, JSONValue.string($0.value)) }))),
        ]
    }

    /// What a scoped report covers: the period or versions asked for, and for a document the versions
    /// shown (`firstVersion`…`lastVersion`) after the one in force before them (`baseVersion`).
    func scopeJSON() -> JSONValue? {
        guard !scope.isWhole else { return nil }
        var object: [String: JSONValue] = [:]
        if let since = scope.since { object["since"] = .string(since.iso8601) }
        if let until = scope.until { object["until"] = .string(until.iso8601) }
        if let range {
            object["firstVersion"] = .int(Int64(range.first))
            object["lastVersion"] = .int(Int64(range.last))
            if let base = range.base { object["baseVersion"] = .int(Int64(base)) }
        } else if let versions = scope.versions {
            object["firstVersion"] = .int(Int64(versions.lowerBound))
            object["lastVersion"] = .int(Int64(versions.upperBound))
        }
        return .object(object)
    }

    func eventJSON(_ event: RecordedEvent, proof: InclusionProof?) -> JSONValue {
        var entry: [String: JSONValue] = ["event": event.json()]
        if let proof {
            entry["proof"] = ["leafIndex": .int(Int64(proof.position - 1)), "treeSize": .int(Int64(proof.treeSize)), "path": .array(proof.path.map { .string($0.hex) })]
        }
        return .object(entry)
    }

    func blameJSON() -> JSONValue? {
        guard let blame, let version = events.first(where: { $0.document == blame.document && $0.version == blame.version }) else { return nil }
        return [
            "document": .string(blame.document), "version": .int(Int64(blame.version)),
            "contentHash": .optional(version.committedHash?.hex),
            "runs": .array(Self.blameRuns(blame).map { ["text": .string($0.text), "origin": .int(Int64($0.origin))] }),
        ]
    }

    func findingsJSON() -> JSONValue? {
        guard let phraseHistory else { return nil }
        return .array(phraseHistory.changes.map { change in
            var finding: [String: JSONValue] = [
                "kind": .string(change.kind.rawValue), "position": .int(Int64(change.event.position)),
                "document": .string(change.event.document), "version": .int(Int64(change.event.version)),
                "countBefore": .int(Int64(change.occurrencesBefore)), "countAfter": .int(Int64(change.occurrencesAfter)),
                "restoredBy": .array(change.restoredBy.map { .int(Int64($0.position)) }),
            ]
            if let origin = change.originallyBy { finding["originallyBy"] = .int(Int64(origin.position)) }
            return .object(finding)
        })
    }

    /// Consecutive blamed tokens with the same origin, merged.
    public static func blameRuns(_ blame: Blame) -> [(text: String, origin: UInt64)] {
        var runs: [(text: String, origin: UInt64)] = []
        for token in blame.tokens {
            if let last = runs.last, last.origin == token.origin.position {
                runs[runs.count - 1].text += token.text
            } else {
                runs.append((token.text, token.origin.position))
            }
        }
        return runs
    }
}

extension AuditReport.Subject {
    var kind: String {
        switch self {
        case .document: "document"
        case .phrase: "phrase"
        }
    }
}

extension AuditReport.Change {
    /// The diff as operations on the text before: unchanged runs by their length in Unicode scalars
    /// (the verifier has the text), everything else quoted.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "position": .int(Int64(event.position)), "document": .string(event.document), "version": .int(Int64(event.version)),
            "type": .string(event.type.rawValue),
            "before": .optional(beforeCommitted?.hex), "after": .optional(afterCommitted?.hex),
        ]
        object["diff"] = .array(pieces.map { piece in
            var op: [String: JSONValue] = ["op": .string(piece.kind.rawValue)]
            if piece.kind == .same { op["length"] = .int(Int64(piece.length)) } else { op["text"] = .string(piece.text) }
            if let move = piece.move { op["move"] = .int(Int64(move)) }
            return .object(op)
        })
        return .object(object)
    }
}
