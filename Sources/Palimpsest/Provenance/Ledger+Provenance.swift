import Foundation
import LMDB
import PalimpsestText

/// An event as provenance cites it.
public struct EventReference: Sendable, Equatable, Hashable {
    public var position: UInt64
    public var eventID: UUID
    public var document: String
    public var version: UInt64
    public var type: EventType
    public var actor: String
    public var at: Timestamp
    public var recordedAt: Timestamp
    public var source: String?

    init(_ e: RecordedEvent) {
        (position, eventID, document, version, type) = (e.position, e.eventID, e.document, e.version, e.type)
        (actor, at, recordedAt, source) = (e.actor, e.at, e.recordedAt, e.source)
    }
}

/// One token of a blamed version: its text (with the whitespace that follows it; the first token
/// also carries any leading whitespace, so the texts joined give the version back), the event that
/// wrote it, and the events that removed it and put it back up to this version.
public struct BlameToken: Sendable, Equatable {
    public var text: String
    public var origin: EventReference
    public var removedBy: [EventReference]
    public var restoredBy: [EventReference]
}

public struct Blame: Sendable, Equatable {
    public var document: String
    public var version: UInt64
    public var tokens: [BlameToken]
}

/// One event that changed how many times a phrase occurs in a document.
public struct PhraseChange: Sendable, Equatable {
    public enum Kind: String, Sendable { case added, removed }

    public struct Context: Sendable, Equatable {
        public var before: String
        /// The occurrence itself, as the text has it.
        public var phrase: String
        public var after: String
    }

    public var kind: Kind
    public var event: EventReference
    public var occurrencesBefore: Int
    public var occurrencesAfter: Int
    /// For a removal: the last version that still had the phrase, and its time.
    public var lastSeen: (version: UInt64, at: Timestamp)?
    /// The occurrence removed (from the version before) or added (in this version).
    public var context: Context
    /// Who first wrote the occurrence: the first event that added the phrase to the document at or
    /// after the origin of the occurrence's newest token (so a phrase assembled from older words is
    /// credited to whoever assembled it, and a phrase put back by a revert to whoever first wrote it).
    public var originallyBy: EventReference?
    /// The newest origin among the occurrence's tokens (a log position).
    var tokenOrigin: UInt64?
    /// For a removal: the later events that put the phrase back in the document, up to its next removal.
    public var restoredBy: [EventReference]

    public static func == (a: PhraseChange, b: PhraseChange) -> Bool {
        a.kind == b.kind && a.event == b.event && a.occurrencesBefore == b.occurrencesBefore && a.occurrencesAfter == b.occurrencesAfter
            && a.lastSeen?.version == b.lastSeen?.version && a.lastSeen?.at == b.lastSeen?.at && a.context == b.context
            && a.originallyBy == b.originallyBy && a.restoredBy == b.restoredBy
    }
}

/// What to look for.
public struct PhraseQuery: Sendable {
    public var phrase: String
    public var document: String?
    public var ignoringCase: Bool
    public var since: Timestamp?
    public var until: Timestamp?

    public init(_ phrase: String, document: String? = nil, ignoringCase: Bool = false, since: Timestamp? = nil, until: Timestamp? = nil) {
        (self.phrase, self.document, self.ignoringCase, self.since, self.until) = (phrase, document, ignoringCase, since, until)
    }
}

/// The answer: every change, oldest first, and how it was found.
public struct PhraseHistory: Sendable, Equatable {
    public var phrase: String
    public var changes: [PhraseChange]
    /// False when the phrase was longer than the index supports and the versions were scanned.
    public var usedIndex: Bool

    public var removals: [PhraseChange] { changes.filter { $0.kind == .removed } }
}

extension Ledger {
    // MARK: Blame

