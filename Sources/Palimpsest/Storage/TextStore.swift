import Foundation
import LMDB
import TextPacking

/// Content-addressed text storage.
///
/// A text is stored once however many events or documents carry it. A new version of a document is
/// stored as a delta against the document's previous text (deflated when that helps), so that reading
/// any version applies at most `maxChainDepth` deltas: how git's packs keep a long history at about
/// the size of its changes.
///
/// When the previous text's chain is full, the new text does not start a new chain with a full copy
/// (a long page's full copies were two thirds of the stored bytes): it becomes a *keyframe*, a delta
/// against the newest keyframe of that chain, about `maxChainDepth` versions older, and the versions
/// after it chain from it. Keyframes stack at the bottom of a chain (each one deeper than the last,
/// each chain after them one delta shorter) until `maxKeyframeDepth`, where a full copy starts over.
/// When a delta against the previous text is no good (a restoration after a page was blanked or
/// rewritten by a vandal), the text before that one and the newest text stored are tried too: on
/// Anarchism, a run of restorations between revisions whose text the export suppresses (empty) had
/// each been stored whole.
///
/// Records live in `texts` under a sequence number, in the order they were written, and `textIndex`
/// maps each text's SHA-256 to its number. Appending in order matters: an LMDB commit copies every
/// page it touches, and records keyed by hash would land on random pages, so every bulk commit would
/// rewrite (and leave free) most of the table. Deltas name their base by number, too.
struct TextStore: Sendable {
    let records: Database
    let index: Database

    /// Longest delta chain; reading a text applies at most this many deltas.
    static let maxChainDepth = 128
    /// Depth from which a chain whose end is full starts over with a full copy instead of a keyframe.
    static let maxKeyframeDepth = 4
    /// Below this size a full copy is cheap: no older text is decoded to look for a better base.
    static let ancestorSearchThreshold = 1024
    /// Below this, compressing is not worth its header.
    static let compressionThreshold = 64

    /// One record on the way down a delta chain.
    private enum Step { case full([UInt8]), delta(base: UInt64, size: Int, delta: [UInt8]) }

    enum Format: UInt8 {
        case raw = 0, deflated = 1, delta = 2, deflatedDelta = 3
        /// What is left of a record whose text was redacted: nothing. The number is kept, never reused,
        /// so that a reader in another process can never mistake a new text for one it decoded before.
        case withheld = 4
        var isDelta: Bool { self == .delta || self == .deflatedDelta }
    }

    /// The record number of a stored text, or nil.
    func number<T: Transaction & ~Copyable>(of hash: Digest, in txn: borrowing T) throws -> UInt64? {
        try txn.withValue(index, key: hash.bytes) { value in
            guard value.count == 8 else { throw LedgerError(.integrity, "the text index entry for \(hash.hex) is damaged") }
            return BigEndianKey.decode(value)
        }
    }

    func contains<T: Transaction & ~Copyable>(_ hash: Digest, in txn: borrowing T) throws -> Bool {
        try txn.contains(index, key: hash.bytes)
    }

