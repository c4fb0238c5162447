import Foundation
import LMDB
import PalimpsestText

/// A request to withhold texts (DESIGN.md §13): a court order, an erasure request.
public struct Redaction: Sendable, Equatable {
    public enum Scope: Sendable, Equatable {
        /// These versions of the document.
        case versions([UInt64])
        /// Every version of the document that carries a text.
        case allVersions
    }

    public var document: String
    public var scope: Scope
    /// Withhold only the occurrences of this phrase (the sentences or lines that hold them); nil
    /// withholds whole texts.
    public var phrase: String?
    public var ignoringCase: Bool
    /// Why, in the redaction event and in the marker that stands where the text was.
    public var reason: String
    public var actor: String
    /// Who ordered it (a court, an officer), recorded in the event.
    public var authority: String?
    public var at: Timestamp
    /// Supplying an ID makes a retry an idempotent no-op.
    public var eventID: UUID?

    public init(
        document: String, scope: Scope, phrase: String? = nil, ignoringCase: Bool = false, reason: String, actor: String,
        authority: String? = nil, at: Timestamp = .now(), eventID: UUID? = nil
    ) {
        self.document = document
        self.scope = scope
        self.phrase = phrase
        self.ignoringCase = ignoringCase
        self.reason = reason
        self.actor = actor
        self.authority = authority
        self.at = at
        self.eventID = eventID
    }
}

/// What a redaction did.
public struct RedactionResult: Sendable, Equatable {
    /// The redaction event, or nil when there was nothing left to withhold.
    public var event: RecordedEvent?
    /// Versions whose text (or whose every occurrence of the phrase) an earlier redaction had
    /// already withheld: nothing was done for them.
    public var alreadyRedacted: [UInt64]
    /// True when the event ID was already recorded (a retry).
    public var wasAlreadyRecorded: Bool
    /// The WARC records (capture evidence) whose blocks were replaced by the marker.
    public var withheldRecords: [String] = []
}

extension Ledger {
    /// Fields hashed into the events themselves: they can never be redacted, only the texts can.
    public static let unredactableFields = ["document ID", "actor", "title", "message", "source", "metadata", "reason"]

    /// The words that stand where a text (or a run of its segments) was withheld.
    public static func redactionMarker(position: UInt64, reason: String) -> String {
        "[redacted by event #\(position): \(reason)]"
    }

    /// Withholds texts and appends the redaction event, in one transaction: the withheld bytes leave
    /// the text store (the records that were deltas against them are re-encoded), the events that
    /// carried them keep their hashes (the chain, the Merkle tree and old checkpoints stay valid) and
    /// now read as the text with a marker where the words were. The following projections are
    /// cleared in the same transaction and rebuilt from the texts as they now read. The freed pages
    /// still hold the old bytes until `compact()` rewrites the file.
    public func redact(_ request: Redaction) throws(LedgerError) -> RedactionResult {
        if sharedLog != nil {
            throw LedgerError(.invalidInput, "redacting a shared ledger is not supported yet: the texts must be rewritten in the shared log and in every replica at once (DESIGN.md §10); nothing was written")
        }
        lockFoldsInForeground()
        defer { foldLock.unlock() }
        var result = try withWriter { txn, writer in try writer.redact(request, in: txn) }
        if result.event != nil, !result.wasAlreadyRecorded { projector?.wake() }
        if let event = result.event {
            // A retry (wasAlreadyRecorded) rewrites again what a failed first attempt left.
            result.withheldRecords = try withholdCitedRecords(of: event, reason: request.reason)
        }
        return result
    }

    public func redact(_ request: Redaction) async throws(LedgerError) -> RedactionResult {
        try await offloaded { ledger throws(LedgerError) in try ledger.redact(request) }
    }
}

