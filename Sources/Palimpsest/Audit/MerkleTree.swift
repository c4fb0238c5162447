import Crypto

/// The Merkle tree over event hashes, hashed as RFC 9162 (Certificate Transparency 2.0) §2.1 says:
/// a leaf is SHA-256(0x00 ‖ event hash), an inner node SHA-256(0x01 ‖ left ‖ right), and a tree of
/// `n` leaves splits at the largest power of two smaller than `n`.
///
/// Every range the RFC's algorithms ask for starts at a multiple of its own split, so a tree of any
/// size is a few *perfect* subtrees (2^level leaves starting at `index · 2^level`). The functions
/// here ask `perfect(level, index)` for those, which the ledger reads from its stored nodes: a root,
/// an inclusion proof or a consistency proof costs O(log² n) lookups at most.
public enum MerkleTree {
    public typealias PerfectSubtree = (_ level: Int, _ index: UInt64) throws -> Digest

    public static func leafHash(_ eventHash: Digest) -> Digest {
        var hasher = SHA256()
        hasher.update(data: [0])
        hasher.update(data: eventHash.bytes)
        return Digest(bytes: Array(hasher.finalize()))
    }

    public static func nodeHash(_ left: Digest, _ right: Digest) -> Digest {
        var hasher = SHA256()
        hasher.update(data: [1])
        hasher.update(data: left.bytes)
        hasher.update(data: right.bytes)
        return Digest(bytes: Array(hasher.finalize()))
    }

    /// The root of the empty tree: SHA-256 of nothing.
    public static let emptyRoot = Digest.sha256([UInt8]())

    /// The largest power of two strictly smaller than `n` (n ≥ 2).
    static func split(_ n: UInt64) -> UInt64 {
        precondition(n >= 2)
        return UInt64(1) << (63 - (n - 1).leadingZeroBitCount)
    }

    /// MTH of leaves `start ..< end`, where `start` is a multiple of the range's split (always true of
    /// the ranges RFC 9162's algorithms visit).
    static func hash(_ start: UInt64, _ end: UInt64, _ perfect: PerfectSubtree) throws -> Digest {
        let count = end - start
        if count & (count - 1) == 0 {
            let level = count.trailingZeroBitCount
            return try perfect(level, start >> UInt64(level))
        }
        let k = split(count)
        return nodeHash(try hash(start, start + k, perfect), try hash(start + k, end, perfect))
    }

    /// The root of the first `size` leaves.
    public static func root(size: UInt64, _ perfect: PerfectSubtree) throws -> Digest {
        size == 0 ? emptyRoot : try hash(0, size, perfect)
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1),
    /// nearest sibling first.
    public static func inclusionProof(index: UInt64, size: UInt64, _ perfect: PerfectSubtree) throws -> [Digest] {
        precondition(index < size)
        var path: [Digest] = []
        func walk(_ m: UInt64, _ start: UInt64, _ end: UInt64) throws {
            let n = end - start
            guard n > 1 else { return }
            let k = split(n)
            if m < k {
                try walk(m, start, start + k)
                path.append(try hash(start + k, end, perfect))
            } else {
                try walk(m - k, start + k, end)
                path.append(try hash(start, start + k, perfect))
            }
        }
        try walk(index, 0, size)
        return path
    }

    /// The consistency proof between the trees of the first `old` and `new` leaves (RFC 9162
    /// §2.1.4.1); empty when `old` is 0 or equals `new`.
    public static func consistencyProof(old: UInt64, new: UInt64, _ perfect: PerfectSubtree) throws -> [Digest] {
        precondition(old <= new)
        guard old > 0, old < new else { return [] }
        var proof: [Digest] = []
        func subproof(_ m: UInt64, _ start: UInt64, _ end: UInt64, _ complete: Bool) throws {
            let n = end - start
            if m == n {
                if !complete { proof.append(try hash(start, end, perfect)) }
                return
            }
            let k = split(n)
            if m <= k {
                try subproof(m, start, start + k, complete)
                proof.append(try hash(start + k, end, perfect))
            } else {
                try subproof(m - k, start + k, end, false)
                proof.append(try hash(start, start + k, perfect))
            }
        }
        try subproof(old, 0, new, true)
        return proof
    }

    /// RFC 9162 §2.1.3.2: does `path` prove that `leaf` (a leaf hash) is leaf `index` of the tree of
    /// `size` leaves whose root is `root`?
    public static func verifyInclusion(leaf: Digest, index: UInt64, size: UInt64, path: [Digest], root: Digest) -> Bool {
        guard index < size else { return false }
        var (fn, sn) = (index, size - 1)
        var r = leaf
        for p in path {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: does `proof` show the tree of `new` leaves with root `newRoot` extends the
    /// tree of `old` leaves with root `oldRoot`?
    public static func verifyConsistency(old: UInt64, new: UInt64, oldRoot: Digest, newRoot: Digest, proof: [Digest]) -> Bool {
        guard old <= new else { return false }
        if old == new { return proof.isEmpty && oldRoot == newRoot }
        if old == 0 { return proof.isEmpty }
        var path = proof
        if old & (old - 1) == 0 { path.insert(oldRoot, at: 0) }
        guard !path.isEmpty else { return false }
        var (fn, sn) = (old - 1, new - 1)
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        var (fr, sr) = (path[0], path[0])
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}

/// The perfect subtrees of a growing tree, as leaves are appended one by one (a "compact range"):
/// what `verify` uses to recompute the root while it scans the log, in O(log n) memory.
public struct MerkleFrontier: Sendable {
    /// (level, hash) of the perfect subtrees covering the leaves so far, largest first.
    private(set) var subtrees: [(level: Int, hash: Digest)] = []
    public private(set) var size: UInt64 = 0

    public init() {}

    /// Appends a leaf.
    public mutating func append(eventHash: Digest) {
        append(eventHash: eventHash) { _, _, _ in }
    }

    /// Appends a leaf; calls `completed(level, index, hash)` for every inner node it completes.
    public mutating func append(eventHash: Digest, completed: (Int, UInt64, Digest) throws -> Void) rethrows {
        var node = (level: 0, hash: MerkleTree.leafHash(eventHash))
        let leafIndex = size
        size += 1
        while let last = subtrees.last, last.level == node.level {
            subtrees.removeLast()
            node = (node.level + 1, MerkleTree.nodeHash(last.hash, node.hash))
            try completed(node.level, leafIndex >> UInt64(node.level), node.hash)
        }
        subtrees.append(node)
    }

    /// The root of the leaves appended so far.
    public var root: Digest {
        guard var result = subtrees.last?.hash else { return MerkleTree.emptyRoot }
        for subtree in subtrees.dropLast().reversed() { result = MerkleTree.nodeHash(subtree.hash, result) }
        return result
    }
}
