/// A word diff between two texts for people to read: unchanged, removed and added runs of tokens,
/// and runs that moved — a sentence or paragraph deleted in one place and inserted unchanged
/// (whitespace aside) in another is reported as a move, not as a removal and an addition.
///
/// The pieces round-trip both ways: the old text is the concatenation of `.same`, `.removed` and
/// `.movedAway` pieces, and the new text of `.same`, `.added` and `.movedHere` pieces.
public enum TextDiff {
    public enum Kind: String, Sendable, Equatable {
        case same, removed, added, movedAway, movedHere
    }

    public struct Piece: Sendable, Equatable {
        public var kind: Kind
        public var text: String
        /// For moves: the same number on the piece where the text left and where it arrived.
        public var move: Int?
        public init(kind: Kind, text: String, move: Int? = nil) { (self.kind, self.text, self.move) = (kind, text, move) }
    }

    /// A moved unit must hold at least this many words (shorter runs — "the", "and" — move by chance).
    public static let minimumMoveWords = 3

    public static func diff(old: String, new: String) -> [Piece] {
        // Byte for byte: `==` holds for canonically equivalent texts, which a diff must tell apart.
        if sameBytes(old, new) { return old.isEmpty ? [] : [Piece(kind: .same, text: old)] }
        if old.isEmpty { return [Piece(kind: .added, text: new)] }
        if new.isEmpty { return [Piece(kind: .removed, text: old)] }
        // Whole lines the texts share at both ends are unchanged: only the lines between are
        // tokenised and aligned. A line break ends every sentence, so the units between are the
        // units a whole-text diff would see there; an edit to a long text costs what it changed.
        let (head, tail) = sharedLines(old, new)
        guard head > 0 || tail > 0 else { return middleDiff(old: old, new: new) }
        // Cut at line feeds: always between characters, so the UTF-8 offsets are valid indices.
        func slice(_ text: String, _ range: Range<Int>) -> String {
            let utf8 = text.utf8
            return String(text[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)])
        }
        let (oldCount, newCount) = (old.utf8.count, new.utf8.count)
        var pieces: [Piece] = []
        if head > 0 { pieces.append(Piece(kind: .same, text: slice(old, 0..<head))) }
        for piece in middleDiff(old: slice(old, head..<(oldCount - tail)), new: slice(new, head..<(newCount - tail))) {
            if piece.kind == .same, piece.move == nil, let last = pieces.last, last.kind == .same { pieces[pieces.count - 1].text += piece.text } else { pieces.append(piece) }
        }
        if tail > 0 {
            let text = slice(old, (oldCount - tail)..<oldCount)
            if let last = pieces.last, last.kind == .same { pieces[pieces.count - 1].text += text } else { pieces.append(Piece(kind: .same, text: text)) }
        }
        return pieces
    }

    /// Whether two texts are the same bytes (compared as buffers: a generic walk of the UTF-8 views is
    /// many times slower).
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in bytesEqual(x, y) } }
    }

    static func bytesEqual(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        guard let p = x.baseAddress, let q = y.baseAddress, p != q else { return true }
        var k = 0
        // Eight bytes at a time, then the rest.
        while k + 8 <= x.count {
            if UnsafeRawPointer(p + k).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(q + k).loadUnaligned(as: UInt64.self) { return false }
            k += 8
        }
        while k < x.count {
            if p[k] != q[k] { return false }
            k += 1
        }
        return true
    }

    /// The UTF-8 lengths of the whole lines `old` and `new` begin with and end with alike, not
    /// overlapping: the prefix ends just after a line feed, the suffix starts just after one.
    static func sharedLines(_ old: String, _ new: String) -> (head: Int, tail: Int) {
        var a = old, b = new
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                var p = 0
                while p < n, x[p] == y[p] { p += 1 }
                var head = p
                while head > 0, x[head - 1] != UInt8(ascii: "\n") { head -= 1 }
                var s = 0
                while s < n - head, x[x.count - 1 - s] == y[y.count - 1 - s] { s += 1 }
                // The shared suffix, shortened to start just after a line feed that is itself shared.
                var start = x.count - s + 1
                while start <= x.count, x[start - 1] != UInt8(ascii: "\n") { start += 1 }
                return (head, start <= x.count ? x.count - start : 0)
            }
        }
    }

    /// Texts with more than this many UTF-8 bytes on both sides are aligned by lines first.
    public static let lineAlignedAbove = 8 * 1024
    /// A hunk of changed lines longer than this (UTF-8 bytes, both sides) is shown removed and added whole.
    public static let largestAlignedHunk = 16 * 1024
    /// Within a hunk of a long text, the words of a passage that sentences could not match are aligned up
    /// to this many edits; past it the passage is shown as replaced (a rewrite, whose word-by-word diff
    /// would cost much and tell little: Anarchism's 2005 edit wars took twice as long at 400).
    static let hunkWordEdits = 100
    /// Words of a region that sentences could not match are aligned up to this many edits; past it the
    /// region is a replacement (the search keeps a trace that grows with the square of the edits).
    static let wordEditsLimit = 1000

    /// What is left once the shared first and last lines are set aside.
    static func middleDiff(old: String, new: String) -> [Piece] {
        old.utf8.count > lineAlignedAbove && new.utf8.count > lineAlignedAbove ? hunkDiff(old: old, new: new) : alignedDiff(old: old, new: new)
    }

    /// Two long texts, as `git diff --word-diff` treats them: their lines aligned first, then each hunk
    /// of changed lines diffed word by word (`alignedDiff`). Aligning the sentences of two long texts
    /// that differ in many places costs seconds; their lines, milliseconds. A moved paragraph is still
    /// a move when it left and arrived as whole lines; a move within a hunk is found by the hunk's diff.
    static func hunkDiff(old: String, new: String) -> [Piece] {
        let a = lines(old), b = lines(new)
        var lineIdentities = WordIdentities()
        let lineIDsA = a.map { lineIdentities.id($0) }, lineIDsB = b.map { lineIdentities.id($0) }
        struct Hunk { var removed: Range<Int>; var added: Range<Int> }
        enum Step { case same(Range<Int>), hunk(Hunk) }
        var steps: [Step] = []
        for op in TokenDiff.diff(lineIDsA, lineIDsB) {
            switch op {
            case .equal(let x, _): steps.append(.same(x))
            case .delete(let x):
                if case .hunk(var h)? = steps.last { h.removed = h.removed.isEmpty ? x : h.removed.lowerBound..<x.upperBound; steps[steps.count - 1] = .hunk(h) } else { steps.append(.hunk(Hunk(removed: x, added: 0..<0))) }
            case .insert(let y):
                if case .hunk(var h)? = steps.last { h.added = h.added.isEmpty ? y : h.added.lowerBound..<y.upperBound; steps[steps.count - 1] = .hunk(h) } else { steps.append(.hunk(Hunk(removed: 0..<0, added: y))) }
            }
        }
        func text(_ lines: [Substring], _ range: Range<Int>) -> String { range.isEmpty ? "" : span(lines[range.lowerBound], through: lines[range.upperBound - 1]) }
        // Hunks that only remove lines, and hunks that only add the same lines word for word elsewhere: moves.
        var identities = WordIdentities()
        func key(_ text: String) -> [Int] { Tokenizer.tokens(of: text).filter { $0.kind != .whitespace }.map { identities.id($0.text) } }
        var removedOnly: [[Int]: [Int]] = [:]
        for (k, step) in steps.enumerated() {
            guard case .hunk(let h) = step, h.added.isEmpty else { continue }
            let key = key(text(a, h.removed))
            if key.count >= minimumMoveWords { removedOnly[key, default: []].append(k) }
        }
        var moveOf: [Int: Int] = [:]
        var moves = 0
        if !removedOnly.isEmpty {
            for (k, step) in steps.enumerated() {
                guard case .hunk(let h) = step, h.removed.isEmpty else { continue }
                let key = key(text(b, h.added))
                if var list = removedOnly[key], !list.isEmpty {
                    moves += 1
                    moveOf[list.removeFirst()] = moves
                    removedOnly[key] = list
                    moveOf[k] = moves
                }
            }
        }
        var pieces: [Piece] = []
        func emit(_ piece: Piece) {
            if piece.move == nil, let last = pieces.last, last.kind == piece.kind, last.move == nil { pieces[pieces.count - 1].text += piece.text } else { pieces.append(piece) }
        }
        for (k, step) in steps.enumerated() {
            switch step {
            case .same(let x): emit(Piece(kind: .same, text: text(a, x)))
            case .hunk(let h):
                if let move = moveOf[k] {
                    emit(h.added.isEmpty ? Piece(kind: .movedAway, text: text(a, h.removed), move: move) : Piece(kind: .movedHere, text: text(b, h.added), move: move))
                    continue
                }
                let (removed, added) = (text(a, h.removed), text(b, h.added))
                // A hunk this large is a rewrite: aligning its words costs much and tells little.
                if removed.utf8.count + added.utf8.count > largestAlignedHunk {
                    emit(Piece(kind: .removed, text: removed))
                    emit(Piece(kind: .added, text: added))
                    continue
                }
                var highest = 0
                for var piece in alignedDiff(old: removed, new: added, wordEdits: hunkWordEdits) {
                    if let move = piece.move { highest = max(highest, move); piece.move = moves + move }
                    emit(piece)
                }
                moves += highest
            }
        }
        return pieces
    }

    /// The text from `first` through `last`, consecutive slices of one string (lines or tokens): one copy
    /// of its bytes, not a join of each part between. The bounds fall on Unicode scalars, so the scalar
    /// view is cut (a `String` cut would round them to characters).
    static func span(_ first: Substring, through last: Substring) -> String {
        String(first.base.unicodeScalars[first.startIndex..<last.endIndex])
    }

    /// The lines of a text, each with its line feed.
    static func lines(_ text: String) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        for index in text.utf8.indices where text.utf8[index] == UInt8(ascii: "\n") {
            let end = text.utf8.index(after: index)
            result.append(text[start..<end])
            start = end
        }
        if start < text.endIndex { result.append(text[start...]) }
        return result
    }

    /// The diff of two whole texts: sentences aligned first, then the words of what did not match.
    static func alignedDiff(old: String, new: String, wordEdits: Int = wordEditsLimit) -> [Piece] {
        let a = Tokenizer.tokens(of: old), b = Tokenizer.tokens(of: new)
        var identities = WordIdentities()
        let idsA = a.map { identities.id($0.text) }, idsB = b.map { identities.id($0.text) }
        let unitsA = units(a, idsA), unitsB = units(b, idsB)
        // Sentences and paragraphs first, by their words (whitespace aside).
        let ops = TokenDiff.diff(unitsA.map(\.key), unitsB.map(\.key))

        // Units removed in one place and added in another, word for word, are moves.
        var moveOfRemoved: [Int: Int] = [:], moveOfAdded: [Int: Int] = [:]
        var waiting: [[Int]: [Int]] = [:]
        for op in ops {
            if case .delete(let x) = op { for u in x where unitsA[u].key.count >= minimumMoveWords { waiting[unitsA[u].key, default: []].append(u) } }
        }
        var moves = 0
        for op in ops {
            guard case .insert(let y) = op else { continue }
            for u in y where unitsB[u].key.count >= minimumMoveWords {
                if var list = waiting[unitsB[u].key], !list.isEmpty {
                    moves += 1
                    moveOfRemoved[list.removeFirst()] = moves
                    waiting[unitsB[u].key] = list
                    moveOfAdded[u] = moves
                }
            }
        }

        var pieces: [Piece] = []
        func emit(_ kind: Kind, _ text: String, move: Int? = nil) {
            guard !text.isEmpty else { return }
            if move == nil, let last = pieces.last, last.kind == kind, last.move == nil {
                pieces[pieces.count - 1].text += text
            } else {
                pieces.append(Piece(kind: kind, text: text, move: move))
            }
        }
        func text(_ tokens: [Tokenizer.Token], _ range: Range<Int>) -> String {
            range.isEmpty ? "" : span(tokens[range.lowerBound].text, through: tokens[range.upperBound - 1].text)
        }
        /// Token by token, for what units could not match.
        func words(_ x: Range<Int>, _ y: Range<Int>) {
            let ta = Array(a[x]), tb = Array(b[y])
            for op in TokenDiff.diff(Array(idsA[x]), Array(idsB[y]), maxEdits: wordEdits) {
                switch op {
                case .equal(let i, _): emit(.same, text(ta, i))
                case .delete(let i): emit(.removed, text(ta, i))
                case .insert(let j): emit(.added, text(tb, j))
                }
            }
        }
        // A change region: the units removed and added between two unchanged ones.
        var removed: [Int] = [], added: [Int] = []
        func flushRegion() {
            if removed.contains(where: { moveOfRemoved[$0] != nil }) || added.contains(where: { moveOfAdded[$0] != nil }) {
                for u in removed { emit(moveOfRemoved[u] == nil ? .removed : .movedAway, text(a, unitsA[u].range), move: moveOfRemoved[u]) }
                for u in added { emit(moveOfAdded[u] == nil ? .added : .movedHere, text(b, unitsB[u].range), move: moveOfAdded[u]) }
            } else if !removed.isEmpty || !added.isEmpty {
                let x = removed.isEmpty ? 0..<0 : unitsA[removed.first!].range.lowerBound..<unitsA[removed.last!].range.upperBound
                let y = added.isEmpty ? 0..<0 : unitsB[added.first!].range.lowerBound..<unitsB[added.last!].range.upperBound
                words(x, y)
            }
            removed.removeAll()
            added.removeAll()
        }
        for op in ops {
            switch op {
            case .equal(let x, let y):
                flushRegion()
                for (u, v) in zip(x, y) {
                    let (ra, rb) = (unitsA[u].range, unitsB[v].range)
                    if idsA[ra].elementsEqual(idsB[rb]) { emit(.same, text(a, ra)) } else { words(ra, rb) }  // whitespace changed
                }
            case .delete(let x): removed += Array(x)
            case .insert(let y): added += Array(y)
            }
        }
        flushRegion()
        return pieces
    }

    /// Sentence units covering every token: each sentence with the whitespace that follows it.
    struct Unit { var range: Range<Int>; var key: [Int] }

    /// `ids`: each token's `WordIdentities` id.
    static func units(_ tokens: [Tokenizer.Token], _ ids: [Int]) -> [Unit] {
        var result: [Unit] = []
        for s in Segmenter.sentences(of: tokens) {
            let start = result.last?.range.upperBound ?? 0
            let key = s.filter { tokens[$0].kind != .whitespace }.map { ids[$0] }
            if key.isEmpty, !result.isEmpty { result[result.count - 1].range = result[result.count - 1].range.lowerBound..<s.upperBound; continue }
            result.append(Unit(range: start..<s.upperBound, key: key))
        }
        if let last = result.last, last.range.upperBound < tokens.count {
            result[result.count - 1].range = last.range.lowerBound..<tokens.count
        } else if result.isEmpty, !tokens.isEmpty {
            result.append(Unit(range: 0..<tokens.count, key: []))
        }
        return result
    }

    /// The old text, rebuilt from the pieces.
    public static func oldText(_ pieces: [Piece]) -> String {
        pieces.filter { [.same, .removed, .movedAway].contains($0.kind) }.map(\.text).joined()
    }

    /// The new text, rebuilt from the pieces.
    public static func newText(_ pieces: [Piece]) -> String {
        pieces.filter { [.same, .added, .movedHere].contains($0.kind) }.map(\.text).joined()
    }
}

