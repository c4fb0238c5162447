import Foundation
import LMDB
import PalimpsestText
import TextPacking

/// The built-in phrase index: for every event, the zones of words it can have changed (see
/// `ChangeZones`), and for every word and every pair of adjacent words (case-folded) the events whose
/// zones hold it. "Which events removed or added phrase P" is then answered from the events listed
/// under P's rarest word pair (its rarest word, for a one-word phrase), by counting P in their zones —
/// never by reading old versions. Pairs matter on histories with vandalism: a blanked page and its
/// revert have zones holding every word of the page, but only the pairs the page really had. Exact for phrases of up to
/// `maximumWords` words; longer phrases are answered by a scan of the versions.
///
/// Events that change a whole text cost no postings per word, and no text is read for them at query
/// time: an exact revert or restoration ("the text of version K again": its count is K's), an emptied
/// text (its count is 0), and a text replaced whole (one zone covering all of the old text: only its
/// new side is posted, and the old side's count is the document's count before it). A query walks
/// each candidate document's list of these beside the events the postings name, keeping the
/// phrase's running count per document, so such events are still reported as removals and additions.
///
/// Tables:
/// - `zones`: position → document, version, type, the record's form (`Form`) and the zones (deflated
///   when large), or the earlier version whose text came back. A zone side of
///   more than `referenceWords` words (a blanked page, its revert, a large paste) is stored as a
///   reference — the text's hash, the window of it that was tokenised, the range of words — never as a
///   copy of the words; small sides keep their words, so most queries read no text at all;
/// - `postings`: bucket‖word hash → the positions of that bucket (1,024 positions wide) whose zones
///   hold the word: a count, the last position, then the positions as varint deltas. Written when the
///   transaction commits, one read-modify-write per word and bucket; fixed buckets keep the table the
///   same however the events were batched into transactions (so a rebuild compares byte for byte).
///   The bucket comes first so that a commit's words land in the newest bucket's part of the table:
///   keyed by word first, each fold round of rust-lang/rfcs touched nearly every page of the table
///   (22 MB rewritten per commit, 2.6 s of its 10.7 s catch-up). A query looks its words up in each
///   bucket, a few dozen point reads;
/// - `documents`: doc key‖"v" → version and position last folded: the latest text (for the next
///   event's zones) is the text after that event, read back from the ledger's texts, never copied;
///   doc key‖"t"‖text hash → the first version that had the text (to know a revert);
///   doc key‖"s"‖position → the form of each whole-text event (the list a query walks).
public final class PhraseIndexProjection: StagedProjection, @unchecked Sendable {
    public init() {}
    public var name: String { "phrases" }
    public var lifecycle: ProjectionLifecycle { .following }
    public var version: UInt64 { 6 }
    public var tableNames: [String] { ["zones", "postings", "documents"] }

    /// Positions per postings bucket (a power of two).
    static let bucketShift: UInt64 = 10

    /// The longest phrase, in words, that the index answers exactly.
    public static let maximumWords = 32
    /// A zone side with more words than this is stored as a reference to its text.
    static let referenceWords = 256

    private let lock = NSLock()
    /// The latest text of each document, up to about 4 million words in all.
    private var latest = DocumentStateCache<Latest>(limit: 4_000_000)
    /// Postings to merge at commit, by postings table: one batch per `compute`.
    private var pending: [Database: [PostingsBatch]] = [:]

    /// The postings of the events one `compute` folded, grouped by bucket and word there — on the
    /// fold's parallel side, not in the commit: sorting a round's (word, position) pairs was a third
    /// of the commit's postings work.
    struct PostingsBatch {
        struct Key: Hashable, Comparable {
            let bucket: UInt64, word: UInt64
            static func < (a: Key, b: Key) -> Bool { (a.bucket, a.word) < (b.bucket, b.word) }
        }
        /// The events, for the commit to check that their zones were written in its transaction.
        var events: [(position: UInt64, document: String, version: UInt64)] = []
        /// Ascending by key; each key's positions ascending.
        var groups: [(key: Key, positions: [UInt64])] = []