    /// Stores `text` under `hash` unless it is already there. `bases` are texts a delta may be taken
    /// against (the document's previous version first; for a new document, texts it may have been
    /// copied or renamed from); the smallest delta wins. Returns the stored size, or nil when the text
    /// was already present.
    @discardableResult
    func store(
        _ text: [UInt8], hash: Digest, bases: [(hash: Digest, text: [UInt8])], in txn: borrowing WriteTransaction
    ) throws -> Int? {
        if try contains(hash, in: txn) { return nil }
        var record = RecordWriter(capacity: 64)
        var best: (base: UInt64, depth: Int, delta: [UInt8])? = nil
        func consider(_ baseNumber: UInt64, depth baseDepth: Int, text baseText: [UInt8]) {
            let delta = Delta.encode(base: baseText, target: text)
            if delta.count <= text.count / 2, delta.count < best?.delta.count ?? Int.max {
                best = (baseNumber, baseDepth + 1, delta)
            }
        }
        for base in bases where base.hash != hash {
            guard let baseNumber = try number(of: base.hash, in: txn), let baseDepth = try depth(of: baseNumber, in: txn),
                baseDepth + 1 < Self.maxChainDepth
            else { continue }
            consider(baseNumber, depth: baseDepth, text: base.text)
        }
        if best == nil, text.count >= Self.ancestorSearchThreshold, let previous = bases.first, previous.hash != hash,
            let previousNumber = try number(of: previous.hash, in: txn)
        {
            // Only a better base is looked for here: a link that cannot be read (which `verify` names)
            // rules its candidate out rather than failing the append.
            for (ancestor, ancestorDepth) in (try? betterBases(than: previousNumber, in: txn)) ?? [] {
                guard let ancestorText = try? load(number: ancestor, known: { _ in nil }, in: txn) else { continue }
                consider(ancestor, depth: ancestorDepth, text: ancestorText)
            }
        }
        if let best {
            let delta = best.delta
            let packed = delta.count > Self.compressionThreshold ? Deflate.compress(delta) : nil
            let useDeflate = packed.map { $0.count < delta.count } ?? false
            record.byte(useDeflate ? Format.deflatedDelta.rawValue : Format.delta.rawValue)
            record.varint(UInt64(text.count))
            record.varint(best.base)
            record.byte(UInt8(best.depth))
            if useDeflate { record.varint(UInt64(delta.count)) }
            record.raw(useDeflate ? packed! : delta)
        } else {
            record.raw(Self.fullRecord(text))
        }
        let next = (try txn.last(records).map { BigEndianKey.decode($0.key) } ?? 0) + 1
        let key = BigEndianKey.encode(next)
        try txn.put(records, key: key, value: record.bytes, options: .append)
        try txn.put(index, key: hash.bytes, value: key)
        return record.bytes.count
    }

    /// Older records a new text may be a delta against when the previous text (record `previous`)
    /// is no good as its base, as (number, depth): the text before the previous one, and, when the
    /// previous text's chain is full, the chain's newest keyframe (see the type's comment).
    private func betterBases<T: Transaction & ~Copyable>(than previous: UInt64, in txn: borrowing T) throws -> [(number: UInt64, depth: Int)] {
        let chain = try chain(from: previous, in: txn)
        if chain[0].depth + 1 >= Self.maxChainDepth {
            // Anything else on a full chain would only make the next text's chain full as well.
            guard let keyframe = Self.newestKeyframe(in: chain), keyframe.depth + 1 < Self.maxKeyframeDepth else { return [] }
            return [keyframe]
        }
        var found = chain.count >= 2 ? [chain[1]] : []
        // The newest text stored: in a page's history it is the page's last new text, which a
        // restoration after a run of blanked (or, in an export, suppressed and so empty) revisions
        // is close to, while the previous text is the blank. In a ledger of many documents it is
        // often another document's, and the delta against it simply loses.
        // (The blank itself, when it was stored just now, is the newest: then the one before it.)
        if let last = try txn.last(records).map({ BigEndianKey.decode($0.key) }) {
            let newest = last == previous ? last - 1 : last
            // A redaction's tombstone holds no text to take a delta against.
            let withheld = try txn.withValue(records, key: BigEndianKey.encode(newest)) { $0.first == Format.withheld.rawValue } ?? true
            if newest > 0, !withheld, newest != chain.dropFirst().first?.number, let depth = try depth(of: newest, in: txn),
                depth + 1 < Self.maxChainDepth
            {
                found.append((newest, depth))
            }
        }
        return found
    }

