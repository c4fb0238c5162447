/// How many bytes two buffers share at their start or end, compared eight bytes at a time: where
/// a delta starts and ends (`Delta`), and where a change between two versions of a text lies (the
/// phrase index's change zones).
public enum CommonBytes {
    /// The length of the common prefix, compared eight bytes at a time.
    public static func prefix(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, limit: Int) -> Int {
        guard limit > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
        var i = 0
        while i + 8 <= limit {
            let x = ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if x != 0 { return i + x.littleEndian.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < limit, a[i] == b[i] { i += 1 }
        return i
    }

    /// The length of the common suffix (at most `limit`), compared eight bytes at a time.
    public static func suffix(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, limit: Int) -> Int {
        guard limit > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
        var i = 0
        while i + 8 <= limit {
            let x = ra.loadUnaligned(fromByteOffset: a.count - i - 8, as: UInt64.self)
                ^ rb.loadUnaligned(fromByteOffset: b.count - i - 8, as: UInt64.self)
            if x != 0 { return i + x.littleEndian.leadingZeroBitCount / 8 }
            i += 8
        }
        while i < limit, a[a.count - 1 - i] == b[b.count - 1 - i] { i += 1 }
        return i
    }
}