extension TransactionWriter {
    mutating func redact(_ request: Redaction, in txn: borrowing WriteTransaction) throws -> RedactionResult {
        let tables = self.tables
        let docName = DocumentID.quoted(request.document)
        if let id = request.eventID, let existing = try ledger.event(id: id, in: txn) {
            guard existing.type == .redacted, existing.document == request.document else {
                throw LedgerError(.conflict, "the event ID \(id.uuidString.lowercased()) is already recorded at position \(existing.position) for a \(existing.type.rawValue) event of \(DocumentID.quoted(existing.document))")
            }
            return RedactionResult(event: existing, alreadyRedacted: existing.redacts.map(\.version), wasAlreadyRecorded: true)
        }
        guard !request.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw LedgerError(.invalidInput, "a redaction needs a reason (--reason): it is recorded in the event and shown where the text was")
        }
        guard !request.actor.isEmpty else { throw LedgerError(.invalidInput, "the actor of a redaction may not be empty") }
        guard let info = try ledger.documentInfo(request.document, in: txn) else {
            throw LedgerError(.notFound, "there is no document \(docName) in the ledger")
        }
        var matcher: PhraseMatcher? = nil
        if let phrase = request.phrase {
            guard let m = PhraseMatcher(phrase, ignoringCase: request.ignoringCase) else {
                throw LedgerError(.invalidInput, "the phrase to redact holds nothing but whitespace")
            }
            matcher = m
            // The reason and authority are hashed into the event, for ever: they must not repeat the words.
            for (name, value) in [("reason", request.reason), ("authority", request.authority ?? "")] where m.count(in: value) > 0 {
                throw LedgerError(.invalidInput, "the \(name) contains the phrase being redacted; it is recorded in the event and can never be redacted itself, so say why without the words")
            }
        }

        // The versions to look at.
        var targets: [(version: UInt64, position: UInt64)] = []
        switch request.scope {
        case .versions(let versions):
            for version in Set(versions).sorted() {
                guard version >= 1, version <= info.version else {
                    throw LedgerError(.notFound, "\(docName) has no version \(version) (its versions are 1–\(info.version))")
                }
                let entry = try ledger.stream(info, version: version, in: txn)
                guard entry.type.carriesText else {
                    throw LedgerError(.notFound, "version \(version) of \(docName) is a retraction and carries no text of its own (the text it withdrew is the version before it)")
                }
                targets.append((version, entry.position))
            }
        case .allVersions:
            for version in 1...info.version {
                let entry = try ledger.stream(info, version: version, in: txn)
                if entry.type.carriesText { targets.append((version, entry.position)) }
            }
        }