    /// The chain below record `number`, itself first and the full copy last, as (number, depth);
    /// only the records' headers are read.
    private func chain<T: Transaction & ~Copyable>(from number: UInt64, in txn: borrowing T) throws -> [(number: UInt64, depth: Int)] {
        var links: [(number: UInt64, depth: Int)] = []
        var current: UInt64? = number
        while let link = current, links.count <= Self.maxChainDepth {
            let header = try txn.withValue(records, key: BigEndianKey.encode(link)) { value -> (base: UInt64?, depth: Int) in
                var r = RecordReader(value)
                guard let format = Format(rawValue: try r.byte()) else { throw damaged(link) }
                guard format.isDelta else { return (nil, 0) }
                _ = try r.varint()
                let base = try r.varint()
                return (base, Int(try r.byte()))
            }
            guard let header else { throw LedgerError(.integrity, "the stored text record \(link) is missing") }
            links.append((link, header.depth))
            current = header.base
        }
        return links
    }

    /// The newest keyframe at the bottom of `chain` (nearest first, full copy last): keyframes are a
    /// chain's whole length of versions apart, the versions of one chain next to each other, so the
    /// keyframes are the bottom links joined by steps much longer (in record numbers) than the
    /// chain's usual step. Only a base is chosen by this: guessing wrong costs bytes, never a text.
    static func newestKeyframe(in chain: [(number: UInt64, depth: Int)]) -> (number: UInt64, depth: Int)? {
        guard chain.count >= 8 else { return nil }
        // A base is always an older record; a damaged one that is not counts as a short step.
        let steps = zip(chain, chain.dropFirst()).map { $0.number > $1.number ? $0.number - $1.number : 0 }
        let usual = steps.sorted()[steps.count / 2]
        var k = chain.count - 1
        while k > 0, steps[k - 1] > 8 * max(usual, 1) { k -= 1 }
        return (chain[k].number, chain[k].depth)
    }

    /// Removes the text stored under `hash` (redaction): the records that were deltas against it are
    /// first re-encoded as full copies, then its record becomes a `withheld` tombstone and the index
    /// forgets the hash. Returns false when no such text is stored.
    @discardableResult
    func withhold(_ hash: Digest, in txn: borrowing WriteTransaction) throws -> Bool {
        guard let number = try number(of: hash, in: txn) else { return false }
        var dependants: [UInt64] = []
        try txn.scan(records) { key, value in
            var r = RecordReader(value)
            guard let format = Format(rawValue: try r.byte()) else { throw damaged(BigEndianKey.decode(key)) }
            if format.isDelta {
                _ = try r.varint()
                if try r.varint() == number { dependants.append(BigEndianKey.decode(key)) }
            }
            return true
        }
        for dependant in dependants {
            let text = try load(number: dependant, known: { _ in nil }, in: txn)
            try txn.put(records, key: BigEndianKey.encode(dependant), value: Self.fullRecord(text))
        }
        try txn.put(records, key: BigEndianKey.encode(number), value: [Format.withheld.rawValue])
        try txn.delete(index, key: hash.bytes)
        return true
    }

    /// A record holding a whole text, deflated when that is smaller.
    private static func fullRecord(_ text: [UInt8]) -> [UInt8] {
        var record = RecordWriter(capacity: 16)
        let packed = text.count > compressionThreshold ? Deflate.compress(text) : nil
        let useDeflate = packed.map { $0.count < text.count } ?? false
        record.byte(useDeflate ? Format.deflated.rawValue : Format.raw.rawValue)
        record.varint(UInt64(text.count))
        record.raw(useDeflate ? packed! : text)
        return record.bytes
    }

    /// Decodes up to `limit` records from number `first` on, in the order they were written, each
    /// through `decoded` (a new version's base is usually a text decoded just before it, so each record
    /// costs one delta), and hands each to `body`. Returns the number to go on from, or nil after the
    /// last record. A record that cannot be decoded throws `UnreadableRecord`.
    func forEachRecord<T: Transaction & ~Copyable>(
        from first: UInt64, limit: Int, reusing decoded: DecodedTexts, in txn: borrowing T,
        _ body: (_ number: UInt64, _ text: [UInt8]) throws -> Void
    ) throws -> UInt64? {
        var numbers: [UInt64] = []
        var more = false
        try txn.scan(records, from: BigEndianKey.encode(first)) { key, value in
            guard numbers.count < limit else {
                more = true
                return false
            }
            if value.first != Format.withheld.rawValue { numbers.append(BigEndianKey.decode(key)) }
            return true
        }
        for number in numbers {
            let text: [UInt8]
            do {
                text = try decode(number: number, reusing: decoded, in: txn)
            } catch {
                throw UnreadableRecord(number: number, why: (error as? LedgerError)?.message ?? "\(error)")
            }
            try body(number, text)
        }
        return more ? numbers.last.map { $0 + 1 } : nil
    }

