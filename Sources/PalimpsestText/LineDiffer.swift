/// The token comparison WikiWho runs on what paragraph and sentence matching left over: Python's
/// `difflib.Differ` (a `SequenceMatcher` with its "popular element" heuristic, and the pairing of
/// similar elements inside replaced blocks). Reproducing its choices — not just any shortest diff —
/// is what lets provenance agree with the reference on which occurrence of a repeated word survived.
///
/// Written from the documented behaviour of CPython's difflib (longest matching block first,
/// recursively; elements of a sequence of 200 or more that occur in more than 1% of it are not used
/// to seed a match; within a replaced block the most similar pair with a similarity of at least 0.75 is
/// aligned first).
public enum LineDiffer {
    public enum Tag: Sendable, Equatable { case equal, delete, insert }

    /// One line of `Differ.compare`'s output: which side and which element.
    public struct Line: Sendable, Equatable {
        public var tag: Tag
        /// Index into the old sequence for `.equal` and `.delete`, into the new one for `.insert`.
        public var index: Int
    }

    public static func compare(_ a: [String], _ b: [String]) -> [Line] {
        let (xs, y) = TokenDiff.interned(a, b)
        var words = [String](repeating: "", count: max(xs.max() ?? -1, y.max() ?? -1) + 1)
        for (i, x) in xs.enumerated() { words[x] = a[i] }
        for (j, x) in y.enumerated() { words[x] = b[j] }
        return compare(interned: xs, y, words: words)
    }

    /// `compare` for sequences already interned (equal elements, equal numbers); `words` gives each
    /// number's text (read only for the words of replaced blocks).
    static func compare(interned xs: [Int], _ y: [Int], words: [String]) -> [Line] {
        var out: [Line] = []
        out.reserveCapacity(xs.count + y.count)
        let matcher = SequenceMatcher(xs, y)
        var pairing: SimilarPairs? = nil
        for op in matcher.opcodes() {
            switch op.tag {
            case .equal: for i in op.a { out.append(Line(tag: .equal, index: i)) }
            case .delete: for i in op.a { out.append(Line(tag: .delete, index: i)) }
            case .insert: for j in op.b { out.append(Line(tag: .insert, index: j)) }
            case .replace:
                if pairing == nil { pairing = SimilarPairs(words, xs, y) }
                if op.a.count * op.b.count <= pairSearchLimit { pairing!.layOut(op.a, op.b) }
                pairing!.fancyReplace(op.a, op.b, into: &out)
            }
        }
        return out
    }

    /// Above this many element pairs, a replaced block is dumped plainly instead of searched for
    /// similar pairs (difflib would take minutes; such blocks are rewrites anyway).
    static let pairSearchLimit = 2_000_000

    /// difflib's `_fancy_replace` over two sequences of words. Each word's Unicode scalars (and a
    /// sorted copy, for the multiset bound) are laid out once in flat arrays, and the similarity
    /// search reuses its scratch space: the search visits every pair of a replaced block, again for
    /// each part either side of the pair it aligns, and allocating per pair was most of its cost.
    struct SimilarPairs {
        let words: [String], xs: [Int], y: [Int]
        /// Scalars of the words laid out so far (only those of replaced blocks, when first needed), and
        /// the same sorted within each word; a's word i at `spans[i]`, b's word j at `spans[xs.count + j]`.
        var scalars: [UInt32] = []
        var sorted: [UInt32] = []
        var spans: [Range<Int>]
        /// Longest-match scratch, one row per scalar of the shorter side.
        var row: [Int] = [], nextRow: [Int] = []
        var queue: [(Int, Int, Int, Int)] = []

        init(_ words: [String], _ xs: [Int], _ y: [Int]) {
            (self.words, self.xs, self.y) = (words, xs, y)
            spans = Array(repeating: -1 ..< -1, count: xs.count + y.count)
        }

        /// Lays out the words of a replaced block that are not laid out yet.
        mutating func layOut(_ ar: Range<Int>, _ br: Range<Int>) {
            for w in Array(ar) + br.map({ xs.count + $0 }) where spans[w].lowerBound < 0 {
                let from = scalars.count
                for scalar in words[w < xs.count ? xs[w] : y[w - xs.count]].unicodeScalars { scalars.append(scalar.value) }
                sorted.append(contentsOf: scalars[from...].sorted())
                spans[w] = from..<scalars.count
            }
        }

        func range(a i: Int) -> Range<Int> { spans[i] }
        func range(b j: Int) -> Range<Int> { spans[xs.count + j] }

        /// difflib's `quick_ratio` numerator: the size of the two words' intersection as multisets.
        func commonScalars(_ p: Range<Int>, _ q: Range<Int>) -> Int {
            var (i, j, common) = (p.lowerBound, q.lowerBound, 0)
            while i < p.upperBound, j < q.upperBound {
                if sorted[i] == sorted[j] { common += 1; i += 1; j += 1 }
                else if sorted[i] < sorted[j] { i += 1 }
                else { j += 1 }
            }
            return common
        }

