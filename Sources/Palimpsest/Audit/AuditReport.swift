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

        public init(_ piece: TextDiff.Piece) {
            let scalars = piece.text.unicodeScalars
            (kind, length, move) = (piece.kind, scalars.count, piece.move)
            if piece.kind == .same, length > 2 * AuditReport.keptContext + 40 {
                text = String(String.UnicodeScalarView(scalars.prefix(AuditReport.keptContext)))
                tail = String(String.UnicodeScalarView(scalars.suffix(AuditReport.keptContext)))
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

    public static let schemaVersion: Int64 = 1
}

extension Ledger {
    /// A report on `subject`, proved against the latest checkpoint when it covers every cited event,
    /// else against a new checkpoint signed now (`signedNewCheckpoint` says which).
    public func auditReport(_ subject: AuditReport.Subject, at time: Timestamp = .now()) throws(LedgerError) -> (report: AuditReport, signedNewCheckpoint: Bool) {
        var changes: [AuditReport.Change] = []
        var cited = Set<UInt64>()
        var blame: Blame? = nil
        var history: PhraseHistory? = nil
        let reader = sequentialTextReader()
        func text(_ hash: Digest) throws(LedgerError) -> String {
            guard let loaded = try reader.text(hash: hash) else { throw LedgerError(.integrity, "the text \(hash.hex) is missing from the ledger") }
            return loaded
        }

        switch subject {
        case .document(let document):
            guard let events = try events(of: document) else {
                throw LedgerError(.notFound, "there is no document \(DocumentID.quoted(document)) in the ledger")
            }
            var before: RecordedEvent? = nil
            var pending: [(RecordedEvent, RecordedEvent?)] = []
            for event in events {
                cited.insert(event.position)
                pending.append((event, before))
                if event.contentHash != nil { before = event }
            }
            changes = try diffs(pending)
            if try state(of: document)?.status == .active { blame = try self.blame(document, history: false) }
        case .phrase(let phrase, let ignoringCase, let document):
            let found = try phraseHistory(PhraseQuery(phrase, document: document, ignoringCase: ignoringCase))
            history = found
            var pending: [(RecordedEvent, RecordedEvent?)] = []
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
                pending.append((event, before))
            }
            changes = try diffs(pending)
        }

        // Texts the verifier cannot derive from an earlier change of the report are given in full.
        var derived = Set<Digest>()
        var texts: [Digest: String] = [:]
        for change in changes {
            if let before = change.before, let committed = change.beforeCommitted, !derived.contains(committed) { texts[committed] = try text(before) }
            if let after = change.afterCommitted { derived.insert(after) }
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
        var proofs: [UInt64: InclusionProof] = [:]
        for position in positions {
            guard let event = try event(at: position) else { throw LedgerError(.integrity, "the log has no event at position \(position)") }
            events.append(event)
            proofs[position] = try inclusionProof(position: position, treeSize: checkpoint.treeSize)
        }
        var report = AuditReport(
            subject: subject, generatedAt: time, ledgerID: id, publicKey: publicKey, checkpoint: checkpoint, events: events,
            proofs: proofs, texts: texts, changes: changes, blame: blame, phraseHistory: history)
        for event in events {
            guard let committed = event.committedHash, event.contentHash != nil else { continue }
            if let salt = event.textSalt { report.textSalts[committed] = salt }
            if let proof = event.textProofJSON { report.textProofs[committed] = proof }
        }
        let key = try signingKey()
        do {
            report.signature = Array(try key.signature(for: CanonicalJSON.encode(report.json(signed: false))))
        } catch {
            throw LedgerError(.storage, "cannot sign the report: \(error)")
        }
        return (report, signedNew)
    }

    /// The diffs of `pending` (event, text before it), on every core, a few dozen at a time so that
    /// only those texts are in memory: the slow part of a long history.
    private func diffs(_ pending: [(RecordedEvent, RecordedEvent?)]) throws(LedgerError) -> [AuditReport.Change] {
        var changes: [AuditReport.Change] = []
        changes.reserveCapacity(pending.count)
        var cache: [Digest: String] = [:]
        let reader = sequentialTextReader()
        var start = 0
        while start < pending.count {
            let chunk = pending[start..<min(pending.count, start + 64)]
            var texts: [Digest: String] = [:]
            for hash in chunk.flatMap({ [$0.1?.contentHash, $0.0.contentHash] }).compactMap({ $0 }) where texts[hash] == nil {
                if let known = cache[hash] { texts[hash] = known; continue }
                guard let loaded = try reader.text(hash: hash) else { throw LedgerError(.integrity, "the text \(hash.hex) is missing from the ledger") }
                texts[hash] = loaded
            }
            let pairs = chunk.map { event, before -> (String, String) in
                let old = before?.contentHash.flatMap { texts[$0] } ?? ""
                return (old, event.contentHash.flatMap { texts[$0] } ?? old)
            }
            let results = ConcurrentResults<[AuditReport.Piece]>(count: pairs.count)
            DispatchQueue.concurrentPerform(iterations: pairs.count) { k in
                let (old, new) = pairs[k]
                let pieces = old == new ? (old.isEmpty ? [] : [TextDiff.Piece(kind: .same, text: old)]) : TextDiff.diff(old: old, new: new)
                results[k] = pieces.map(AuditReport.Piece.init)
            }
            for (k, (event, before)) in chunk.enumerated() {
                changes.append(AuditReport.Change(
                    event: event, before: before?.contentHash, after: event.contentHash, beforeCommitted: before?.committedHash,
                    afterCommitted: event.contentHash == nil ? nil : event.committedHash, pieces: results[k] ?? []))
            }
            // The last texts of the chunk start the next one.
            cache = [:]
            if let last = chunk.last?.0.contentHash ?? chunk.last?.1?.contentHash { cache[last] = texts[last] }
            start += chunk.count
        }
        return changes
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
    public func json(signed: Bool = true) -> JSONValue {
        var subjectJSON: [String: JSONValue]
        switch subject {
        case .document(let document): subjectJSON = ["document": .string(document)]
        case .phrase(let phrase, let ignoringCase, let document):
            subjectJSON = ["phrase": .string(phrase), "ignoreCase": .bool(ignoringCase)]
            if let document { subjectJSON["document"] = .string(document) }
        }
        var object: [String: JSONValue] = [
            "schemaVersion": .int(Self.schemaVersion),
            "kind": .string(subject.kind),
            "subject": .object(subjectJSON),
            "generatedAt": .string(generatedAt.iso8601),
            "ledgerId": .string(ledgerID.uuidString.lowercased()),
            "publicKey": .string(Hex.encode(publicKey)),
            "checkpoint": checkpoint.json,
            "events": .array(events.map { event in
                var entry: [String: JSONValue] = ["event": event.json()]
                if let proof = proofs[event.position] {
                    entry["proof"] = ["leafIndex": .int(Int64(proof.position - 1)), "treeSize": .int(Int64(proof.treeSize)), "path": .array(proof.path.map { .string($0.hex) })]
                }
                return .object(entry)
            }),
            "texts": .object(Dictionary(uniqueKeysWithValues: texts.map { ($0.key.hex, JSONValue.string($0.value)) })),
            "textSalts": .object(Dictionary(uniqueKeysWithValues: textSalts.map { ($0.key.hex, JSONValue.string(Hex.encode($0.value))) })),
            "textProofs": .object(Dictionary(uniqueKeysWithValues: textProofs.map { ($0.key.hex, $0.value) })),
            "changes": .array(changes.map(\.json)),
        ]
        if let blame, let version = events.first(where: { $0.document == blame.document && $0.version == blame.version }) {
            object["blame"] = [
                "document": .string(blame.document), "version": .int(Int64(blame.version)),
                "contentHash": .optional(version.committedHash?.hex),
                "runs": .array(Self.blameRuns(blame).map { ["text": .string($0.text), "origin": .int(Int64($0.origin))] }),
            ]
        }
        if let phraseHistory {
            object["findings"] = .array(phraseHistory.changes.map { change in
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
        if signed { object["signature"] = .string(Hex.encode(signature)) }
        return .object(object)
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
