import TextPacking

/// The parts of two versions of a text that a change can have affected, for a phrase index: each
/// zone is a run of changed words plus `context` unchanged words on each side, in the old and the new
/// version. A phrase of at most `context + 1` words occurs in the old and new texts the same number of
/// times outside the zones, so its change in count is the sum over zones of (count in new − count in
/// old) — the index never has to read whole versions again.
public struct ChangeZone: Sendable, Equatable {
    public var old: [String]
    public var new: [String]
    public init(old: [String], new: [String]) { (self.old, self.new) = (old, new) }
}

public enum ChangeZones {
    /// Zones between two texts, as words.
    public static func zones(old: String, new: String, context: Int) -> [ChangeZone] {
        var result: [ChangeZone] = []
        visit(old: old, new: new, context: context) { a, oldWords, b, newWords in
            func strings(_ bytes: UnsafeBufferPointer<UInt8>, _ words: ArraySlice<Range<Int>>) -> [String] {
                words.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
            }
            result.append(ChangeZone(old: strings(a, oldWords), new: strings(b, newWords)))
        }
        return result
    }

    /// Calls `body` for each zone with the two texts' bytes and the byte ranges of the zone's words
    /// on each side, in order. Only the bytes around the change are tokenised: the common prefix and
    /// suffix are skipped, keeping a margin that is widened until it holds `context` words.
    public static func visit(
        old: String, new: String, context: Int,
        _ body: (UnsafeBufferPointer<UInt8>, ArraySlice<Range<Int>>, UnsafeBufferPointer<UInt8>, ArraySlice<Range<Int>>) -> Void
    ) {
        visitWindows(old: old, new: new, context: context) { a, _, oldWords, b, _, newWords in body(a, oldWords, b, newWords) }
    }

    /// The same, with the window of each text that was tokenised (byte offsets): `words(text, window)`
    /// gives the words again, and the slices' indexes are positions in that list. A zone can then be
    /// stored as a reference (text, window, word range) instead of a copy of its words.
    public static func visitWindows(
        old: String, new: String, context: Int,
        _ body: (UnsafeBufferPointer<UInt8>, Range<Int>, ArraySlice<Range<Int>>, UnsafeBufferPointer<UInt8>, Range<Int>, ArraySlice<Range<Int>>) -> Void
    ) {
        var old = old, new = new
        old.withUTF8 { a in new.withUTF8 { b in visit(a, b, context: context, body) } }
    }

    /// Above this many edits between the changed middles, one hunk covers the whole middle: the zones
    /// are then wider than needed (more candidates at query time), never wrong.
    static let maxEdits = 400

    /// A word as bytes, compared by content (the hash only speeds up the comparison).
    struct Word: Hashable {
        let bytes: UnsafeBufferPointer<UInt8>
        let hash: UInt64
        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            var h = StableHash()
            for b in bytes { h.add(b) }
            hash = h.value
        }
        static func == (x: Word, y: Word) -> Bool { x.hash == y.hash && x.bytes.elementsEqual(y.bytes) }
        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

    static func visit(
        _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, context: Int,
        _ body: (UnsafeBufferPointer<UInt8>, Range<Int>, ArraySlice<Range<Int>>, UnsafeBufferPointer<UInt8>, Range<Int>, ArraySlice<Range<Int>>) -> Void
    ) {
        // Eight bytes at a time: a byte at a time, this was a sixth of the time spent here on Anarchism.
        let limit = min(a.count, b.count)
        let prefix = CommonBytes.prefix(a, b, limit: limit)
        if prefix == a.count, prefix == b.count { return }
        let suffix = CommonBytes.suffix(a, b, limit: limit - prefix)

        var margin = 8 * (context + 1)
        while true {
            // Window edges at token boundaries: just after a whitespace byte on the left, just before
            // one on the right (whitespace always separates tokens).
            let start = leftBoundary(a, from: max(0, prefix - margin))
            let endA = rightBoundary(a, from: min(a.count, a.count - suffix + margin))
            let endB = rightBoundary(b, from: min(b.count, b.count - suffix + margin))
            let wordsA = words(a, start..<endA), wordsB = words(b, start..<endB)
            let ops = TokenDiff.diff(wordsA.map { Word(UnsafeBufferPointer(rebasing: a[$0])) }, wordsB.map { Word(UnsafeBufferPointer(rebasing: b[$0])) }, maxEdits: maxEdits)
            // Hunks in word indexes of each side.
            var hunks: [(Range<Int>, Range<Int>)] = []
            var i = 0, j = 0
            for op in ops {
                switch op {
                case .equal(let x, let y): i = x.upperBound; j = y.upperBound
                case .delete(let x):
                    if let last = hunks.last, last.0.upperBound == x.lowerBound, last.1.upperBound == j { hunks[hunks.count - 1].0 = last.0.lowerBound..<x.upperBound } else { hunks.append((x, j..<j)) }
                    i = x.upperBound
                case .insert(let y):
                    if let last = hunks.last, last.0.upperBound == i, last.1.upperBound == y.lowerBound { hunks[hunks.count - 1].1 = last.1.lowerBound..<y.upperBound } else { hunks.append((i..<i, y)) }
                    j = y.upperBound
                }
            }
            if hunks.isEmpty { return }  // only whitespace changed
            let leftOK = start == 0 || hunks[0].0.lowerBound >= context
            let rightOK = (endA == a.count || wordsA.count - hunks[hunks.count - 1].0.upperBound >= context)
                && (endB == b.count || wordsB.count - hunks[hunks.count - 1].1.upperBound >= context)
            if !(leftOK && rightOK) {
                margin *= 4
                continue
            }
            var current: (Range<Int>, Range<Int>)? = nil
            for (x, y) in hunks {
                let zx = max(0, x.lowerBound - context)..<min(wordsA.count, x.upperBound + context)
                let zy = max(0, y.lowerBound - context)..<min(wordsB.count, y.upperBound + context)
                if let c = current, zx.lowerBound <= c.0.upperBound {
                    current = (c.0.lowerBound..<zx.upperBound, c.1.lowerBound..<zy.upperBound)
                } else {
                    if let c = current { body(a, start..<endA, wordsA[c.0], b, start..<endB, wordsB[c.1]) }
                    current = (zx, zy)
                }
            }
            if let c = current { body(a, start..<endA, wordsA[c.0], b, start..<endB, wordsB[c.1]) }
            return
        }
    }

    /// The byte ranges of the words in `window`, as offsets into `bytes`.
    public static func words(_ bytes: UnsafeBufferPointer<UInt8>, _ window: Range<Int>) -> [Range<Int>] {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[window]), as: UTF8.self)
        return Tokenizer.wordRanges(of: text).map { ($0.lowerBound + window.lowerBound)..<($0.upperBound + window.lowerBound) }
    }

    public static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 || byte == 0x0B || byte == 0x0C
    }

    /// The nearest position at or before `index` that starts a token after whitespace (or 0).
    static func leftBoundary(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var i = index
        while i > 0, !isSpace(bytes[i - 1]) { i -= 1 }
        return i
    }

    /// The nearest position at or after `index` that is followed by whitespace (or the end).
    static func rightBoundary(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var i = index
        while i < bytes.count, !isSpace(bytes[i]) { i += 1 }
        return i
    }
}