        let head = try ledger.head(in: txn)
        let position = head.position + 1
        let marker = Array(Ledger.redactionMarker(position: position, reason: request.reason).utf8)
        let store = tables.textStore
        var redacted: [RedactedText] = []
        var already: [UInt64] = []
        var absent: [UInt64] = []
        var plainRecipe: [UInt64] = []
        var rewritten: [RecordedEvent] = []
        var texts: [(hash: Digest, text: [UInt8])] = []
        for target in targets {
            guard var event = try ledger.event(at: target.position, in: txn), let hash = event.contentHash,
                let visible = try store.load(hash, in: txn)
            else {
                throw LedgerError(.integrity, "the text of version \(target.version) of \(docName) (position \(target.position)) is missing")
            }
            let wholeAlready = event.redactedBy != nil && event.textProof == nil
            if wholeAlready {
                already.append(target.version)
                continue
            }
            var newText: [UInt8]
            var entry = RedactedText(position: target.position, version: target.version)
            if let matcher {
                let parts: [PartialTextProof.Part]
                if let proof = event.textProof {
                    parts = proof.parts
                } else if let salt = event.textSalt {
                    parts = TextCommitment.segments(of: visible).enumerated().map { i, range in
                        .kept(bytes: range.count, salt: TextCommitment.segmentSalt(salt, index: i))
                    }
                } else {
                    if Self.occurrences(of: matcher, in: visible).isEmpty { absent.append(target.version) } else { plainRecipe.append(target.version) }
                    continue
                }
                // Where each part lies in the text as it reads now.
                var spans: [Range<Int>] = []
                var offset = 0
                for part in parts {
                    let length: Int
                    switch part {
                    case .kept(let bytes, _): length = bytes
                    case .withheld(_, let markerBytes): length = markerBytes
                    }
                    spans.append(offset..<offset + length)
                    offset += length
                }
                guard offset == visible.count else {
                    throw LedgerError(.integrity, "the redaction proof of version \(target.version) of \(docName) does not fit its text")
                }
                var withhold = Set<Int>()
                for occurrence in Self.occurrences(of: matcher, in: visible) {
                    let touched = spans.indices.filter { spans[$0].overlaps(occurrence.bytes) }
                    // Words inside a marker are not the text's: an occurrence that reaches into one is
                    // not there any more.
                    guard touched.allSatisfy({ if case .kept = parts[$0] { true } else { false } }) else { continue }
                    withhold.formUnion(touched)
                    entry.tokens.append(occurrence.tokens)
                }
                if withhold.isEmpty {
                    if event.redactedBy != nil { already.append(target.version) } else { absent.append(target.version) }
                    continue
                }
                var newParts = parts
                newText = []
                newText.reserveCapacity(visible.count)
                for (i, part) in parts.enumerated() {
                    switch part {
                    case .kept(_, let salt) where withhold.contains(i):
                        let leaf = visible.withUnsafeBytes { raw in
                            TextCommitment.leafHash(segment: UnsafeRawBufferPointer(rebasing: raw[spans[i]]), segmentSalt: salt)
                        }
                        // One marker for a run of neighbouring withheld segments; a run that ended a
                        // line keeps the line's end, so the lines around it stay lines.
                        guard i == 0 || !withhold.contains(i - 1) else {
                            newParts[i] = .withheld(leafHash: leaf, markerBytes: 0)
                            continue
                        }
                        var last = i
                        while withhold.contains(last + 1) { last += 1 }
                        let runMarker = visible[spans[last].upperBound - 1] == 0x0A ? marker + [0x0A] : marker
                        newParts[i] = .withheld(leafHash: leaf, markerBytes: runMarker.count)
                        newText += runMarker
                    default:
                        newText += visible[spans[i]]
                    }
                }
                entry.segments = withhold.sorted()
                event.textProof = PartialTextProof(parts: newParts)
            } else {
                newText = marker
                event.textProof = nil
            }
            redacted.append(entry)
            // The commitment the event's hash was computed over stays; only what reads it changes.
            event.commitment = event.commitment ?? hash
            event.textSalt = nil
            event.redactedBy = position
            event.contentHash = Digest.sha256(newText)
            rewritten.append(event)
            texts.append((hash, newText))
        }

        if !plainRecipe.isEmpty {
            throw LedgerError(.conflict, "version\(plainRecipe.count == 1 ? "" : "s") \(plainRecipe.map(String.init).joined(separator: ", ")) of \(docName) \(plainRecipe.count == 1 ? "was" : "were") recorded before texts were committed in segments, so \(plainRecipe.count == 1 ? "its text" : "their texts") can only be withheld whole: redact without --phrase; nothing was written")
        }
        if let matcher, redacted.isEmpty || (!absent.isEmpty && request.scope != .allVersions) {
            if !absent.isEmpty || already.isEmpty {
                let which = request.scope == .allVersions ? "any version" : "version\(absent.count == 1 ? "" : "s") \(absent.map(String.init).joined(separator: ", "))"
                var message = "the phrase \(Self.quotedPhrase(request.phrase!)) does not appear in the text of \(which) of \(docName); nothing was written"
                if let field = try Self.fieldHolding(matcher, document: info, in: txn, ledger: ledger) {
                    message += ". It appears in the \(field), which is hashed into the event itself and can never be redacted (only texts can: \(Ledger.unredactableFields.joined(separator: ", ")) cannot)"
                }
                throw LedgerError(.notFound, message)
            }
        }
        if redacted.isEmpty {
            return RedactionResult(event: nil, alreadyRedacted: already, wasAlreadyRecorded: false)
        }