        init(_ posted: [(words: [UInt64], position: UInt64, document: String, version: UInt64)]) {
            var byKey: [Key: [UInt64]] = [:]
            for e in posted {
                events.append((e.position, e.document, e.version))
                let bucket = e.position >> PhraseIndexProjection.bucketShift
                for word in e.words { byKey[Key(bucket: bucket, word: word), default: []].append(e.position) }
            }
            groups = byKey.map { ($0.key, $0.value) }
            groups.sort { $0.key < $1.key }
            // Events come in log order, so positions are ascending; a retried fold may repeat them.
            for k in groups.indices where zip(groups[k].positions, groups[k].positions.dropFirst()).contains(where: { $0 >= $1 }) {
                groups[k].positions = Array(Set(groups[k].positions)).sorted()
            }
        }
    }
    /// The first version of each document that had a text, for the events being folded (from the
    /// tables, in `prepare`; texts first seen in the batch are added in `compute`).
    private var firstVersions: [Database: [TextOfDocument: UInt64]] = [:]

    struct TextOfDocument: Hashable {
        let document: [UInt8]
        let text: Digest
    }

    /// What a zones record holds after its header.
    enum Form: UInt8 {
        case zones = 0, deflatedZones = 1
        /// The text became that of an earlier version again (a varint follows): no zones, no postings.
        case revert = 2
        /// The text became empty (blanked, or the document withdrawn): no zones, no postings.
        case emptied = 3
        /// One zone covering the whole old text, then as `zones`: only the new side is posted.
        case replaced = 4, deflatedReplaced = 5

        var isWholeText: Bool { self != .zones && self != .deflatedZones }
    }

    static func textKey(_ doc: [UInt8], _ hash: Digest) -> [UInt8] { doc + [UInt8(ascii: "t")] + hash.bytes }
    static func wholeTextKey(_ doc: [UInt8], _ position: UInt64) -> [UInt8] { doc + [UInt8(ascii: "s")] + BigEndianKey.encode(position) }

    final class Latest: CachedDocumentState {
        var text: String
        /// The content hash of `text` (nil when it is empty because the document is retracted or new).
        var hash: Digest?
        var version: UInt64
        var position: UInt64
        var lastUse: UInt64 = 0
        init(text: String, hash: Digest?, version: UInt64, position: UInt64) { (self.text, self.hash, self.version, self.position) = (text, hash, version, position) }
        /// Words, roughly, and the entry itself counted as sixteen more (a million tiny documents must
        /// still be bounded).
        var weight: Int { text.utf8.count / 6 + 16 }
    }

