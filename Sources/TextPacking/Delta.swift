/// A byte-level copy/insert delta between two versions of a text, in the spirit of git's pack deltas:
/// the base is indexed in fixed blocks, the target is scanned with a rolling hash, and every match is
/// extended both ways. Small edits to long texts cost a few bytes.
///
/// Encoding: a sequence of operations, each a LEB128 varint `tag`:
/// `tag = length << 1` is an insert followed by `length` literal bytes;
/// `tag = length << 1 | 1` is a copy of `length` bytes followed by the varint offset in the base.
public enum Delta {
    public struct Corrupt: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    static let block = 16

    /// Computes the delta that turns `base` into `target`.
    public static func encode(base: [UInt8], target: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        base.withUnsafeBufferPointer { b in
            target.withUnsafeBufferPointer { t in
                encode(base: b, target: t, into: &out)
            }
        }
        return out
    }

    private static func encode(base: UnsafeBufferPointer<UInt8>, target: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let n = target.count
        var pending = 0  // start of the literal run not yet written
        func flushInsert(upTo end: Int) {
            guard end > pending else { return }
            writeVarint(UInt64(end - pending) << 1, into: &out)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: target[pending..<end]))
        }
        func copy(offset: Int, length: Int) {
            writeVarint(UInt64(length) << 1 | 1, into: &out)
            writeVarint(UInt64(offset), into: &out)
        }

        // Whole-text prefix and suffix shared with the base: the common case of one local edit costs
        // no hashing at all.
        let limit = min(base.count, n)
        let prefix = CommonBytes.prefix(base, target, limit: limit)
        let suffix = CommonBytes.suffix(base, target, limit: limit - prefix)
        if prefix > 0 { copy(offset: 0, length: prefix) }
        pending = prefix
        let middleEnd = n - suffix

        // Index only the part of the base that the shared prefix and suffix do not already cover:
        // that is where the middle of the target most likely comes from, and for a small edit to a
        // long text it keeps the work proportional to the edit rather than to the text.
        let baseMiddle = UnsafeBufferPointer(rebasing: base[prefix..<(base.count - suffix)])
        if middleEnd - prefix >= block, baseMiddle.count >= block {
            let index = BlockIndex(baseMiddle, offset: prefix)
            var i = prefix
            var hash = RollingHash.of(target, at: i)
            while i + block <= middleEnd {
                if let candidate = index.lookup(hash), memcmpEqual(base, candidate, target, i, block) {
                    // Extend backwards into the pending literal run, then forwards.
                    var start = i, baseStart = candidate
                    while start > pending, baseStart > 0, base[baseStart - 1] == target[start - 1] {
                        start -= 1; baseStart -= 1
                    }
                    var end = i + block, baseEnd = candidate + block
                    while end < middleEnd, baseEnd < base.count, base[baseEnd] == target[end] {
                        end += 1; baseEnd += 1
                    }
                    flushInsert(upTo: start)
                    copy(offset: baseStart, length: end - start)
                    pending = end
                    i = end
                    if i + block <= middleEnd { hash = RollingHash.of(target, at: i) }
                    continue
                }
                if i + block < middleEnd {
                    hash = RollingHash.roll(hash, out: target[i], in: target[i + block])
                }
                i += 1
            }
        }
        flushInsert(upTo: middleEnd)
        pending = middleEnd
        if suffix > 0 { copy(offset: base.count - suffix, length: suffix) }
    }

    /// Applies `delta` to `base`. `size` is the target's length, checked as the delta is applied.
    public static func apply(_ delta: UnsafeRawBufferPointer, to base: [UInt8], size: Int) throws(Corrupt) -> [UInt8] {
        var out = [UInt8]()
        try apply(delta, to: base, size: size, into: &out)
        return out
    }

    /// Applies `delta` to `base` into `out`, replacing what it held but keeping its storage: a chain
    /// of deltas applied between two buffers allocates nothing per link (a fresh ~70 KB array per
    /// link went to and from the kernel, and its page faults were a fifth of reading a version).
    public static func apply(_ delta: UnsafeRawBufferPointer, to base: [UInt8], size: Int, into out: inout [UInt8]) throws(Corrupt) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(size)
        var p = 0
        while p < delta.count {
            let tag = try readVarint(delta, &p)
            let length = Int(tag >> 1)
            if tag & 1 == 1 {
                let offset = Int(try readVarint(delta, &p))
                guard offset >= 0, length >= 0, offset <= base.count, length <= base.count - offset else {
                    throw Corrupt(description: "a delta copies bytes \(offset)..<\(offset + length) of a \(base.count)-byte base")
                }
                out.append(contentsOf: base[offset..<offset + length])
            } else {
                guard length >= 0, length <= delta.count - p else {
                    throw Corrupt(description: "a delta inserts \(length) bytes past its own end")
                }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: delta[p..<p + length]))
                p += length
            }
            guard out.count <= size else { throw Corrupt(description: "a delta produces more than \(size) bytes") }
        }
        guard out.count == size else { throw Corrupt(description: "a delta produces \(out.count) bytes, not \(size)") }
    }

    @inline(__always)
    static func memcmpEqual(_ a: UnsafeBufferPointer<UInt8>, _ ai: Int, _ b: UnsafeBufferPointer<UInt8>, _ bi: Int, _ count: Int) -> Bool {
        for k in 0..<count where a[ai + k] != b[bi + k] { return false }
        return true
    }
}