    /// Who wrote each token of a version, and when; nil when the document or the version is unknown.
    /// A withdrawn version has nothing to blame: that is a conflict. Without `history`, tokens carry
    /// only their origin (on a vandalised page every token can have hundreds of removals and
    /// restorations, which take far more memory than the blame itself).
    public func blame(_ document: String, asOf: AsOf = .latest, history: Bool = true) throws(LedgerError) -> Blame? {
        var tokens: [BlameToken] = []
        guard let version = try blame(document, asOf: asOf, history: history, each: { tokens.append($0) }) else { return nil }
        return Blame(document: document, version: version, tokens: tokens)
    }

    /// The same, one token at a time in text order, without holding them all (a vandalised page's
    /// histories are far larger than its text): returns the version blamed, or nil when the document
    /// or the version is unknown.
    public func blame(_ document: String, asOf: AsOf = .latest, history: Bool = true, each: (BlameToken) -> Void) throws(LedgerError) -> UInt64? {
        guard let state = try state(of: document, asOf: asOf) else { return nil }
        if state.status == .retracted {
            throw LedgerError(.conflict, "\(DocumentID.quoted(document)) was withdrawn at version \(state.version); blame version \(state.version - 1) for what it said before")
        }
        try read(projection: "provenance") { tables, txn in
            let doc = ProvenanceProjection.documentKey(document)
            let ids = try provenanceIDs(doc, version: state.version, tables: tables, in: txn)
            let pieces = Self.blamePieces(state.text)
            guard pieces.count == ids.count else {
                throw LedgerError(.integrity, "the provenance of version \(state.version) of \(DocumentID.quoted(document)) has \(ids.count) tokens but its text has \(pieces.count); `palimpsest replay --rebuild provenance` rebuilds it")
            }
            var events = EventCache(ledger: self)
            var lookup = TokenLookup(doc: doc)
            for (piece, id) in zip(pieces, ids) {
                let origin = try lookup.origin(id, tables: tables, in: txn)
                let changes = history ? try lookup.history(id, tables: tables, in: txn) : ProvenanceProjection.TokenHistory()
                each(BlameToken(
                    text: piece, origin: try events.reference(origin, in: txn),
                    removedBy: try changes.removedBy.filter { $0 <= state.event.position }.map { try events.reference($0, in: txn) },
                    restoredBy: try changes.restoredBy.filter { $0 <= state.event.position }.map { try events.reference($0, in: txn) }))
            }
        }
        return state.version
    }