    struct UnreadableRecord: Error {
        let number: UInt64
        let why: String
    }

    /// The hash the index files record `number` under, or nil when none does (a walk of the whole
    /// index: only for naming a damaged record).
    func hash<T: Transaction & ~Copyable>(ofRecord number: UInt64, in txn: borrowing T) throws -> Digest? {
        let wanted = BigEndianKey.encode(number)
        var found: Digest?
        try txn.scan(index) { key, value in
            guard value.elementsEqual(wanted) else { return true }
            found = Digest(bytes: Array(key))
            return false
        }
        return found
    }

    /// How many records hold a text (withheld ones do not), and how many hashes the index names.
    func counts<T: Transaction & ~Copyable>(in txn: borrowing T) throws -> (records: Int, indexed: Int) {
        var withheld = 0
        try txn.scan(records) { _, value in
            if value.first == Format.withheld.rawValue { withheld += 1 }
            return true
        }
        return (try txn.count(records) - withheld, try txn.count(index))
    }

    /// The byte length of a stored text (from its record's header: nothing is decoded), or nil.
    func size<T: Transaction & ~Copyable>(of hash: Digest, in txn: borrowing T) throws -> Int? {
        guard let number = try number(of: hash, in: txn) else { return nil }
        return try txn.withValue(records, key: BigEndianKey.encode(number)) { value -> Int in
            var r = RecordReader(value)
            guard Format(rawValue: try r.byte()) != nil else { throw damaged(number) }
            return Int(try r.varint())
        }
    }

    /// The chain depth of a stored record (0 for a full copy), or nil when there is none.
    func depth<T: Transaction & ~Copyable>(of number: UInt64, in txn: borrowing T) throws -> Int? {
        try txn.withValue(records, key: BigEndianKey.encode(number)) { value -> Int in
            var r = RecordReader(value)
            guard let format = Format(rawValue: try r.byte()) else { throw damaged(number) }
            guard format.isDelta else { return 0 }
            _ = try r.varint()
            _ = try r.varint()
            return Int(try r.byte())
        }
    }

    /// The text stored under `hash`, or nil when there is none; `decoded` keeps the texts it decodes
    /// and serves any link of a chain it already holds, so that reading a document's versions in order
    /// applies one delta each instead of walking every chain from its base.
    func load<T: Transaction & ~Copyable>(_ hash: Digest, reusing decoded: DecodedTexts, in txn: borrowing T) throws -> [UInt8]? {
        guard let number = try number(of: hash, in: txn) else { return nil }
        return try decode(number: number, reusing: decoded, in: txn)
    }

    /// The text in record `number` (which must exist), through `decoded` as `load(_:reusing:in:)`.
    func decode<T: Transaction & ~Copyable>(number: UInt64, reusing decoded: DecodedTexts, in txn: borrowing T) throws -> [UInt8] {
        if let text = decoded[number] { return text }
        let text = try load(number: number, known: { decoded[$0] }, in: txn)
        decoded.keep(text, as: number)
        return text
    }

    /// The text stored under `hash`, or nil when there is none.
    func load<T: Transaction & ~Copyable>(_ hash: Digest, in txn: borrowing T) throws -> [UInt8]? {
        guard let first = try number(of: hash, in: txn) else { return nil }
        return try load(number: first, known: { _ in nil }, in: txn)
    }