        /// difflib's `ratio` numerator: the total size of `SequenceMatcher(a: word p, b: word q)`'s
        /// matching blocks (longest match first, recursively either side; the first longest by
        /// position in p, then in q, as difflib's scan finds it). Words of 200 scalars or more take
        /// difflib's own matcher, whose popular-element rule starts there.
        mutating func matchedScalars(_ p: Range<Int>, _ q: Range<Int>) -> Int {
            if q.count >= 200 {
                let (word, other) = TokenDiff.interned(Array(scalars[p]), Array(scalars[q]))
                let blocks = SequenceMatcher(word, other).matchingBlocks()
                return blocks.reduce(0) { $0 + $1.size }
            }
            if row.count < q.count + 1 {
                row = [Int](repeating: 0, count: q.count + 1)
                nextRow = row
            }
            var total = 0
            queue.removeAll(keepingCapacity: true)
            queue.append((0, p.count, 0, q.count))
            while let (alo, ahi, blo, bhi) = queue.popLast() {
                // row[j + 1]: the length of the match ending at (i - 1, j).
                for j in blo...bhi { row[j] = 0 }
                var (besti, bestj, bestSize) = (alo, blo, 0)
                for i in alo..<ahi {
                    let c = scalars[p.lowerBound + i]
                    nextRow[blo] = 0
                    for j in blo..<bhi {
                        if scalars[q.lowerBound + j] == c {
                            let k = row[j] + 1
                            nextRow[j + 1] = k
                            if k > bestSize { (besti, bestj, bestSize) = (i - k + 1, j - k + 1, k) }
                        } else {
                            nextRow[j + 1] = 0
                        }
                    }
                    swap(&row, &nextRow)
                }
                guard bestSize > 0 else { continue }
                total += bestSize
                if alo < besti, blo < bestj { queue.append((alo, besti, blo, bestj)) }
                if besti + bestSize < ahi, bestj + bestSize < bhi { queue.append((besti + bestSize, ahi, bestj + bestSize, bhi)) }
            }
            return total
        }

        mutating func fancyReplace(_ ar: Range<Int>, _ br: Range<Int>, into out: inout [Line]) {
            var bestRatio = 0.74
            let cutoff = 0.75
            var best: (Int, Int)? = nil
            var identical: (Int, Int)? = nil
            if ar.count * br.count <= LineDiffer.pairSearchLimit {
                for j in br {
                    let q = range(b: j)
                    for i in ar {
                        if xs[i] == y[j] {
                            if identical == nil { identical = (i, j) }
                            continue
                        }
                        let p = range(a: i)
                        let total = Double(p.count + q.count)
                        guard total > 0 else { continue }
                        // real_quick_ratio, quick_ratio, ratio: each an upper bound of the next.
                        guard 2.0 * Double(min(p.count, q.count)) / total > bestRatio else { continue }
                        guard 2.0 * Double(commonScalars(p, q)) / total > bestRatio else { continue }
                        let ratio = 2.0 * Double(matchedScalars(p, q)) / total
                        if ratio > bestRatio { (bestRatio, best) = (ratio, (i, j)) }
                    }
                }
            }
            let pair: (Int, Int)
            var similarOnly = true
            if bestRatio < cutoff || best == nil {
                guard let identical else {
                    LineDiffer.plainReplace(ar, br, into: &out)
                    return
                }
                pair = identical
                similarOnly = false
            } else {
                pair = best!
            }
            fancyHelper(ar.lowerBound..<pair.0, br.lowerBound..<pair.1, into: &out)
            if similarOnly {
                out.append(Line(tag: .delete, index: pair.0))
                out.append(Line(tag: .insert, index: pair.1))
            } else {
                out.append(Line(tag: .equal, index: pair.0))
            }
            fancyHelper((pair.0 + 1)..<ar.upperBound, (pair.1 + 1)..<br.upperBound, into: &out)
        }

        mutating func fancyHelper(_ ar: Range<Int>, _ br: Range<Int>, into out: inout [Line]) {
            if !ar.isEmpty {
                if !br.isEmpty { fancyReplace(ar, br, into: &out) } else { for i in ar { out.append(Line(tag: .delete, index: i)) } }
            } else {
                for j in br { out.append(Line(tag: .insert, index: j)) }
            }
        }
    }

    static func plainReplace(_ ar: Range<Int>, _ br: Range<Int>, into out: inout [Line]) {
        if br.count < ar.count {
            for j in br { out.append(Line(tag: .insert, index: j)) }
            for i in ar { out.append(Line(tag: .delete, index: i)) }
        } else {
            for i in ar { out.append(Line(tag: .delete, index: i)) }
            for j in br { out.append(Line(tag: .insert, index: j)) }
        }
    }
}