    /// The non-whitespace tokens of a text, each with the whitespace after it (leading whitespace
    /// goes with the first).
    static func blamePieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var leading = ""
        for token in Tokenizer.tokens(of: text) {
            if token.kind == .whitespace {
                if pieces.isEmpty { leading += token.text } else { pieces[pieces.count - 1] += token.text }
            } else {
                pieces.append(leading + token.text)
                leading = ""
            }
        }
        if !leading.isEmpty, !pieces.isEmpty { pieces[pieces.count - 1] += leading }
        return pieces
    }

    /// Events by position, read once per query.
    struct EventCache {
        let ledger: Ledger
        var cache: [UInt64: EventReference] = [:]
        mutating func reference<T: Transaction & ~Copyable>(_ position: UInt64, in txn: borrowing T) throws -> EventReference {
            if let hit = cache[position] { return hit }
            guard let e = try ledger.event(at: position, in: txn) else {
                throw LedgerError(.integrity, "provenance cites position \(position), which is missing from the log")
            }
            let r = EventReference(e)
            cache[position] = r
            return r
        }
    }

    func provenanceIDs<T: Transaction & ~Copyable>(_ doc: [UInt8], version: UInt64, tables: ProjectionTables, in txn: borrowing T) throws -> [Int32] {
        try ProvenanceProjection.decodeTokenIDs(ProvenanceProjection.structureBytes(doc, version: version, tables: tables, in: txn))
    }

    /// Tokens' origins and histories, for one query. A version's tokens come in runs (the tokens one
    /// event created, stored as one record), so the runs found are kept: most lookups read nothing.
    struct TokenLookup {
        let doc: [UInt8]
        /// Found so far, by first token.
        private var runs: [ProvenanceProjection.TokenRun] = []

        init(doc: [UInt8]) { self.doc = doc }

        mutating func origin<T: Transaction & ~Copyable>(_ id: Int32, tables: ProjectionTables, in txn: borrowing T) throws -> UInt64 {
            // The last run whose first token is at or before `id`.
            var low = 0, high = runs.count
            while low < high {
                let mid = (low + high) / 2
                if runs[mid].tokens.lowerBound <= id { low = mid + 1 } else { high = mid }
            }
            if low > 0, runs[low - 1].tokens.contains(id) { return runs[low - 1].origin }
            guard let run = try ProvenanceProjection.run(of: doc, holding: id, tables: tables, in: txn) else {
                throw ProvenanceProjection.damaged("tokens")
            }
            runs.insert(run, at: low)
            return run.origin
        }

        func history<T: Transaction & ~Copyable>(_ id: Int32, tables: ProjectionTables, in txn: borrowing T) throws -> ProvenanceProjection.TokenHistory {
            try txn.withValue(tables["tokenHistory"], key: ProvenanceProjection.tokenKey(doc, id), ProvenanceProjection.decodeHistory) ?? ProvenanceProjection.TokenHistory()
        }
    }

    // MARK: Phrases

    /// Every event that added or removed the phrase, oldest first (DESIGN.md §6). Phrases of up to
    /// `PhraseIndexProjection.maximumWords` words are answered from the phrase index; longer ones by
    /// scanning every version (`usedIndex` is then false). To page through a long answer, or print
    /// each change as soon as it is described, use `phraseChanges(_:kinds:after:limit:)`.
    public func phraseHistory(_ query: PhraseQuery) throws(LedgerError) -> PhraseHistory {
        let page = try phraseChanges(query)
        var changes: [PhraseChange] = []
        try page.forEach { changes.append($0) }
        return PhraseHistory(phrase: query.phrase, changes: changes, usedIndex: page.usedIndex)
    }

    /// One page of a phrase's history: the changes of the kinds asked for, oldest first, after the
    /// change at position `after` (a previous page's `next`), at most `limit` of them. Which changes
    /// are on the page is decided here, from the index (cheap); each is described — versions read,
    /// context found, origins looked up — only as `forEach` reaches it, so a short page of a common
    /// phrase costs little and a long answer can be printed while it is computed. Positions are stable
    /// (the log only grows), so a cursor stays valid; a later page also lists changes appended since.
    public func phraseChanges(
        _ query: PhraseQuery, kinds: Set<PhraseChange.Kind> = [.added, .removed], after: UInt64? = nil, limit: Int? = nil
    ) throws(LedgerError) -> PhraseChangesPage {
        guard !query.phrase.isEmpty else { throw LedgerError(.invalidInput, "the phrase is empty") }
        guard let matcher = PhraseMatcher(query.phrase, ignoringCase: query.ignoringCase) else {
            throw LedgerError(.invalidInput, "the phrase holds only whitespace")
        }
        if let limit, limit < 1 { throw LedgerError(.invalidInput, "the limit must be at least 1, not \(limit)") }
        if let document = query.document, try self.document(document) == nil {
            throw LedgerError(.notFound, "there is no document \(DocumentID.quoted(document)) in the ledger")
        }
        let usedIndex = matcher.words.count <= PhraseIndexProjection.maximumWords && !matcher.canOverlapItself
        let found = (usedIndex ? try indexedChanges(matcher, document: query.document) : try scannedChanges(matcher, document: query.document))
            .sorted(by: { $0.position < $1.position })
        var events = PageEvents(ledger: self)
        var selected: [Int] = []
        for (k, change) in found.enumerated() {
            guard change.position > after ?? 0, kinds.contains(change.delta < 0 ? .removed : .added) else { continue }
            if query.since != nil || query.until != nil {
                let at = try events.event(change.position).at
                guard query.since.map({ at >= $0 }) ?? true, query.until.map({ at <= $0 }) ?? true else { continue }
            }
            selected.append(k)
            if let limit, selected.count > limit { break }
        }
        var next: UInt64? = nil
        if let limit, selected.count > limit {
            selected.removeLast()
            next = found[selected[limit - 1]].position
        }
        return PhraseChangesPage(ledger: self, matcher: matcher, found: found, selected: selected, usedIndex: usedIndex, next: next)
    }
    /// Positions whose events changed the phrase's count, from the index, with the change in count.
    func indexedChanges(_ matcher: PhraseMatcher, document: String?) throws(LedgerError) -> [FoundChange] {
        try read(projection: "phrases") { tables, txn in
            // The rarest key's postings: the fewest zones to count in.
            var best: (hash: UInt64, count: Int)? = nil
            for hash in PhraseIndexProjection.lookupKeys(matcher) {
                var count = 0
                try PhraseIndexProjection.forEachPostings(of: hash, tables: tables, in: txn) { v in
                    count += try PhraseIndexProjection.postingsCount(v)
                    return best.map { count < $0.count } ?? true
                }
                if best == nil || count < best!.count { best = (hash, count) }
            }
            guard let best, best.count > 0 else { return [] }
            var positions: [UInt64] = []
            try PhraseIndexProjection.forEachPostings(of: best.hash, tables: tables, in: txn) { v in
                positions += try PhraseIndexProjection.decodePostings(v)
                return true
            }
            // The candidates by document: each document's count is walked on its own.
            var candidates: [String: [UInt64]] = [:]
            for position in positions {
                guard let zone = try PhraseIndexProjection.zoneHeader(at: position, tables: tables, in: txn) else {
                    throw PhraseIndexProjection.damaged("postings")
                }
                if let document, zone.document != document { continue }
                candidates[zone.document, default: []].append(position)
            }
            var result: [FoundChange] = []
            for (name, positions) in candidates {
                result += try PhraseIndexProjection.documentChanges(name, candidates: positions, of: matcher, tables: tables, in: txn)
                    .map { FoundChange(position: $0.position, delta: $0.delta, countAfter: $0.count, document: name) }
            }
            return result
        }
    }

    /// The same answer by reading every version: for phrases longer than the index supports.
    func scannedChanges(_ matcher: PhraseMatcher, document: String?) throws(LedgerError) -> [FoundChange] {
        var documents: [String] = []
        if let document { documents = [document] } else { documents = try self.documents().map(\.id) }
        var result: [FoundChange] = []
        for id in documents {
            guard let info = try self.document(id) else { continue }
            var previous = 0
            for version in 1...info.version {
                guard let state = try state(of: id, asOf: .version(version)) else { continue }
                let count = state.status == .retracted ? 0 : matcher.count(in: state.text)
                if count != previous { result.append(FoundChange(position: state.event.position, delta: count - previous, countAfter: count, document: id)) }
                previous = count
            }
        }
        return result
    }

    /// The details of one change: counts, context, who first wrote the occurrence.
    /// A version as the phrase queries read it, kept for the whole query: consecutive changes share
    /// versions (a removal's "after" is often the next restoration's "before").
    /// Used by one thread at a time (each half of a page's chunk has its own).
    final class VersionReader: @unchecked Sendable {
        struct Said {
            var state: DocumentState?
            var text: String
            /// The words, as UTF-8 byte ranges of `text` (nil until a change needs them: a change
            /// reads the words of one of its two versions, the one the occurrence is in).
            var words: [Range<Int>]?
            var ids: [Int32]?
        }
        let ledger: Ledger
        var cache: [String: Said] = [:]
        /// Texts decoded so far: a version whose delta chain passes through one costs a delta or two.
        /// A query's changes come oldest first, so the next version's chain usually does.
        let texts = DecodedTexts(budget: 16 << 20)
        /// Encoded provenance structures decoded so far, by document key and version, for the same
        /// reason (a structure is a delta against the previous version's, with a full copy only
        /// every `ProvenanceProjection.fullCopyInterval` versions).
        var structures: [[UInt8]: [UInt64: [UInt8]]] = [:]
        init(ledger: Ledger) { self.ledger = ledger }

        func said(_ document: String, _ version: UInt64) throws(LedgerError) -> Said {
            let key = "\(version)\u{0}\(document)"
            if let hit = cache[key] { return hit }
            var said = Said(state: nil, text: "", words: [], ids: [])
            if version >= 1, let s = try ledger.state(of: document, asOf: .version(version), reusing: texts) {
                let text = s.status == .retracted ? "" : s.text
                said = Said(state: s, text: text, words: text.isEmpty ? [] : nil, ids: s.status == .retracted ? [] : nil)
            }
            if cache.count > 64 { cache.removeAll(keepingCapacity: true) }
            cache[key] = said
            return said
        }

        /// Words by the text's hash: a revert brings back a text a query has often just tokenised
        /// (a removal reads the version before a vandal's edit, the revert's addition the version
        /// after it — the same text).
        var wordsOfText: [Digest: [Range<Int>]] = [:]

        /// The version with its words.
        func saidWithWords(_ document: String, _ version: UInt64) throws(LedgerError) -> (said: Said, words: [Range<Int>]) {
            var said = try said(document, version)
            if let words = said.words { return (said, words) }
            let hash = said.state?.contentHash
            let words = hash.flatMap { wordsOfText[$0] } ?? Tokenizer.wordRanges(of: said.text)
            if let hash {
                if wordsOfText.count > 64 { wordsOfText.removeAll(keepingCapacity: true) }
                wordsOfText[hash] = words
            }
            said.words = words
            cache["\(version)\u{0}\(document)"] = said
            return (said, words)
        }

        func ids<T: Transaction & ~Copyable>(_ document: String, _ version: UInt64, tables: ProjectionTables, in txn: borrowing T) throws -> [Int32] {
            var said = try said(document, version)
            if let ids = said.ids { return ids }
            let doc = ProvenanceProjection.documentKey(document)
            let known = structures[doc] ?? [:]
            let structure = try ProvenanceProjection.structureBytes(doc, version: version, known: { known[$0] }, tables: tables, in: txn)
            if known.count >= 16, let newest = known.keys.max() { structures[doc] = [newest: known[newest]!] }
            structures[doc, default: [:]][version] = structure
            let ids = try ProvenanceProjection.decodeTokenIDs(structure)
            said.ids = ids
            cache["\(version)\u{0}\(document)"] = said
            return ids
        }
    }

    /// The counts come from the change as found (the index's running count, or the scan's), so only
    /// the version the occurrence is in — the one before a removal, the one after an addition — is
    /// tokenised; of the other, only its token IDs are read.
    func describeChange(_ found: FoundChange, matcher: PhraseMatcher, reader: VersionReader) throws(LedgerError) -> PhraseChange {
        let position = found.position
        guard let event = try event(at: position) else { throw LedgerError(.integrity, "the phrase index cites position \(position), which is missing from the log") }
        let document = event.document
        let kind: PhraseChange.Kind = found.delta < 0 ? .removed : .added
        let removal = kind == .removed
        let (said, words) = try reader.saidWithWords(document, removal ? event.version - 1 : event.version)
        let text = said.text
        var bytes = text
        let occurrences = bytes.withUTF8 { matcher.occurrences(inWords: words, of: UnsafeRawBufferPointer($0)) }

        return try read(projection: "provenance") { tables, txn in
            let doc = ProvenanceProjection.documentKey(document)
            let ids = try reader.ids(document, removal ? event.version - 1 : event.version, tables: tables, in: txn)
            let otherIDs = TokenIDSet(try reader.ids(document, removal ? event.version : event.version - 1, tables: tables, in: txn))
            // The occurrence that went (or came): one with a token the other version lacks.
            let n = matcher.words.count
            let aligned = ids.count == words.count
            let chosen = occurrences.first { start in aligned && (start..<(start + n)).contains { !otherIDs.contains(ids[$0]) } } ?? occurrences.last
            var context = PhraseChange.Context(before: "", phrase: "", after: "")
            var originallyBy: EventReference? = nil
            var tokenOrigin: UInt64? = nil
            if let start = chosen {
                context = Self.context(text, words: words, range: start..<(start + n))
                if aligned {
                    var events = EventCache(ledger: self)
                    var lookup = TokenLookup(doc: doc)
                    let origin = try (start..<(start + n)).map { try lookup.origin(ids[$0], tables: tables, in: txn) }.max()!
                    originallyBy = try events.reference(origin, in: txn)
                    tokenOrigin = origin
                }
            }
            var lastSeen: (UInt64, Timestamp)? = nil
            if removal, let state = said.state { lastSeen = (state.version, state.event.at) }
            return PhraseChange(
                kind: kind, event: EventReference(event), occurrencesBefore: found.countAfter - found.delta, occurrencesAfter: found.countAfter,
                lastSeen: lastSeen, context: context, originallyBy: originallyBy, tokenOrigin: tokenOrigin, restoredBy: [])
        }
    }

    /// Up to `contextWords` words either side of an occurrence, as the text has them.
    static let contextWords = 8

    static func context(_ text: String, words: [Range<Int>], range: Range<Int>) -> PhraseChange.Context {
        let utf8 = Array(text.utf8)
        let start = words[range.lowerBound].lowerBound, end = words[range.upperBound - 1].upperBound
        let from = range.lowerBound >= contextWords ? words[range.lowerBound - contextWords].lowerBound : 0
        let to = range.upperBound + contextWords <= words.count ? words[range.upperBound + contextWords - 1].upperBound : utf8.count
        func piece(_ r: Range<Int>) -> String { String(decoding: utf8[r], as: UTF8.self) }
        return PhraseChange.Context(before: piece(from..<start), phrase: piece(start..<end), after: piece(end..<to))
    }
}

