import TextPacking

/// Appends the fields of a stored record: varint integers, length-prefixed strings, optional fields
/// behind a presence byte. Records start with a format byte so that later builds can read old ones.
struct RecordWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 128) { bytes.reserveCapacity(capacity) }

    mutating func byte(_ v: UInt8) { bytes.append(v) }
    mutating func varint(_ v: UInt64) { writeVarint(v, into: &bytes) }
    mutating func signed(_ v: Int64) { writeVarint(UInt64(bitPattern: (v << 1) ^ (v >> 63)), into: &bytes) }
    mutating func raw(_ v: [UInt8]) { bytes.append(contentsOf: v) }
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            varint(UInt64(u.count))
            bytes.append(contentsOf: u)
        }
    }
    mutating func optionalString(_ s: String?) {
        if let s { byte(1); string(s) } else { byte(0) }
    }
    mutating func digest(_ d: Digest) { bytes.append(contentsOf: d.bytes) }
    mutating func optionalDigest(_ d: Digest?) {
        if let d { byte(1); digest(d) } else { byte(0) }
    }
}

/// Reads what `RecordWriter` wrote. Every read is bounds-checked: a damaged record is an
/// integrity error naming the record, never a crash.
struct RecordReader {
    struct Damaged: Error {}

    let bytes: UnsafeRawBufferPointer
    var p = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { p == bytes.count }

    mutating func byte() throws(Damaged) -> UInt8 {
        guard p < bytes.count else { throw Damaged() }
        defer { p += 1 }
        return bytes[p]
    }

    mutating func varint() throws(Damaged) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while p < bytes.count, shift <= 63 {
            let b = bytes[p]
            p += 1
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        throw Damaged()
    }

    mutating func signed() throws(Damaged) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    mutating func raw(_ count: Int) throws(Damaged) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - p else { throw Damaged() }
        defer { p += count }
        return UnsafeRawBufferPointer(rebasing: bytes[p..<p + count])
    }

    mutating func string() throws(Damaged) -> String {
        let count = try varint()
        guard count <= UInt64(bytes.count - p) else { throw Damaged() }
        guard let s = String(validating: try raw(Int(count)).assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw Damaged()
        }
        return s
    }

    mutating func optionalString() throws(Damaged) -> String? {
        try byte() == 1 ? try string() : nil
    }

    mutating func digest() throws(Damaged) -> Digest { Digest(bytes: try raw(32)) }

    mutating func optionalDigest() throws(Damaged) -> Digest? {
        try byte() == 1 ? try digest() : nil
    }
}