    public func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        try applyStaged(event, text: text, tables: tables, in: txn)
    }

    func prepare<T: Transaction & ~Copyable>(_ events: [RecordedEvent], tables: ProjectionTables, in txn: borrowing T) throws {
        lock.lock()
        defer { lock.unlock() }
        try latest.ready(
            for: events, in: tables["documents"], documentKey: ProvenanceProjection.documentKey,
            stored: { try Self.state($0, tables: tables, in: txn) }, folded: { ($0.version, $0.position) },
            load: { _, stored in
                // The latest text is the one after the event folded last (none yet: empty).
                guard let stored else { return Latest(text: "", hash: nil, version: 0, position: 0) }
                let (text, hash) = try tables.texts.textAfter(position: stored.position, in: txn)
                return Latest(text: String(decoding: text, as: UTF8.self), hash: text.isEmpty ? nil : hash, version: stored.version, position: stored.position)
            })
        // Per table: a fold of scratch tables (a verification) may run between this and `compute`.
        var known: [TextOfDocument: UInt64] = [:]
        defer { firstVersions[tables["documents"]] = known }
        for event in events where event.type != .retracted {
            guard let hash = event.contentHash else { continue }
            let doc = ProvenanceProjection.documentKey(event.document)
            let version = try txn.withValue(tables["documents"], key: Self.textKey(doc, hash)) { raw -> UInt64 in
                var r = RecordReader(raw)
                do { return try r.varint() } catch { throw Self.damaged("documents") }
            }
            if let version { known[TextOfDocument(document: doc, text: hash)] = version }
        }
    }

    func compute(_ events: [(event: RecordedEvent, text: String?)], tables: ProjectionTables) -> [StagedWrite] {
        lock.lock()
        defer { lock.unlock() }
        var writes: [StagedWrite] = []
        var postings: [(words: [UInt64], position: UInt64, document: String, version: UInt64)] = []
        defer { if !postings.isEmpty { pending[tables["postings"], default: []].append(PostingsBatch(postings)) } }
        var firstVersions = self.firstVersions.removeValue(forKey: tables["documents"]) ?? [:]
        for (event, text) in events {
            // A redaction changes no document: its texts now read as they are stored, and the
            // projection is rebuilt from them.
            guard event.type.isDocumentChange else { continue }
            let doc = ProvenanceProjection.documentKey(event.document)
            guard let entry = latest.entries[DocumentStateCache<Latest>.Key(table: tables["documents"], document: doc)] else {
                preconditionFailure("phrases: compute without prepare")
            }
            // A retraction removes everything the document said; a restoration after it adds it back.
            let newText = event.type == .retracted ? "" : (text ?? "")
            var body = RecordWriter(capacity: 256)
            var zoneCount: UInt64 = 0
            var words = Set<UInt64>()
            var newSideWords = Set<UInt64>()
            var wholeOldText = false
            var zoneBytes = RecordWriter(capacity: 256)
            let newHash = event.type == .retracted ? nil : event.contentHash
            var revertedTo: UInt64? = nil
            if let newHash, newHash != entry.hash {
                let text = TextOfDocument(document: doc, text: newHash)
                if let first = firstVersions[text] {
                    revertedTo = first
                } else {
                    firstVersions[text] = event.version
                    var v = RecordWriter()
                    v.varint(event.version)
                    writes.append(StagedWrite(table: tables["documents"], key: Self.textKey(doc, newHash), value: v.bytes))
                }
            }
            let emptied = newText.isEmpty && !entry.text.isEmpty
            if !emptied, revertedTo == nil { ChangeZones.visitWindows(old: entry.text, new: newText, context: Self.maximumWords - 1) { a, windowA, oldWords, b, windowB, newWords in
                zoneCount += 1
                // Does this zone hold every word of the old text? (Then, as the only zone, the old
                // side's count is the document's whole count before the event.)
                wholeOldText = windowA == 0..<a.count && !oldWords.isEmpty && oldWords.startIndex == 0
                    && a[oldWords.last!.upperBound...].allSatisfy(ChangeZones.isSpace)
                for (k, (bytes, window, side, hash)) in [(a, windowA, oldWords, entry.hash), (b, windowB, newWords, newHash)].enumerated() {
                    let isNewSide = k == 1
                    if side.count > Self.referenceWords, let hash {
                        zoneBytes.byte(1)
                        zoneBytes.raw(hash.bytes)
                        zoneBytes.varint(UInt64(window.lowerBound))
                        zoneBytes.varint(UInt64(window.count))
                        zoneBytes.varint(UInt64(side.startIndex))
                        zoneBytes.varint(UInt64(side.count))
                    } else {
                        zoneBytes.byte(0)
                        zoneBytes.varint(UInt64(side.count))
                    }
                    var previous: UInt64? = nil
                    for range in side {
                        let word = UnsafeBufferPointer(rebasing: bytes[range])
                        if side.count <= Self.referenceWords || hash == nil {
                            zoneBytes.varint(UInt64(word.count))
                            zoneBytes.bytes.append(contentsOf: word)
                        }
                        let hash = Self.wordHash(word)
                        words.insert(hash)
                        if isNewSide { newSideWords.insert(hash) }
                        if let previous {
                            let pair = Self.pairHash(previous, hash)
                            words.insert(pair)
                            if isNewSide { newSideWords.insert(pair) }
                        }
                        previous = hash
                    }
                }
            } }
            var w = RecordWriter(capacity: 256)
            w.string(event.document)
            w.varint(event.version)
            w.string(event.type.rawValue)
            let form: Form
            if let revertedTo {
                form = .revert
                w.byte(form.rawValue)
                w.varint(revertedTo)
            } else if emptied {
                form = .emptied
                w.byte(form.rawValue)
            } else {
                body.varint(zoneCount)
                body.raw(zoneBytes.bytes)
                let replaced = zoneCount == 1 && wholeOldText
                if body.bytes.count > 512 {
                    form = replaced ? .deflatedReplaced : .deflatedZones
                    w.byte(form.rawValue)
                    w.varint(UInt64(body.bytes.count))
                    w.raw(Deflate.compress(body.bytes, level: 1))
                } else {
                    form = replaced ? .replaced : .zones
                    w.byte(form.rawValue)
                    w.raw(body.bytes)
                }
            }
            writes.append(StagedWrite(table: tables["zones"], key: BigEndianKey.encode(event.position), value: w.bytes, options: .append))
            if form.isWholeText {
                writes.append(StagedWrite(table: tables["documents"], key: Self.wholeTextKey(doc, event.position), value: [form.rawValue]))
            }
            let posted = form.isWholeText ? newSideWords : words
            postings.append((Array(posted), event.position, event.document, event.version))

            entry.text = newText
            entry.hash = newText.isEmpty ? nil : newHash
            entry.version = event.version
            entry.position = event.position
            var s = RecordWriter()
            s.varint(event.version)
            s.varint(event.position)
            writes.append(StagedWrite(table: tables["documents"], key: doc + [UInt8(ascii: "v")], value: s.bytes))
        }
        return writes
    }

    func write(_ writes: [StagedWrite], tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        lock.lock()
        defer { lock.unlock() }
        for write in writes { try txn.put(write.table, key: write.key, value: write.value, options: write.options) }
        guard let last = writes.last(where: { $0.table == tables["documents"] }) else { return }
        let key = DocumentStateCache<Latest>.Key(table: tables["documents"], document: Array(last.key.dropLast()))
        // The tables hold all an entry knows (written event by event): any entry may go.
        latest.evict(keeping: key) { _, _ in true }
    }

    public func willCommit(tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        lock.lock()
        defer { lock.unlock() }
        let postings = tables["postings"]
        if let batches = pending.removeValue(forKey: postings) {
            // Events left by a transaction that failed are dropped: their position holds another
            // event now, or nothing. When the map filled up, the same transaction ran again from the
            // start and left the same events twice: each (word, position) is kept once.
            // Within a batch a position is one event's: dropping it there drops only that event.
            var kept = batches
            for b in kept.indices {
                var dropped = Set<UInt64>()
                for e in kept[b].events {
                    let zone = try Self.zoneHeader(at: e.position, tables: tables, in: txn)
                    if zone?.document != e.document || zone?.version != e.version { dropped.insert(e.position) }
                }
                if !dropped.isEmpty {
                    for k in kept[b].groups.indices { kept[b].groups[k].positions.removeAll { dropped.contains($0) } }
                }
            }
            let groups = kept.count == 1 ? kept[0].groups : kept.flatMap(\.groups).sorted { $0.key < $1.key }
            // Keys after the table's last one (most of a round's: its buckets are new) are appended
            // in order, without looking for a list to merge with: no search, and full pages.
            let lastKey = try txn.last(postings)?.key
            var k = 0
            while k < groups.count {
                let group = groups[k].key
                var positions = groups[k].positions
                k += 1
                while k < groups.count, groups[k].key == group {
                    positions += groups[k].positions
                    k += 1
                }
                if batches.count > 1 { positions = Array(Set(positions)).sorted() }
                guard !positions.isEmpty else { continue }
                let key = Self.postingsKey(bucket: group.bucket, word: group.word)
                guard let lastKey, !lastKey.lexicographicallyPrecedes(key) else {
                    try txn.put(postings, key: key, value: Self.encodePostings(positions), options: .append)
                    continue
                }
                var list = try txn.withValue(postings, key: key) { try Self.decodePostings($0) } ?? []
                list.append(contentsOf: positions.drop { $0 <= (list.last ?? 0) })
                try txn.put(postings, key: key, value: Self.encodePostings(list))
            }
        }
    }

    // MARK: Records

    /// The case-folded hash a word is filed under (ASCII folded byte by byte; other text through
    /// `lowercased()`).
    static func wordHash(_ word: String) -> UInt64 {
        var word = word
        return word.withUTF8 { wordHash($0) }
    }

    static func wordHash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h = StableHash()
        for byte in bytes {
            if byte >= 0x80 { return slowWordHash(String(decoding: bytes, as: UTF8.self)) }
            h.add(byte >= 65 && byte <= 90 ? byte | 0x20 : byte)
        }
        return h.value
    }

    /// The key of two adjacent words (from their word hashes). It shares the table with single words:
    /// a clash only adds candidates, which counting then discards.
    static func pairHash(_ first: UInt64, _ second: UInt64) -> UInt64 {
        var h = (first ^ 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 31) ^ second) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }

    /// The keys to look a phrase up under: its word pairs, or its word when it has one.
    static func lookupKeys(_ matcher: PhraseMatcher) -> [UInt64] {
        let hashes = matcher.words.map { wordHash($0.lowercased()) }
        guard hashes.count > 1 else { return hashes }
        return Array(Set(zip(hashes, hashes.dropFirst()).map { pairHash($0, $1) }))
    }

    private static func slowWordHash(_ word: String) -> UInt64 {
        var h = StableHash()
        var folded = word.lowercased()
        folded.withUTF8 { for byte in $0 { h.add(byte) } }
        return h.value
    }

    static func postingsKey(bucket: UInt64, word: UInt64) -> [UInt8] { BigEndianKey.encode(bucket) + BigEndianKey.encode(word) }

    /// Each bucket's postings of `word`, oldest bucket first, until `body` returns false.
    static func forEachPostings<T: Transaction & ~Copyable>(
        of word: UInt64, tables: ProjectionTables, in txn: borrowing T, _ body: (UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        // The newest bucket: the table's last key.
        var newest: UInt64? = nil
        try txn.scan(tables["postings"], reverse: true) { k, _ in
            newest = k.count == 16 ? BigEndianKey.decode(UnsafeRawBufferPointer(rebasing: k[0..<8])) : nil
            return false
        }
        guard let newest else { return }
        for bucket in 0...newest {
            let more = try txn.withValue(tables["postings"], key: postingsKey(bucket: bucket, word: word)) { try body($0) }
            if more == false { return }
        }
    }

    static func encodePostings(_ positions: [UInt64]) -> [UInt8] {
        var w = RecordWriter(capacity: 4 + 2 * positions.count)
        w.varint(UInt64(positions.count))
        var last: UInt64 = 0
        for p in positions {
            w.varint(p - last)
            last = p
        }
        return w.bytes
    }

    static func decodePostings(_ raw: UnsafeRawBufferPointer) throws -> [UInt64] {
        var r = RecordReader(raw)
        do {
            let count = try r.varint()
            guard count <= UInt64(raw.count) else { throw damaged("postings") }
            var result: [UInt64] = []
            result.reserveCapacity(Int(count))
            var last: UInt64 = 0
            for _ in 0..<count {
                last += try r.varint()
                result.append(last)
            }
            return result
        } catch let error as LedgerError { throw error } catch { throw damaged("postings") }
    }

    /// How many events a word's postings list, without decoding the positions.
    static func postingsCount(_ raw: UnsafeRawBufferPointer) throws -> Int {
        var r = RecordReader(raw)
        guard let count = try? r.varint() else { throw damaged("postings") }
        return Int(count)
    }

    struct State { var version: UInt64; var position: UInt64 }

    static func state<T: Transaction & ~Copyable>(_ doc: [UInt8], tables: ProjectionTables, in txn: borrowing T) throws -> State? {
        try txn.withValue(tables["documents"], key: doc + [UInt8(ascii: "v")]) { raw in
            var r = RecordReader(raw)
            do { return State(version: try r.varint(), position: try r.varint()) } catch { throw damaged("documents") }
        }
    }

    static func damaged(_ table: String) -> LedgerError {
        LedgerError(.integrity, "a record of the phrase index's \(table) table is damaged; `palimpsest replay --rebuild phrases` rebuilds it")
    }

    static func zoneHeader<T: Transaction & ~Copyable>(at position: UInt64, tables: ProjectionTables, in txn: borrowing T) throws -> (document: String, version: UInt64)? {
        try txn.withValue(tables["zones"], key: BigEndianKey.encode(position)) { raw in
            var r = RecordReader(raw)
            do { return (try r.string(), try r.varint()) } catch { throw damaged("zones") }
        }
    }

    /// The changes in a phrase's count in one document, oldest first — each event's position, the
    /// change, and the count after it: the events the postings named (`candidates`, ascending) and
    /// the document's whole-text events, walked in order with the running count (what an emptied,
    /// reverted or replaced text's count is derived from).
    ///
    /// Counting in the zones is most of a query's index step (a zone side stored as a reference has
    /// its text's window tokenised), and one zone's count does not depend on another's: the records
    /// are read in the transaction a chunk at a time, with the texts their references need, then
    /// counted on both cores; only the walk with the running count is in order.
    static func documentChanges<T: Transaction & ~Copyable>(
        _ document: String, candidates: [UInt64], of phrase: PhraseMatcher, tables: ProjectionTables, in txn: borrowing T
    ) throws -> [(position: UInt64, delta: Int, count: Int)] {
        let doc = ProvenanceProjection.documentKey(document)
        var wholeText: [UInt64] = []
        let prefix = doc + [UInt8(ascii: "s")]
        try txn.scan(tables["documents"], from: prefix) { key, _ in
            guard key.starts(with: prefix), key.count == prefix.count + 8 else { return false }
            wholeText.append(BigEndianKey.decode(UnsafeRawBufferPointer(rebasing: key[prefix.count...])))
            return true
        }
        // The events to look at, in log order: the candidates and the whole-text events merged.
        var order: [UInt64] = []
        order.reserveCapacity(candidates.count + wholeText.count)
        var i = 0, j = 0
        while i < candidates.count || j < wholeText.count {
            if j == wholeText.count || (i < candidates.count && candidates[i] < wholeText[j]) {
                order.append(candidates[i])
                i += 1
            } else {
                if i < candidates.count, candidates[i] == wholeText[j] { i += 1 }
                order.append(wholeText[j])
                j += 1
            }
        }
        var steps: [ZoneStep] = []
        steps.reserveCapacity(order.count)
        let chunkSize = 128
        for chunkStart in stride(from: 0, to: order.count, by: chunkSize) {
            // 1. Read the chunk's records, and the texts their referenced sides need.
            var bodies: [(step: Int, body: [UInt8], replaced: Bool)] = []
            var texts: [Digest: [UInt8]] = [:]
            for position in order[chunkStart..<min(order.count, chunkStart + chunkSize)] {
                let read = try txn.withValue(tables["zones"], key: BigEndianKey.encode(position)) { raw -> (ZoneStep, [UInt8]?) in
                    do {
                        var r = RecordReader(raw)
                        let name = try r.raw(Int(try r.varint()))
                        guard name.elementsEqual(document.utf8) else { throw damaged("documents") }
                        let version = try r.varint()
                        _ = try r.raw(Int(try r.varint()))
                        guard let form = Form(rawValue: try r.byte()) else { throw damaged("zones") }
                        let replaced = form == .replaced || form == .deflatedReplaced
                        switch form {
                        case .revert: return (.revert(version: version, to: try r.varint()), nil)
                        case .emptied: return (.emptied(version: version), nil)
                        case .deflatedZones, .deflatedReplaced:
                            let size = Int(try r.varint())
                            return (.zones(version: version, replaced: replaced, counted: 0), try Deflate.decompress(UnsafeRawBufferPointer(rebasing: raw[r.p...]), size: size))
                        case .zones, .replaced:
                            return (.zones(version: version, replaced: replaced, counted: 0), Array(UnsafeRawBufferPointer(rebasing: raw[r.p...])))
                        }
                    } catch let error as LedgerError { throw error } catch { throw damaged("zones") }
                }
                guard let (step, body) = read else { throw damaged(wholeText.contains(position) ? "documents" : "postings") }
                if let body, case .zones(_, let replaced, _) = step {
                    // The referenced texts, found by a pass that counts nothing in them.
                    _ = try body.withUnsafeBytes { raw in
                        try countChange(in: raw, of: nil, newSideOnly: replaced) { side in
                            if texts[side.hash] == nil { texts[side.hash] = try tables.texts.load(side.hash, in: txn) }
                            return 0
                        }
                    }
                    bodies.append((steps.count, body, replaced))
                }
                steps.append(step)
            }
            // 2. Count, side by side: each half of the chunk's zones on a thread of its own.
            let halves = bodies.count >= 8 ? 2 : 1
            let size = (bodies.count + halves - 1) / halves
            let counted = ConcurrentResults<Result<[Int], LedgerError>>(count: halves)
            sideBySide(halves) { [bodies, texts] half in
                let referenced = ReferencedZones()
                counted[half] = Result { () throws(LedgerError) in
                    do {
                        return try bodies[min(bodies.count, half * size)..<min(bodies.count, (half + 1) * size)].map { item in
                            try item.body.withUnsafeBytes { raw in
                                try countChange(in: raw, of: phrase, newSideOnly: item.replaced) { side in
                                    try referenced.count(phrase, in: side, of: texts[side.hash]!)
                                }
                            }
                        }
                    } catch let error as LedgerError { throw error } catch { throw damaged("zones") }
                }
            }
            var k = 0
            for half in 0..<halves {
                for count in try counted[half]!.get() {
                    if case .zones(let version, let replaced, _) = steps[bodies[k].step] {
                        steps[bodies[k].step] = .zones(version: version, replaced: replaced, counted: count)
                    }
                    k += 1
                }
            }
        }
        // 3. Walk in order with the running count.
        var result: [(position: UInt64, delta: Int, count: Int)] = []
        // (version, count after it) at every change: the count of any earlier version, for reverts.
        var counts: [(version: UInt64, count: Int)] = []
        func count(atVersion version: UInt64) -> Int {
            var low = 0, high = counts.count
            while low < high {
                let middle = (low + high) / 2
                if counts[middle].version <= version { low = middle + 1 } else { high = middle }
            }
            return low == 0 ? 0 : counts[low - 1].count
        }
        var running = 0
        for (position, step) in zip(order, steps) {
            let version: UInt64, delta: Int
            switch step {
            case .revert(let v, let to): (version, delta) = (v, count(atVersion: to) - running)
            case .emptied(let v): (version, delta) = (v, -running)
            // A replaced text's old side is the whole old text: its count is the running count.
            case .zones(let v, let replaced, let counted): (version, delta) = (v, counted - (replaced ? running : 0))
            }
            if delta != 0 {
                running += delta
                result.append((position, delta, running))
                counts.append((version, running))
            }
        }
        return result
    }

    /// What a query reads of an event's zones record.
    enum ZoneStep {
        case revert(version: UInt64, to: UInt64)
        case emptied(version: UInt64)
        /// The count change over the zones (new sides only for a replaced text).
        case zones(version: UInt64, replaced: Bool, counted: Int)
    }

    /// The change in count over an event's zones (new minus old), or with `newSideOnly` the count in
    /// the new sides alone.
    /// With no phrase, nothing is counted in the words stored inline: a pass that only wants the
    /// referenced sides (to load their texts) reads past them.
    static func countChange(in body: UnsafeRawBufferPointer, of phrase: PhraseMatcher?, newSideOnly: Bool, referenced: (ReferencedZones.Side) throws -> Int) throws -> Int {
        var r = RecordReader(body)
        var words: [Range<Int>] = []
        var delta = 0
        for _ in 0..<min(try r.varint(), UInt64(body.count)) {
            for side in 0..<2 {
                // A replaced text's old side is the whole old text: its count is the running count,
                // so it is read past, never counted (for a reference, the old text is not loaded).
                let counted = side == 1 || !newSideOnly
                let count: Int
                if try r.byte() == 1 {
                    let hash = Digest(bytes: Array(try r.raw(32)))
                    let start = Int(try r.varint()), length = Int(try r.varint())
                    let first = Int(try r.varint()), wordCount = Int(try r.varint())
                    count = counted ? try referenced(ReferencedZones.Side(hash: hash, window: start..<(start + length), words: first..<(first + wordCount))) : 0
                } else {
                    words.removeAll(keepingCapacity: true)
                    for _ in 0..<min(try r.varint(), UInt64(body.count)) {
                        let length = Int(try r.varint())
                        guard length <= body.count - r.p else { throw RecordReader.Damaged() }
                        words.append(r.p..<(r.p + length))
                        r.p += length
                    }
                    count = counted ? phrase?.occurrences(inWords: words, of: body).count ?? 0 : 0
                }
                delta += side == 1 ? count : -count
            }
        }
        return delta
    }
}

