import Foundation
import LMDB
import PalimpsestText
import TextPacking

/// The built-in provenance projection: for every document, every token it ever held, the event that
/// wrote it, and the events that removed it and put it back; and for every version, which tokens it
/// holds. `blame` reads it without replaying history.
///
/// Tables (a document is named by the first 8 bytes of the SHA-256 of its ID):
/// - `documents`: doc → the version and log position last folded;
/// - `tokens`: doc‖last token → the tokens one event created (identities are given out in order, so
///   they are a run): how many, the event, each one's text. One record per event, not one per token:
///   rust-lang/rfcs's 3.2 million tokens took 193 MB and a third of the fold's time as records of
///   their own. A lookup is one `MDB_SET_RANGE` (the first run whose last token is at or after it);
/// - `tokenHistory`: doc‖token → the events that removed the token and put it back, only for tokens
///   that have any (written when a transaction commits, not event by event: a blanked page and its
///   revert touch every token; the changes since the last commit are kept as a list and merged into
///   the stored records then);
/// - `history`: doc‖kind‖hash‖ordinal → every paragraph ("p") and sentence ("s") the document ever had;
/// - `versions`: doc‖version → the structure of that version (paragraphs, sentences, token IDs),
///   stored as a delta against the previous version (deflated when that pays) with a full copy every
///   128 versions (the full copies, deflated, were most of the table at one in 32).
///
/// The engines (`ProvenanceEngine`) stay in memory between events; a cached engine is trusted only if
/// the `documents` table agrees with it, and is otherwise reloaded from the tables.
public final class ProvenanceProjection: StagedProjection, @unchecked Sendable {
    public init() {}
    public var name: String { "provenance" }
    public var lifecycle: ProjectionLifecycle { .following }
    public var version: UInt64 { 3 }
    public var tableNames: [String] { ["documents", "tokens", "tokenHistory", "history", "versions"] }

    /// Engines by (documents table, document key); guarded by `lock` (folds run on the writer queue,
    /// but `Sendable` asks for it).
    private let lock = NSLock()
    /// Engines, up to 2 million tokens in all (the least recently used are dropped beyond).
    private var engines = DocumentStateCache<CachedEngine>(limit: 2_000_000)
    static let fullCopyInterval: UInt64 = 128

    final class CachedEngine: CachedDocumentState {
        var engine: ProvenanceEngine
        var version: UInt64
        var position: UInt64
        var lastUse: UInt64 = 0
        /// The version new versions are matched against (see `ProvenanceEngine.effective`).
        var effectiveVersion: UInt64 = 0
        /// What happened to tokens since their records were last written, in the order it happened:
        /// merged into the records at commit.
        var pending = PendingTokenChanges()
        /// The encoded structure of `structureVersion` (the version last folded): the next version's
        /// delta base.
        var structure: [UInt8] = []
        var structureVersion: UInt64 = 0
        init(engine: ProvenanceEngine, version: UInt64, position: UInt64) {
            (self.engine, self.version, self.position) = (engine, version, position)
            self.engine.keepsTokenHistories = false
        }
        /// Tokens, and the engine itself (its tables and indexes, a few kilobytes even when empty)
        /// counted as a hundred more, so that a million tiny documents stay bounded too.
        var weight: Int { engine.tokens.count + 100 }
    }