        // Write: the texts as they now read, the events that carry them, then the old texts out.
        var replaced = Set<Digest>()
        for (event, text) in zip(rewritten, texts) {
            try store.store(text.text, hash: event.contentHash!, bases: [], in: txn)
            try txn.put(tables.log, key: BigEndianKey.encode(event.position), value: EventRecord.encode(event))
            replaced.insert(text.hash)
        }
        var stillCarried = Set<Digest>()
        try txn.scan(tables.log) { _, value in
            // Only the text-hash field is needed; decoding the whole record is simplest and redaction is rare.
            if let hash = try EventRecord.decode(value, position: 0).contentHash, replaced.contains(hash) { stillCarried.insert(hash) }
            return true
        }
        for hash in replaced where !stillCarried.contains(hash) {
            try store.withhold(hash, in: txn)
            withheldTexts.append(hash)
        }
        try ledger.refoldStream(of: info, in: txn)

        let recordedAt = max(Timestamp.now(), head.recordedAt)
        var event = RecordedEvent(
            position: position, eventID: request.eventID ?? UUID.timeOrdered(at: recordedAt), document: request.document, version: info.version,
            type: .redacted, at: request.at, recordedAt: recordedAt, actor: request.actor,
            source: nil, message: nil, metadata: [:], contentHash: nil, authority: request.authority, redacts: redacted,
            previousHash: head.hash, hash: .zero, title: nil, language: nil, variantOf: nil, reason: request.reason, kind: nil)
        event.hash = event.computeHash()
        try appendLogged(event, in: txn)
        // The following projections were folded over the texts as they read before: they start again.
        for registered in ledger.projections where registered.isFollowing { try ledger.reset(registered, in: txn) }
        return RedactionResult(event: event, alreadyRedacted: already, wasAlreadyRecorded: false)
    }

    /// A redaction event as another ledger recorded it (an export line). Its texts came in already
    /// redacted (their lines name it in `textProof.redactedBy`); this checks that it names exactly
    /// those, and appends it.
    mutating func appendRedaction(recorded: RecordedEvent, in txn: borrowing WriteTransaction) throws -> AppendResult {
        if let existing = try ledger.event(id: recorded.eventID, in: txn) {
            guard existing.hash == recorded.hash else {
                throw LedgerError(.conflict, "the event ID \(recorded.eventID.uuidString.lowercased()) is already recorded at position \(existing.position) with a different hash")
            }
            return AppendResult(event: existing, wasAlreadyRecorded: true, wasBackdated: false, textBytes: 0)
        }
        let head = try ledger.head(in: txn)
        guard recorded.position == head.position + 1 else {
            throw LedgerError(.conflict, "the redaction event is at position \(recorded.position), but the ledger's next position is \(head.position + 1)")
        }
        guard recorded.previousHash == head.hash else {
            throw LedgerError(.integrity, "the event at position \(recorded.position) does not chain to the previous event (its previousHash is not the hash of position \(head.position))")
        }
        guard let info = try ledger.documentInfo(recorded.document, in: txn), info.version == recorded.version else {
            throw LedgerError(.integrity, "the redaction event at position \(recorded.position) names version \(recorded.version) of \(DocumentID.quoted(recorded.document)), which is not the document's current version")
        }
        for redacted in recorded.redacts {
            guard let target = try ledger.event(at: redacted.position, in: txn), target.document == recorded.document,
                target.version == redacted.version, let by = target.redactedBy, by >= recorded.position
            else {
                throw LedgerError(.integrity, "the redaction event at position \(recorded.position) names the text of position \(redacted.position), which is not marked as redacted by it")
            }
        }
        var event = recorded
        guard event.computeHash() == recorded.hash else {
            throw LedgerError(.integrity, "the event at position \(recorded.position) does not match its hash (recomputed \(event.computeHash().hex))")
        }
        event.hash = recorded.hash
        try appendLogged(event, in: txn)
        return AppendResult(event: event, wasAlreadyRecorded: false, wasBackdated: false, textBytes: 0)
    }

    /// Writes an event that is not a step of its document's stream (a redaction) to the log, the
    /// event-ID index, the inline projections and the head.
    private mutating func appendLogged(_ event: RecordedEvent, in txn: borrowing WriteTransaction) throws {
        let tables = self.tables
        try txn.put(tables.log, key: BigEndianKey.encode(event.position), value: EventRecord.encode(event), options: .append)
        try txn.put(tables.eventIDs, key: withUnsafeBytes(of: event.eventID.uuid) { Array($0) }, value: BigEndianKey.encode(event.position))
        for registered in ledger.projections where !registered.isFollowing {
            try registered.projection.apply(event, text: nil, tables: registered.live, in: txn)
        }
        lastPosition = event.position
        try txn.put(tables.meta, key: Ledger.MetaKey.head, value: LogHead(position: event.position, hash: event.hash, recordedAt: event.recordedAt).encoded)
    }

    /// The phrase's occurrences in a text: byte ranges and word-token ranges.
    static func occurrences(of matcher: PhraseMatcher, in text: [UInt8]) -> [(bytes: Range<Int>, tokens: Range<Int>)] {
        let string = String(decoding: text, as: UTF8.self)
        let words = Tokenizer.wordRanges(of: string)
        let n = matcher.words.count
        return text.withUnsafeBytes { raw in
            matcher.occurrences(inWords: words, of: raw).map { start in
                (words[start].lowerBound..<words[start + n - 1].upperBound, start..<start + n)
            }
        }
    }

    static func quotedPhrase(_ phrase: String) -> String {
        let shown = phrase.count > 60 ? String(phrase.prefix(60)) + "…" : phrase
        return "\"\(shown)\""
    }

    /// The first field hashed into one of the document's events that holds the phrase, named for a
    /// message ("title of version 1"), or nil.
    static func fieldHolding<T: Transaction & ~Copyable>(_ matcher: PhraseMatcher, document info: DocumentInfo, in txn: borrowing T, ledger: Ledger) throws -> String? {
        if matcher.count(in: info.id) > 0 { return "document ID" }
        for version in 1...info.version {
            guard let event = try ledger.event(at: try ledger.stream(info, version: version, in: txn).position, in: txn) else { continue }
            let fields: [(String, String?)] = [
                ("actor", event.actor), ("title", event.title), ("message", event.message), ("source", event.source),
                ("reason", event.reason),
            ]
            for (name, value) in fields where value.map({ matcher.count(in: $0) > 0 }) ?? false {
                return "\(name) of version \(version)"
            }
            for (key, value) in event.metadata where matcher.count(in: key) > 0 || matcher.count(in: value) > 0 {
                return "metadata of version \(version)"
            }
        }
        return nil
    }
}