/// A page of a phrase's history (see `Ledger.phraseChanges`): which changes it lists is known; each
/// is described as `forEach` reaches it.
public struct PhraseChangesPage: Sendable {
    let ledger: Ledger
    let matcher: PhraseMatcher
    /// Every change of the phrase's count, oldest first: what a change's first writer and
    /// restorations are looked up in.
    let found: [FoundChange]
    /// Indexes into `found` of the changes on this page.
    let selected: [Int]
    /// False when the phrase was longer than the index supports and the versions were scanned.
    public let usedIndex: Bool
    /// The cursor for the next page (pass it as `after`), or nil when this page ends the answer.
    public let next: UInt64?
    /// How many changes this page lists.
    public var count: Int { selected.count }

    /// Describes the page's changes in order, a chunk at a time on both cores, handing each to `body`
    /// as soon as its chunk is done (the first chunks are small, so the first answer comes quickly).
    public func forEach(_ body: (PhraseChange) throws -> Void) throws(LedgerError) {
        let readers = [Ledger.VersionReader(ledger: ledger), Ledger.VersionReader(ledger: ledger)]
        var events = PageEvents(ledger: ledger)
        var start = 0
        var chunk = 8
        while start < selected.count {
            let part = Array(selected[start..<min(selected.count, start + chunk)])
            let halves = part.count >= 8 ? 2 : 1
            let size = (part.count + halves - 1) / halves
            let results = ConcurrentResults<Result<[PhraseChange], LedgerError>>(count: halves)
            sideBySide(halves) { [ledger, matcher, found] half in
                results[half] = Result { () throws(LedgerError) in
                    try part[min(part.count, half * size)..<min(part.count, (half + 1) * size)].map { k throws(LedgerError) in
                        try ledger.describeChange(found[k], matcher: matcher, reader: readers[half])
                    }
                }
            }
            var described: [PhraseChange] = []
            for half in 0..<halves { described += try results[half]!.get() }
            for (k, var change) in zip(part, described) {
                change.originallyBy = try firstWriter(of: change, at: k, events: &events)
                if change.kind == .removed { change.restoredBy = try restorations(of: change, at: k, events: &events) }
                do { try body(change) } catch let error as LedgerError { throw error } catch {
                    throw LedgerError(.storage, "\(error)")
                }
            }
            start += part.count
            chunk = min(chunk * 2, 128)
        }
    }