/// Words (or lines) as small integers, equal exactly when their UTF-8 bytes are: cheap to hash and compare, and
/// stricter than `String`'s equality, which holds for canonically equivalent texts — a diff must
/// rebuild both texts byte for byte.
///
/// An open-addressed table on a multiply-xorshift hash of the bytes, eight at a time: a report on a
/// long history interns tens of millions of words, and `Hasher`'s SipHash with a `Dictionary` of
/// substrings was a fifth of its time. The hash is seeded per process, so a text cannot be written to
/// collide on every machine.
struct WordIdentities {
    private var words: [Substring] = []
    private var hashes: [UInt64] = []
    /// An id, or -1 for an empty slot; a power of two long, at most half full.
    private var slots = [Int32](repeating: -1, count: 256)
    private static let seed = UInt64.random(in: .min ... .max)

    /// Words numbered so far.
    var count: Int { words.count }
    /// The word numbered `id`.
    subscript(id: Int) -> Substring { words[id] }

    mutating func id(_ text: Substring) -> Int {
        if let id = text.utf8.withContiguousStorageIfAvailable({ id(text, bytes: $0) }) { return id }
        var copy = String(text)
        return copy.withUTF8 { id(text, bytes: $0) }
    }

    private mutating func id(_ text: Substring, bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let hash = Segmenter.paragraphHash(bytes, seed: Self.seed)
        var slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while true {
            let id = Int(slots[slot])
            if id < 0 { break }
            if hashes[id] == hash, sameBytes(words[id], bytes) { return id }
            slot = (slot + 1) & (slots.count - 1)
        }
        let id = words.count
        words.append(text)
        hashes.append(hash)
        slots[slot] = Int32(id)
        if 2 * words.count > slots.count { grow() }
        return id
    }

    private func sameBytes(_ word: Substring, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        word.utf8.withContiguousStorageIfAvailable { TextDiff.bytesEqual($0, bytes) } ?? word.utf8.elementsEqual(bytes)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (id, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }
}