    private func load<T: Transaction & ~Copyable>(number first: UInt64, known: (UInt64) -> [UInt8]?, in txn: borrowing T) throws -> [UInt8] {
        // Walk down the delta chain to a full copy, then apply the deltas on the way back up.
        var pending: [(number: UInt64, size: Int, delta: [UInt8])] = []
        var current = first
        var text: [UInt8]
        while true {
            if !pending.isEmpty, let bytes = known(current) {
                text = bytes
                break
            }
            let step: Step? = try txn.withValue(records, key: BigEndianKey.encode(current)) { value -> Step in
                do {
                    var r = RecordReader(value)
                    guard let format = Format(rawValue: try r.byte()) else { throw damaged(current) }
                    let size = Int(try r.varint())
                    switch format {
                    case .withheld:
                        throw LedgerError(.integrity, "the stored text record \(current) was withheld by a redaction, yet a text still needs it")
                    case .raw:
                        return .full(Array(try r.raw(size)))
                    case .deflated:
                        return .full(try Deflate.decompress(try r.raw(value.count - r.p), size: size))
                    case .delta:
                        let base = try r.varint()
                        _ = try r.byte()
                        return .delta(base: base, size: size, delta: Array(try r.raw(value.count - r.p)))
                    case .deflatedDelta:
                        let base = try r.varint()
                        _ = try r.byte()
                        let deltaSize = Int(try r.varint())
                        let delta = try Deflate.decompress(try r.raw(value.count - r.p), size: deltaSize)
                        return .delta(base: base, size: size, delta: delta)
                    }
                } catch is RecordReader.Damaged {
                    throw damaged(current)
                } catch let failure as Deflate.Failure {
                    throw LedgerError(.integrity, "the stored text record \(current) is damaged: \(failure)")
                }
            }
            guard let step else {
                throw LedgerError(.integrity, "the stored text record \(current)\(current == first ? "" : ", a base of record \(first),") is missing")
            }
            switch step {
            case .full(let bytes):
                text = bytes
            case .delta(let base, let size, let delta):
                guard pending.count <= Self.maxChainDepth else {
                    throw LedgerError(.integrity, "the stored text record \(first) has a delta chain longer than \(Self.maxChainDepth)")
                }
                pending.append((current, size, delta))
                current = base
                continue
            }
            break
        }
        var spare: [UInt8] = []
        for link in pending.reversed() {
            do {
                try link.delta.withUnsafeBytes { try Delta.apply($0, to: text, size: link.size, into: &spare) }
                swap(&text, &spare)
            } catch {
                throw LedgerError(.integrity, "the stored text record \(link.number) is damaged: \(error)")
            }
        }
        return text
    }

    private func damaged(_ number: UInt64) -> LedgerError {
        LedgerError(.integrity, "the stored text record \(number) is damaged and cannot be read")
    }
}

/// Texts recently decoded, by record number, within a byte budget (oldest dropped first). A record
/// changes only when a redaction withholds its text (its number then never names a text again) or
/// re-encodes it as a full copy of the same text, so an entry is never stale. Locked: folds on several threads may share it.
final class DecodedTexts: @unchecked Sendable {
    private let lock = NSLock()
    private var texts: [UInt64: [UInt8]] = [:]
    private var order: [UInt64] = []
    private var oldest = 0
    private var bytes = 0
    let budget: Int

    init(budget: Int = 32 << 20) { self.budget = budget }

    subscript(number: UInt64) -> [UInt8]? { lock.withLock { texts[number] } }

    /// Forgets everything (after a redaction replaced records).
    func removeAll() {
        lock.withLock {
            texts.removeAll()
            order.removeAll()
            (oldest, bytes) = (0, 0)
        }
    }

    func keep(_ text: [UInt8], as number: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard texts.updateValue(text, forKey: number) == nil else { return }
        order.append(number)
        bytes += text.count
        while bytes > budget, oldest < order.count - 1 {
            if let dropped = texts.removeValue(forKey: order[oldest]) { bytes -= dropped.count }
            oldest += 1
        }
        if oldest > 4096 {
            order.removeFirst(oldest)
            oldest = 0
        }
    }
}