extension Ledger {
    /// Rewrites a document's stream entries and catalogue entry from its events, after their texts
    /// changed (a redaction): the same rule the append path and `rebuildIndexes` follow.
    func refoldStream(of info: DocumentInfo, in txn: borrowing WriteTransaction) throws {
        var rebuilt: DocumentInfo? = nil
        for version in 1...info.version {
            let entry = try stream(info, version: version, in: txn)
            guard let event = try event(at: entry.position, in: txn) else {
                throw LedgerError(.integrity, "the event at position \(entry.position) is missing")
            }
            let length = try event.contentHash.map { hash -> UInt64 in
                guard let size = try tables.textStore.size(of: hash, in: txn) else {
                    throw LedgerError(.integrity, "the text of the event at position \(event.position) is missing")
                }
                return UInt64(size)
            }
            if rebuilt == nil {
                rebuilt = DocumentInfo(first: event, key: info.key, textLength: length ?? 0)
            } else {
                rebuilt!.record(event, textLength: length ?? 0)
            }
            let updated = StreamEntry(position: entry.position, at: entry.at, textHash: rebuilt!.contentHash, type: entry.type)
            try txn.put(tables.streams, key: StreamEntry.key(document: info.key, version: version), value: updated.encode())
        }
        try txn.put(tables.catalogue, key: BigEndianKey.encode(info.key), value: rebuilt!.encode())
    }
}