    /// Who first wrote the occurrence: the first addition to the document at or after the origin of
    /// the occurrence's newest token, up to this change; when there is none, the event that wrote
    /// that token (as `describeChange` found it).
    private func firstWriter(of change: PhraseChange, at k: Int, events: inout PageEvents) throws(LedgerError) -> EventReference? {
        guard let origin = change.tokenOrigin else { return change.originallyBy }
        var low = 0, high = k + 1
        while low < high {
            let middle = (low + high) / 2
            if found[middle].position < origin { low = middle + 1 } else { high = middle }
        }
        for j in low..<(k + 1) where found[j].delta > 0 && found[j].document == change.event.document {
            return EventReference(try events.event(found[j].position))
        }
        return change.originallyBy
    }

    /// The later additions to the same document, up to its next removal of the phrase.
    private func restorations(of change: PhraseChange, at k: Int, events: inout PageEvents) throws(LedgerError) -> [EventReference] {
        var restorers: [EventReference] = []
        // Documents are compared by name first: a whole-ledger answer interleaves many documents, and
        // only the events that are listed get read.
        for later in found[(k + 1)...] where later.document == change.event.document {
            if later.delta < 0 { break }
            restorers.append(EventReference(try events.event(later.position)))
        }
        return restorers
    }
}

/// Events a phrase query looks at, read once each.
struct PageEvents {
    let ledger: Ledger
    private var cache: [UInt64: RecordedEvent] = [:]
    init(ledger: Ledger) { self.ledger = ledger }