    public func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        try applyStaged(event, text: text, tables: tables, in: txn)
    }

    func prepare<T: Transaction & ~Copyable>(_ events: [RecordedEvent], tables: ProjectionTables, in txn: borrowing T) throws {
        lock.lock()
        defer { lock.unlock() }
        try engines.ready(
            for: events, in: tables["documents"], documentKey: Self.documentKey,
            stored: { try Self.documentRecord($0, tables: tables, in: txn) }, folded: { ($0.version, $0.position) },
            load: { doc, record in try Self.load(doc, record: record, tables: tables, in: txn) })
    }

    func compute(_ events: [(event: RecordedEvent, text: String?)], tables: ProjectionTables) -> [StagedWrite] {
        lock.lock()
        defer { lock.unlock() }
        // Each version's structure record (encoded, a delta against the previous version's, deflated)
        // is a fifth of the fold's work and needs only the version's paragraphs, which the engine
        // hands over without copying (arrays are shared until written): a batch encodes them on a
        // second thread while the engine folds the next events. A few events are not worth a thread.
        guard events.count >= Self.eventsWorthASecondThread else {
            var writes: [StagedWrite] = [], structures: [StagedWrite] = []
            fold(events, tables: tables, into: &writes) { structures.append(structure($0, tables: tables)) }
            return writes + structures
        }
        // A third thread surveys the texts ahead of the fold (paragraph cuts and hashes, the text's
        // hash and length: a pass over every byte of every version that depends on nothing else, about
        // 1.7 s of the fold's 9.5 s on Anarchism); the fold takes one survey per document change, in order.
        let toEncode = BoundedChannel<VersionStructure, Bool>(capacity: 256)
        let surveyed = BoundedChannel<Surveyed, Bool>(capacity: 64)
        let results = ConcurrentResults<[StagedWrite]>(count: 3)
        sideBySide(3) { [self] k in
            var writes: [StagedWrite] = []
            switch k {
            case 0:
                fold(events, tables: tables, into: &writes, surveys: surveyed) { toEncode.put($0) }
                toEncode.finish(true)
            case 1:
                while let version = toEncode.take() { writes.append(structure(version, tables: tables)) }
            default:
                for (event, text) in events where event.type.isDocumentChange {
                    surveyed.put(Surveyed(survey: event.type == .retracted ? nil : Segmenter.survey(text ?? "")))
                }
                surveyed.finish(true)
            }
            results[k] = writes
        }
        return (results[0] ?? []) + (results[1] ?? [])
    }

    /// A text's survey, computed ahead of the fold (nil for a retraction, which has no text).
    struct Surveyed: Sendable { let survey: Segmenter.Survey? }

    static let eventsWorthASecondThread = 16

    /// A folded version's structure, for its record.
    struct VersionStructure: @unchecked Sendable {
        let doc: [UInt8]
        let version: UInt64
        let cached: CachedEngine
        let paragraphs: [ProvenanceEngine.Paragraph]
    }

    /// Folds the events into their documents' engines, the records of everything but the versions'
    /// structures into `writes`; hands each version's structure to `encode`, in order.
    /// `surveys`, when given, holds one survey per document change of `events`, in order.
    private func fold(
        _ events: [(event: RecordedEvent, text: String?)], tables: ProjectionTables, into writes: inout [StagedWrite],
        surveys: BoundedChannel<Surveyed, Bool>? = nil, encode: (VersionStructure) -> Void
    ) {
        var folded: [CachedEngine] = []
        // The engines wait in the cache until their documents change again: without matching's scratch.
        defer { for cached in folded { cached.engine.releaseScratch() } }
        for (event, text) in events {
            // A redaction changes no document: its texts now read as they are stored, and the
            // projection is rebuilt from them.
            guard event.type.isDocumentChange else { continue }
            let survey = surveys?.take()?.survey
            let doc = Self.documentKey(event.document)
            guard let cached = engines.entries[DocumentStateCache<CachedEngine>.Key(table: tables["documents"], document: doc)] else {
                preconditionFailure("provenance: compute without prepare")
            }
            if folded.last !== cached { folded.append(cached) }
            let explained = event.metadata["minor"] == "true" && !(event.message ?? "").isEmpty
            let change = cached.engine.apply(text: event.type == .retracted ? nil : (text ?? ""), event: event.position, explainedMinorEdit: explained, survey: survey)
            if change.vandalism {
                writes.append(StagedWrite(table: tables["history"], key: doc + [UInt8(ascii: "x")] + BigEndianKey.encode(change.textHash) + Self.u32(0), value: []))
            } else {
                cached.effectiveVersion = event.version
            }
            cached.pending.record(change, event: event.position)
            history(doc, change, engine: cached.engine, tables: tables, into: &writes)
            encode(VersionStructure(doc: doc, version: event.version, cached: cached, paragraphs: cached.engine.current))
            cached.version = event.version
            cached.position = event.position
            var w = RecordWriter()
            w.varint(event.version)
            w.varint(event.position)
            w.varint(cached.effectiveVersion)
            w.varint(UInt64(cached.engine.effectiveLength))
            writes.append(StagedWrite(table: tables["documents"], key: doc, value: w.bytes))
        }
    }

    func write(_ writes: [StagedWrite], tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        lock.lock()
        defer { lock.unlock() }
        for write in writes { try txn.put(write.table, key: write.key, value: write.value, options: write.options) }
        guard let last = writes.last(where: { $0.table == tables["documents"] }) else { return }
        let key = DocumentStateCache<CachedEngine>.Key(table: tables["documents"], document: last.key)
        try engines.evict(keeping: key) { other, entry in
            guard other.table == key.table else { return entry.pending.isEmpty }
            _ = try flush(other.document, entry, tables: tables, in: txn)
            return true
        }
    }

    public func willCommit(tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        lock.lock()
        defer { lock.unlock() }
        let table = tables["documents"]
        for (key, cached) in engines.entries where key.table == table && !cached.pending.isEmpty {
            if try !flush(key.document, cached, tables: tables, in: txn) { engines.remove(key) }
        }
    }

    /// Writes an engine's changed token records, if the tables still agree with it (a failed
    /// transaction may have left it ahead of them: then it is dropped and reloaded when next needed).
    /// Returns false, writing nothing, when the engine is not current: the caller drops it.
    ///
    /// Each event's new tokens become one run record; a removed or restored token's history is read
    /// back (absent: none yet) and extended, so each is read and written once per commit however
    /// often it changed.
    private func flush(_ doc: [UInt8], _ cached: CachedEngine, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws -> Bool {
        let stored = try Self.documentRecord(doc, tables: tables, in: txn)
        guard stored?.version == cached.version, stored?.position == cached.position else { return false }
        let runs = tables["tokens"], histories = tables["tokenHistory"]
        let (changes, events) = cached.pending.take()
        let tokens = cached.engine.tokens
        // The run being gathered: its first and last token, and the event (its index) that created it.
        var run: (first: Int32, last: Int32, event: Int)? = nil
        func write(_ run: (first: Int32, last: Int32, event: Int)) throws {
            let values = (run.first...run.last).lazy.map { tokens[Int($0)].value }
            try txn.put(runs, key: Self.tokenKey(doc, run.last), value: Self.encodeRun(origin: events[run.event], values, count: Int(run.last - run.first) + 1))
        }
        var i = 0
        while i < changes.count {
            let id = PendingTokenChanges.token(changes[i])
            let key = Self.tokenKey(doc, id)
            var history: TokenHistory
            if PendingTokenChanges.kind(changes[i]) == .created {
                let event = PendingTokenChanges.eventIndex(changes[i])
                if let current = run, current.last == id - 1, current.event == event {
                    run = (current.first, id, event)
                } else {
                    if let current = run { try write(current) }
                    run = (id, id, event)
                }
                history = TokenHistory()
                i += 1
            } else {
                history = try txn.withValue(histories, key: key, Self.decodeHistory) ?? TokenHistory()
            }
            var changed = false
            while i < changes.count, PendingTokenChanges.token(changes[i]) == id {
                let event = events[PendingTokenChanges.eventIndex(changes[i])]
                switch PendingTokenChanges.kind(changes[i]) {
                case .removed: history.removedBy.append(event)
                case .restored: history.restoredBy.append(event)
                case .created: throw Self.damaged("tokens")
                }
                changed = true
                i += 1
            }
            if changed { try txn.put(histories, key: key, value: Self.encode(history)) }
        }
        if let current = run { try write(current) }
        return true
    }

    /// What happened to an engine's tokens since their records were last written, in one word per
    /// token and event (a round with blank-and-revert vandalism holds millions): the token in the
    /// high 32 bits, then the event's index in `events` (30 bits), then the kind (2 bits) — so that
    /// sorting the words orders them by token, and within a token in the order things happened.
    struct PendingTokenChanges {
        enum Kind: UInt64 { case created = 0, removed = 1, restored = 2 }
        private var events: [UInt64] = []
        private var changes: [UInt64] = []
        var isEmpty: Bool { changes.isEmpty }

        mutating func record(_ change: ProvenanceEngine.Change, event: UInt64) {
            guard !change.created.isEmpty || !change.removed.isEmpty || !change.restored.isEmpty else { return }
            // A transaction never folds a billion events (rounds and commits are far smaller).
            precondition(events.count < 1 << 30, "provenance: too many events pending in one transaction")
            let index = UInt64(events.count) << 2
            events.append(event)
            func word(_ id: Int32, _ kind: Kind) -> UInt64 { UInt64(UInt32(bitPattern: id)) << 32 | index | kind.rawValue }
            for id in change.created { changes.append(word(id, .created)) }
            for id in change.removed { changes.append(word(id, .removed)) }
            for id in change.restored { changes.append(word(id, .restored)) }
        }

        /// The changes sorted, and the events they index; empties the list.
        mutating func take() -> (changes: [UInt64], events: [UInt64]) {
            changes.sort()
            defer { (changes, events) = ([], []) }
            return (changes, events)
        }

        static func token(_ word: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: word >> 32)) }
        static func eventIndex(_ word: UInt64) -> Int { Int(word >> 2 & (1 << 30 - 1)) }
        static func kind(_ word: UInt64) -> Kind { Kind(rawValue: word & 3)! }
    }

    // MARK: Records

    static func documentKey(_ document: String) -> [UInt8] { Array(Digest.sha256(document).bytes.prefix(8)) }
    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    static func tokenKey(_ doc: [UInt8], _ id: Int32) -> [UInt8] { doc + u32(UInt32(bitPattern: id)) }

    struct DocumentRecord { var version: UInt64; var position: UInt64; var effectiveVersion: UInt64; var effectiveLength: UInt64 }

    static func documentRecord<T: Transaction & ~Copyable>(_ doc: [UInt8], tables: ProjectionTables, in txn: borrowing T) throws -> DocumentRecord? {
        try txn.withValue(tables["documents"], key: doc) { raw in
            var r = RecordReader(raw)
            do {
                return DocumentRecord(version: try r.varint(), position: try r.varint(), effectiveVersion: try r.varint(), effectiveLength: try r.varint())
            } catch { throw damaged("documents") }
        }
    }

    static func damaged(_ table: String) -> LedgerError {
        LedgerError(.integrity, "a record of the provenance projection's \(table) table is damaged; `palimpsest replay --rebuild provenance` rebuilds it")
    }

    /// A token's removals and restorations (the events, by log position, in the order they happened).
    struct TokenHistory: Equatable {
        var removedBy: [UInt64] = []
        var restoredBy: [UInt64] = []
    }

    static func encode(_ history: TokenHistory) -> [UInt8] {
        var w = RecordWriter(capacity: 4 + 4 * (history.removedBy.count + history.restoredBy.count))
        w.varint(UInt64(history.removedBy.count))
        for p in history.removedBy { w.varint(p) }
        w.varint(UInt64(history.restoredBy.count))
        for p in history.restoredBy { w.varint(p) }
        return w.bytes
    }

    static func decodeHistory(_ raw: UnsafeRawBufferPointer) throws -> TokenHistory {
        var r = RecordReader(raw)
        do {
            var history = TokenHistory()
            for _ in 0..<min(try r.varint(), UInt64(raw.count)) { history.removedBy.append(try r.varint()) }
            for _ in 0..<min(try r.varint(), UInt64(raw.count)) { history.restoredBy.append(try r.varint()) }
            guard r.isAtEnd else { throw RecordReader.Damaged() }
            return history
        } catch { throw damaged("tokenHistory") }
    }

    /// A run of tokens one event created: how many, the event, then each one's text.
    static func encodeRun(origin: UInt64, _ values: some Sequence<String>, count: Int) -> [UInt8] {
        var w = RecordWriter(capacity: 16 + 8 * count)
        w.varint(UInt64(count))
        w.varint(origin)
        for value in values { w.string(value) }
        return w.bytes
    }

    /// The run of tokens holding `id` (the first run whose last token is at or after it): its first
    /// and last token and the event that created them; nil when the document has no such token.
    static func run<T: Transaction & ~Copyable>(of doc: [UInt8], holding id: Int32, tables: ProjectionTables, in txn: borrowing T) throws -> TokenRun? {
        var found: TokenRun? = nil
        var damagedRun = false
        try txn.scan(tables["tokens"], from: tokenKey(doc, id)) { k, v in
            guard k.count == 12, k.starts(with: doc) else { return false }
            let last = Int64(k[8...].reduce(0, { $0 << 8 | Int($1) }))
            var r = RecordReader(v)
            guard let count = try? r.varint(), let origin = try? r.varint(), count >= 1, count <= last + 1, last - Int64(count) + 1 <= Int64(id) else {
                damagedRun = true
                return false
            }
            found = TokenRun(tokens: Int32(last - Int64(count) + 1)...Int32(last), origin: origin)
            return false
        }
        if damagedRun { throw damaged("tokens") }
        return found
    }

    /// Tokens one event created.
    struct TokenRun {
        let tokens: ClosedRange<Int32>
        let origin: UInt64
    }

    static func encode(_ sentence: ProvenanceEngine.Sentence, into w: inout RecordWriter) {
        w.raw(BigEndianKey.encode(sentence.hash))
        w.varint(UInt64(sentence.tokens.count))
        var last: Int64 = 0
        for id in sentence.tokens {
            w.signed(Int64(id) - last)
            last = Int64(id)
        }
    }

    static func decodeSentence(_ r: inout RecordReader) throws(RecordReader.Damaged) -> ProvenanceEngine.Sentence {
        let hash = BigEndianKey.decode(try r.raw(8))
        let count = try r.varint()
        guard count <= UInt64(r.bytes.count) else { throw RecordReader.Damaged() }
        var ids: [Int32] = []
        ids.reserveCapacity(Int(count))
        var last: Int64 = 0
        for _ in 0..<count {
            last += try r.signed()
            guard let id = Int32(exactly: last) else { throw RecordReader.Damaged() }
            ids.append(id)
        }
        return ProvenanceEngine.Sentence(hash: hash, tokens: ids)
    }

    static func encode(_ paragraph: ProvenanceEngine.Paragraph, into w: inout RecordWriter) {
        w.raw(BigEndianKey.encode(paragraph.hash))
        w.varint(UInt64(paragraph.sentences.count))
        for s in paragraph.sentences { encode(s, into: &w) }
    }

    static func decodeParagraph(_ r: inout RecordReader) throws(RecordReader.Damaged) -> ProvenanceEngine.Paragraph {
        let hash = BigEndianKey.decode(try r.raw(8))
        let count = try r.varint()
        guard count <= UInt64(r.bytes.count) else { throw RecordReader.Damaged() }
        var sentences: [ProvenanceEngine.Sentence] = []
        for _ in 0..<count { sentences.append(try decodeSentence(&r)) }
        return ProvenanceEngine.Paragraph(hash: hash, sentences: sentences)
    }

    static func encodeStructure(_ paragraphs: [ProvenanceEngine.Paragraph], capacity: Int = 1024) -> [UInt8] {
        var w = RecordWriter(capacity: capacity)
        w.varint(UInt64(paragraphs.count))
        for p in paragraphs { encode(p, into: &w) }
        return w.bytes
    }

    static func decodeStructure(_ bytes: [UInt8]) throws -> [ProvenanceEngine.Paragraph] {
        try bytes.withUnsafeBytes { raw in
            var r = RecordReader(raw)
            do {
                let count = try r.varint()
                guard count <= UInt64(raw.count) else { throw damaged("versions") }
                var result: [ProvenanceEngine.Paragraph] = []
                for _ in 0..<count { result.append(try decodeParagraph(&r)) }
                return result
            } catch { throw damaged("versions") }
        }
    }

    /// The token IDs of an encoded structure, in order: what `decodeStructure` would give, flattened,
    /// without building its paragraphs and sentences (a blame or a phrase query wants only these).
    static func decodeTokenIDs(_ bytes: [UInt8]) throws -> [Int32] {
        try bytes.withUnsafeBytes { raw in
            var r = RecordReader(raw)
            var ids: [Int32] = []
            ids.reserveCapacity(raw.count / 2)
            do {
                let paragraphs = try r.varint()
                guard paragraphs <= UInt64(raw.count) else { throw damaged("versions") }
                for _ in 0..<paragraphs {
                    _ = try r.raw(8)
                    let sentences = try r.varint()
                    guard sentences <= UInt64(raw.count) else { throw damaged("versions") }
                    for _ in 0..<sentences {
                        _ = try r.raw(8)
                        let count = try r.varint()
                        guard count <= UInt64(raw.count) else { throw damaged("versions") }
                        var last: Int64 = 0
                        for _ in 0..<count {
                            last += try r.signed()
                            guard let id = Int32(exactly: last) else { throw damaged("versions") }
                            ids.append(id)
                        }
                    }
                }
            } catch { throw damaged("versions") }
            return ids
        }
    }

    // MARK: Writing

    private func history(_ doc: [UInt8], _ change: ProvenanceEngine.Change, engine: ProvenanceEngine, tables: ProjectionTables, into writes: inout [StagedWrite]) {
        let db = tables["history"]
        // The ordinal is the unit's place in its hash's list, which the engine has already extended.
        func write(_ kind: Character, hash: UInt64, ordinal: Int, _ encode: (inout RecordWriter) -> Void) {
            var w = RecordWriter()
            encode(&w)
            writes.append(StagedWrite(table: db, key: doc + [kind.asciiValue!] + BigEndianKey.encode(hash) + Self.u32(UInt32(ordinal)), value: w.bytes))
        }
        var paragraphOrdinals: [UInt64: Int] = [:], sentenceOrdinals: [UInt64: Int] = [:]
        for p in change.newParagraphs { paragraphOrdinals[p.hash, default: engine.paragraphHistory[p.hash]?.count ?? 0] -= 1 }
        for s in change.newSentences { sentenceOrdinals[s.hash, default: engine.sentenceHistory[s.hash]?.count ?? 0] -= 1 }
        for p in change.newParagraphs {
            let ordinal = paragraphOrdinals[p.hash]!
            paragraphOrdinals[p.hash] = ordinal + 1
            write("p", hash: p.hash, ordinal: ordinal) { Self.encode(p, into: &$0) }
        }
        for s in change.newSentences {
            let ordinal = sentenceOrdinals[s.hash]!
            sentenceOrdinals[s.hash] = ordinal + 1
            write("s", hash: s.hash, ordinal: ordinal) { Self.encode(s, into: &$0) }
        }
    }

    /// The record of a version's structure: a full copy every `fullCopyInterval` versions, else a
    /// delta against the previous version's structure, which the cached engine keeps (reading it back
    /// would walk the chain of deltas at every event).
    /// Only the encoding thread touches `cached.structure` and `structureVersion` during a compute.
    private func structure(_ folded: VersionStructure, tables: ProjectionTables) -> StagedWrite {
        let (doc, version, cached) = (folded.doc, folded.version, folded.cached)
        let structure = Self.encodeStructure(folded.paragraphs, capacity: cached.structure.count + 64)
        var w = RecordWriter(capacity: structure.count / 8 + 16)
        if version % Self.fullCopyInterval == 1 || version == 1 {
            w.byte(0)
            w.varint(UInt64(structure.count))
            w.raw(Deflate.compress(structure, level: 1))
        } else {
            precondition(cached.structureVersion == version - 1, "provenance: the cached structure is not the previous version's")
            let delta = Delta.encode(base: cached.structure, target: structure)
            // Deltas deflated when that pays (format 2): a third of the table's bytes, for an inflate
            // of a few hundred bytes per version read.
            let packed = delta.count > 64 ? Deflate.compress(delta, level: 1) : nil
            if let packed, packed.count + 4 < delta.count {
                w.byte(2)
                w.varint(UInt64(structure.count))
                w.varint(UInt64(delta.count))
                w.raw(packed)
            } else {
                w.byte(1)
                w.varint(UInt64(structure.count))
                w.raw(delta)
            }
        }
        cached.structure = structure
        cached.structureVersion = version
        return StagedWrite(table: tables["versions"], key: doc + BigEndianKey.encode(version), value: w.bytes)
    }

    // MARK: Reading

    /// The encoded structure of a version: the last full copy at or before it, then deltas forward.
    /// `known` may give the structure of an earlier version (one a reader decoded before): the walk
    /// back stops there, so reading versions in order costs a delta each, not up to
    /// `fullCopyInterval` of them.
    static func structureBytes<T: Transaction & ~Copyable>(
        _ doc: [UInt8], version: UInt64, known: (UInt64) -> [UInt8]? = { _ in nil }, tables: ProjectionTables, in txn: borrowing T
    ) throws -> [UInt8] {
        let db = tables["versions"]
        var chain: [[UInt8]] = []
        var v = version
        var bytes: [UInt8] = []
        while true {
            if v < version, let structure = known(v) {
                bytes = structure
                break
            }
            guard let record = try txn.get(db, key: doc + BigEndianKey.encode(v)), let format = record.first else { throw damaged("versions") }
            chain.append(record)
            if format == 0 { break }
            guard format == 1 || format == 2, v > 1 else { throw damaged("versions") }
            v -= 1
        }
        var spare: [UInt8] = []  // deltas are applied between two buffers (see `Delta.apply(_:to:size:into:)`)
        for record in chain.reversed() {
            do {
                try record.withUnsafeBytes { raw in
                    var r = RecordReader(UnsafeRawBufferPointer(rebasing: raw[1...]))
                    let size = Int(try r.varint())
                    switch record[0] {
                    case 0:
                        bytes = try Deflate.decompress(UnsafeRawBufferPointer(rebasing: raw[(1 + r.p)...]), size: size)
                    case 1:
                        try Delta.apply(UnsafeRawBufferPointer(rebasing: raw[(1 + r.p)...]), to: bytes, size: size, into: &spare)
                        swap(&bytes, &spare)
                    default:
                        let deltaSize = Int(try r.varint())
                        let delta = try Deflate.decompress(UnsafeRawBufferPointer(rebasing: raw[(1 + r.p)...]), size: deltaSize)
                        try delta.withUnsafeBytes { try Delta.apply($0, to: bytes, size: size, into: &spare) }
                        swap(&bytes, &spare)
                    }
                }
            } catch { throw damaged("versions") }
        }
        return bytes
    }

    /// An engine rebuilt from the tables (empty when the document has no record yet).
    static func load<T: Transaction & ~Copyable>(_ doc: [UInt8], record: DocumentRecord?, tables: ProjectionTables, in txn: borrowing T) throws -> CachedEngine {
        guard let record else { return CachedEngine(engine: ProvenanceEngine(), version: 0, position: 0) }
        var tokens: [ProvenanceToken] = []
        var failed = false
        try txn.scan(tables["tokens"], from: doc) { k, v in
            guard k.starts(with: doc) else { return false }
            var r = RecordReader(v)
            do {
                let count = Int(try r.varint()), origin = try r.varint()
                guard k.count == 12, count >= 1, k[8...].reduce(0, { $0 << 8 | Int($1) }) == tokens.count + count - 1 else { throw RecordReader.Damaged() }
                for _ in 0..<count { tokens.append(ProvenanceToken(value: try r.string(), origin: origin)) }
                guard r.isAtEnd else { throw RecordReader.Damaged() }
            } catch {
                failed = true
                return false
            }
            return true
        }
        if failed { throw damaged("tokens") }
        if failed { throw damaged("tokens") }
        var paragraphs: [UInt64: [ProvenanceEngine.Paragraph]] = [:], sentences: [UInt64: [ProvenanceEngine.Sentence]] = [:]
        var vandalTexts: Set<UInt64> = []
        try txn.scan(tables["history"], from: doc) { k, v in
            guard k.starts(with: doc), k.count == 21 else { return false }
            var r = RecordReader(v)
            do {
                if k[8] == UInt8(ascii: "x") {
                    vandalTexts.insert(BigEndianKey.decode(UnsafeRawBufferPointer(rebasing: k[9..<17])))
                } else if k[8] == UInt8(ascii: "p") {
                    let p = try decodeParagraph(&r)
                    paragraphs[p.hash, default: []].append(p)
                } else {
                    let s = try decodeSentence(&r)
                    sentences[s.hash, default: []].append(s)
                }
            } catch { failed = true; return false }
            return true
        }
        if failed { throw damaged("history") }
        let currentBytes = try structureBytes(doc, version: record.version, tables: tables, in: txn)
        let current = try decodeStructure(currentBytes)
        for p in current { for s in p.sentences { for id in s.tokens where Int(id) >= tokens.count { throw damaged("tokens") } } }
        let effective = record.effectiveVersion == record.version ? current
            : record.effectiveVersion == 0 ? [] : try decodeStructure(structureBytes(doc, version: record.effectiveVersion, tables: tables, in: txn))
        let engine = ProvenanceEngine(
            tokens: tokens, current: current, effective: effective, effectiveLength: Int(record.effectiveLength), vandalTexts: vandalTexts,
            paragraphHistory: paragraphs, sentenceHistory: sentences)
        let cached = CachedEngine(engine: engine, version: record.version, position: record.position)
        cached.effectiveVersion = record.effectiveVersion
        cached.structure = currentBytes
        cached.structureVersion = record.version
        return cached
    }
}