/// The windows of texts that zone references point to, tokenised once per query (a blank-and-revert
/// vandal refers to the same text again and again); the caller holds the texts.
final class ReferencedZones {
    struct Side { let hash: Digest; let window: Range<Int>; let words: Range<Int> }
    private struct Key: Hashable { let hash: Digest; let window: Range<Int> }
    private var windows: [Key: [Range<Int>]] = [:]

    /// The phrase's occurrences among the side's words of `text` (the text whose hash the side names).
    func count(_ phrase: PhraseMatcher, in side: Side, of text: [UInt8]) throws -> Int {
        guard side.window.upperBound <= text.count else { throw PhraseIndexProjection.damaged("zones") }
        // Most windows a query is sent to do not hold the phrase at all (its rarest pair was
        // somewhere in the zone): those are ruled out by a byte scan, without tokenising.
        let key = Key(hash: side.hash, window: side.window)
        if windows[key] == nil, !text.withUnsafeBytes({ phrase.mayOccur(in: UnsafeRawBufferPointer(rebasing: $0[side.window])) }) { return 0 }
        let words: [Range<Int>]
        if let known = windows[key] { words = known } else {
            words = text.withUnsafeBufferPointer { ChangeZones.words($0, side.window) }
            if windows.count > 64 { windows.removeAll() }
            windows[key] = words
        }
        guard side.words.upperBound <= words.count else { throw PhraseIndexProjection.damaged("zones") }
        return text.withUnsafeBytes { phrase.occurrences(inWords: words[side.words], of: $0).count }
    }
}