/// difflib's SequenceMatcher without a junk function, with its automatic "popular element" rule,
/// over elements already numbered 0..<n (interned), so that its index of b is flat arrays.
struct SequenceMatcher {
    enum OpTag { case equal, delete, insert, replace }
    struct Opcode { var tag: OpTag; var a: Range<Int>; var b: Range<Int> }
    struct Block { var i: Int; var j: Int; var size: Int }

    let a: [Int], b: [Int]
    /// For each element of b that is not popular, its indexes in b, ascending: element e's at
    /// `positions[starts[e]..<starts[e + 1]]` (empty for a popular one, or one b lacks).
    var starts: [Int]
    var positions: [Int]

    init(_ a: [Int], _ b: [Int]) {
        (self.a, self.b) = (a, b)
        let distinct = max(a.max() ?? -1, b.max() ?? -1) + 1
        starts = [Int](repeating: 0, count: distinct + 1)
        for e in b { starts[e + 1] += 1 }
        if b.count >= 200 {
            let limit = b.count / 100 + 1
            for e in 0..<distinct where starts[e + 1] > limit { starts[e + 1] = 0 }
        }
        for e in 0..<distinct { starts[e + 1] += starts[e] }
        positions = [Int](repeating: 0, count: starts[distinct])
        var next = starts
        for (j, e) in b.enumerated() where next[e] < starts[e + 1] {
            positions[next[e]] = j
            next[e] += 1
        }
    }

    func longestMatch(_ alo: Int, _ ahi: Int, _ blo: Int, _ bhi: Int, _ j2len: inout [Int], _ newj2len: inout [Int], _ touched: inout [Int], _ newTouched: inout [Int]) -> Block {
        var (besti, bestj, bestsize) = (alo, blo, 0)
        for i in alo..<ahi {
            for j in positions[starts[a[i]]..<starts[a[i] + 1]] {
                if j < blo { continue }
                if j >= bhi { break }
                let k = (j > 0 ? j2len[j - 1] : 0) + 1
                newj2len[j] = k
                newTouched.append(j)
                if k > bestsize { (besti, bestj, bestsize) = (i - k + 1, j - k + 1, k) }
            }
            for j in touched { j2len[j] = 0 }
            swap(&j2len, &newj2len)
            swap(&touched, &newTouched)
            newTouched.removeAll(keepingCapacity: true)
        }
        for j in touched { j2len[j] = 0 }
        touched.removeAll(keepingCapacity: true)
        while besti > alo, bestj > blo, a[besti - 1] == b[bestj - 1] { (besti, bestj, bestsize) = (besti - 1, bestj - 1, bestsize + 1) }
        while besti + bestsize < ahi, bestj + bestsize < bhi, a[besti + bestsize] == b[bestj + bestsize] { bestsize += 1 }
        return Block(i: besti, j: bestj, size: bestsize)
    }

    func matchingBlocks() -> [Block] {
        var j2len = [Int](repeating: 0, count: b.count), newj2len = j2len
        var touched: [Int] = [], newTouched: [Int] = []
        var queue = [(0, a.count, 0, b.count)]
        var blocks: [Block] = []
        while let (alo, ahi, blo, bhi) = queue.popLast() {
            let m = longestMatch(alo, ahi, blo, bhi, &j2len, &newj2len, &touched, &newTouched)
            if m.size > 0 {
                blocks.append(m)
                if alo < m.i, blo < m.j { queue.append((alo, m.i, blo, m.j)) }
                if m.i + m.size < ahi, m.j + m.size < bhi { queue.append((m.i + m.size, ahi, m.j + m.size, bhi)) }
            }
        }
        blocks.sort { ($0.i, $0.j) < ($1.i, $1.j) }
        var merged: [Block] = []
        for blk in blocks {
            if let last = merged.last, last.i + last.size == blk.i, last.j + last.size == blk.j {
                merged[merged.count - 1].size += blk.size
            } else {
                merged.append(blk)
            }
        }
        merged.append(Block(i: a.count, j: b.count, size: 0))
        return merged
    }

    func opcodes() -> [Opcode] {
        var i = 0, j = 0
        var result: [Opcode] = []
        for blk in matchingBlocks() {
            if i < blk.i, j < blk.j {
                result.append(Opcode(tag: .replace, a: i..<blk.i, b: j..<blk.j))
            } else if i < blk.i {
                result.append(Opcode(tag: .delete, a: i..<blk.i, b: j..<j))
            } else if j < blk.j {
                result.append(Opcode(tag: .insert, a: i..<i, b: j..<blk.j))
            }
            (i, j) = (blk.i + blk.size, blk.j + blk.size)
            if blk.size > 0 { result.append(Opcode(tag: .equal, a: blk.i..<i, b: blk.j..<j)) }
        }
        return result
    }
}