    mutating func event(_ position: UInt64) throws(LedgerError) -> RecordedEvent {
        if let known = cache[position] { return known }
        guard let event = try ledger.event(at: position) else {
            throw LedgerError(.integrity, "the phrase index cites position \(position), which is missing from the log")
        }
        if cache.count > 4096 { cache.removeAll(keepingCapacity: true) }
        cache[position] = event
        return event
    }
}

/// A version's token IDs, to ask whether it has a token: a bitmap (IDs are small, dense and
/// non-negative: a document's tokens numbered as they were written) instead of a `Set` hashed per
/// change; a `Set` if an ID were negative.
struct TokenIDSet {
    private var bits: [UInt64] = []
    private var fallback: Set<Int32>? = nil

    init(_ ids: [Int32]) {
        guard let highest = ids.max(), ids.min()! >= 0 else {
            if !ids.isEmpty { fallback = Set(ids) }
            return
        }
        bits = [UInt64](repeating: 0, count: Int(highest) / 64 + 1)
        for id in ids { bits[Int(id) >> 6] |= 1 << UInt64(id & 63) }
    }

    func contains(_ id: Int32) -> Bool {
        if let fallback { return fallback.contains(id) }
        guard id >= 0, Int(id) >> 6 < bits.count else { return false }
        return bits[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }
}

/// One change of a phrase's count that a query found: where, by how much, in which document.
struct FoundChange: Sendable {
    let position: UInt64
    let delta: Int
    /// The phrase's count in the document after the change (so `countAfter - delta` before it).
    let countAfter: Int
    let document: String
}
