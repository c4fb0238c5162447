/// A token-level diff (Myers' O(ND) algorithm on token identities, after trimming the common prefix
/// and suffix, so a small edit to a long text costs little). This is the simple engine the replay
/// view needs; word-level provenance brings paragraph and move detection on top.
public enum TokenDiff {
    public enum Operation: Sendable, Equatable {
        case equal(Range<Int>, Range<Int>)
        case delete(Range<Int>)
        case insert(Range<Int>)
    }

    /// Operations that turn `old` into `new`, in order; ranges index the token arrays.
    public static func diff<T: Hashable>(_ old: [T], _ new: [T], maxEdits: Int = TokenDiff.maxEdits) -> [Operation] {
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix, old[old.count - 1 - suffix] == new[new.count - 1 - suffix] { suffix += 1 }
        var ops: [Operation] = []
        if prefix > 0 { ops.append(.equal(0..<prefix, 0..<prefix)) }
        let a = Array(old[prefix..<(old.count - suffix)]), b = Array(new[prefix..<(new.count - suffix)])
        for op in myers(a, b, maxEdits: maxEdits) {
            switch op {
            case .equal(let x, let y): ops.append(.equal((x.lowerBound + prefix)..<(x.upperBound + prefix), (y.lowerBound + prefix)..<(y.upperBound + prefix)))
            case .delete(let x): ops.append(.delete((x.lowerBound + prefix)..<(x.upperBound + prefix)))
            case .insert(let y): ops.append(.insert((y.lowerBound + prefix)..<(y.upperBound + prefix)))
            }
        }
        if suffix > 0 { ops.append(.equal((old.count - suffix)..<old.count, (new.count - suffix)..<new.count)) }
        return merged(ops)
    }

    /// Edit distances beyond which the diff gives up finding the shortest script and reports the
    /// whole middle as replaced (the trace costs D² memory; a blanked page or a rewrite is a
    /// replacement anyway).
    public static let maxEdits = 4000

    /// Myers' greedy algorithm with the trace kept for the backtrack (only the diagonals reached).
    static func myers<T: Hashable>(_ a: [T], _ b: [T], maxEdits: Int) -> [Operation] {
        let n = a.count, m = b.count
        if n == 0 { return m == 0 ? [] : [.insert(0..<m)] }
        if m == 0 { return [.delete(0..<n)] }
        // The shortest script has at least |n - m| edits: past the limit, no need to search.
        if abs(n - m) > min(n + m, maxEdits) { return [.delete(0..<n), .insert(0..<m)] }
        // Compare interned integers: cheaper than comparing tokens.
        let (x, y) = interned(a, b)
        let limit = min(n + m, maxEdits), offset = limit + 1
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        var trace: [[Int]] = []  // trace[d] = v[offset - d ... offset + d] before step d
        var finalD: Int? = nil
        // The hot loop, on raw buffers and without `stride` (whose iterator does not optimise away).
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                search: for d in 0...limit {
                    trace.append(Array(v[(offset - d)...(offset + d)]))
                    let found: Bool = v.withUnsafeMutableBufferPointer { v in
                        var k = -d
                        while k <= d {
                            var i: Int
                            if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                                i = v[offset + k + 1]
                            } else {
                                i = v[offset + k - 1] + 1
                            }
                            var j = i - k
                            while i < n, j < m, x[i] == y[j] { i += 1; j += 1 }
                            v[offset + k] = i
                            if i >= n, j >= m { return true }
                            k += 2
                        }
                        return false
                    }
                    if found { finalD = d; break search }
                }
            }
        }
        guard let finalD else { return [.delete(0..<n), .insert(0..<m)] }
        // Backtrack from (n, m) to (0, 0).
        var ops: [Operation] = []
        var i = n, j = m
        for d in stride(from: finalD, to: 0, by: -1) {
            let row = trace[d]
            func at(_ k: Int) -> Int { row[k + d] }
            let k = i - j
            let previousK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1
            let previousI = at(previousK), previousJ = previousI - previousK
            while i > previousI, j > previousJ {
                ops.append(.equal((i - 1)..<i, (j - 1)..<j))
                i -= 1; j -= 1
            }
            if previousK == k + 1 { ops.append(.insert((j - 1)..<j)); j -= 1 } else { ops.append(.delete((i - 1)..<i)); i -= 1 }
        }
        while i > 0, j > 0 { ops.append(.equal((i - 1)..<i, (j - 1)..<j)); i -= 1; j -= 1 }
        return merged(ops.reversed())
    }

    /// Joins adjacent operations of the same kind.
    static func merged(_ ops: [Operation]) -> [Operation] {
        var out: [Operation] = []
        for op in ops {
            switch (out.last, op) {
            case (.equal(let a, let b)?, .equal(let c, let d)) where a.upperBound == c.lowerBound && b.upperBound == d.lowerBound:
                out[out.count - 1] = .equal(a.lowerBound..<c.upperBound, b.lowerBound..<d.upperBound)
            case (.delete(let a)?, .delete(let c)) where a.upperBound == c.lowerBound:
                out[out.count - 1] = .delete(a.lowerBound..<c.upperBound)
            case (.insert(let a)?, .insert(let c)) where a.upperBound == c.lowerBound:
                out[out.count - 1] = .insert(a.lowerBound..<c.upperBound)
            default:
                out.append(op)
            }
        }
        return out
    }

    /// Both sequences as small integers, equal elements getting equal numbers.
    static func interned<T: Hashable>(_ a: [T], _ b: [T]) -> ([Int], [Int]) {
        var ids: [T: Int] = [:]
        func id(_ t: T) -> Int {
            if let i = ids[t] { return i }
            ids[t] = ids.count
            return ids.count - 1
        }
        return (a.map(id), b.map(id))
    }
}