/// Base offsets by the hash of the block starting there (every `Delta.block` bytes). Open
/// addressing; one offset per slot is enough, as git's delta index shows.
private struct BlockIndex {
    var slots: [Int32]
    let mask: UInt64

    /// Indexes `base`, whose first byte is at `offset` in the whole base.
    init(_ base: UnsafeBufferPointer<UInt8>, offset baseOffset: Int) {
        let blocks = base.count / Delta.block
        var capacity = 16
        while capacity < blocks * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = UInt64(capacity - 1)
        // Later blocks are inserted first so that, on a clash, the earliest offset wins.
        var offset = (blocks - 1) * Delta.block
        while offset >= 0 {
            let h = RollingHash.of(base, at: offset)
            slots[Int(RollingHash.mix(h) & mask)] = Int32(baseOffset + offset)
            offset -= Delta.block
        }
    }

    @inline(__always)
    func lookup(_ hash: UInt64) -> Int? {
        let v = slots[Int(RollingHash.mix(hash) & mask)]
        return v < 0 ? nil : Int(v)
    }
}

/// A polynomial rolling hash over `Delta.block` bytes, modulo 2^64.
enum RollingHash {
    static let multiplier: UInt64 = 0x100000001B3
    static let topPower: UInt64 = {
        var p: UInt64 = 1
        for _ in 1..<Delta.block { p &*= multiplier }
        return p
    }()

    @inline(__always)
    static func of(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> UInt64 {
        var h: UInt64 = 0
        for k in 0..<Delta.block { h = h &* multiplier &+ UInt64(bytes[offset + k]) &+ 1 }
        return h
    }

    @inline(__always)
    static func roll(_ h: UInt64, out: UInt8, in: UInt8) -> UInt64 {
        (h &- (UInt64(out) &+ 1) &* topPower) &* multiplier &+ UInt64(`in`) &+ 1
    }

    @inline(__always)
    static func mix(_ h: UInt64) -> UInt64 {
        var x = h
        x ^= x >> 33
        x &*= 0xff51afd7ed558ccd
        x ^= x >> 33
        return x
    }
}

@inlinable @inline(__always)
public func writeVarint(_ value: UInt64, into out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(v & 0x7f) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}

@inline(__always)
func readVarint(_ bytes: UnsafeRawBufferPointer, _ p: inout Int) throws(Delta.Corrupt) -> UInt64 {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while p < bytes.count {
        let byte = bytes[p]
        p += 1
        result |= UInt64(byte & 0x7f) << shift
        if byte < 0x80 { return result }
        shift += 7
        if shift > 63 { break }
    }
    throw Delta.Corrupt(description: "a delta ends inside a number")
}
