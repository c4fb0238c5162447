import CLibCrypto
import Foundation

/// What an event's `contentHash` commits its text to, in a form that lets parts of the text be
/// withheld later (redaction, DESIGN.md §13) while the rest stays checkable.
///
/// The recipe ("salted segments", for events that carry a `textSalt`):
/// 1. The text's UTF-8 bytes are cut into segments: a segment ends after a line feed (0x0A), and after
///    a `.`, `!` or `?` that is followed by a space (the space begins the next segment). The empty
///    text is one empty segment. Segments are the smallest unit a redaction can withhold: a sentence,
///    or a line without one.
/// 2. Segment *i* (counted from 0) gets its own 16-byte salt: SHA-256(textSalt ‖ ⌊i/2⌋ as 4 bytes
///    big-endian) holds the salts of segments 2k and 2k+1, its first and last 16 bytes. The leaf hash
///    is SHA-256(0x00 ‖ salt_i ‖ segment).
/// 3. The commitment is the Merkle tree hash of the leaf hashes, as RFC 6962 builds it: a node is
///    SHA-256(0x01 ‖ left ‖ right), split at the largest power of two below the count; one leaf is its
///    own root.
///
/// Every segment has a salt of its own so that withholding one reveals nothing that would let anyone
/// test a guess of it: the withheld segment's leaf hash is published, its salt is not, and the
/// other segments' salts (published to check the rest) cannot be used to derive it once `textSalt`
/// itself is deleted. Events written before salted commitments carry no salt, and their
/// `contentHash` is the plain SHA-256 of the text ("plain" recipe); they can be withheld only whole.
public enum TextCommitment {
    /// Bytes of a text salt.
    public static let saltBytes = 16

    /// A fresh random salt for a new event.
    public static func newSalt() -> [UInt8] {
        // Eight bytes per draw: each draw is a getrandom(2) call, and a byte at a time made sixteen
        // of them for every event appended.
        var generator = SystemRandomNumberGenerator()
        var salt: [UInt8] = []
        salt.reserveCapacity(saltBytes)
        for _ in 0..<(saltBytes / 8) { withUnsafeBytes(of: generator.next() as UInt64) { salt.append(contentsOf: $0) } }
        return salt
    }

    /// The segments of a text, as byte ranges in order; the empty text is one empty segment.
    public static func segments(of text: UnsafeRawBufferPointer) -> [Range<Int>] {
        var result: [Range<Int>] = []
        result.reserveCapacity(text.count / 64 + 1)
        var start = 0
        let n = text.count
        if n > 0 {
            let base = text.baseAddress!
            let bytes = base.assumingMemoryBound(to: UInt8.self)
            @inline(__always) func visit(_ i: Int) {
                let b = bytes[i]
                if b == 0x0A || ((b == 0x2E || b == 0x21 || b == 0x3F) && i + 1 < n && bytes[i + 1] == 0x20) {
                    result.append(start..<i + 1)
                    start = i + 1
                }
            }
            // Sixteen bytes at a time, each lane compared with the byte after it too, so that only the
            // lanes that end a segment are visited: wikitext and prose have a `.` in most runs of
            // sixteen, and visiting every byte of those runs was most of this function's time.
            let lineFeed = SIMD16<UInt8>(repeating: 0x0A), period = SIMD16<UInt8>(repeating: 0x2E)
            let bang = SIMD16<UInt8>(repeating: 0x21), question = SIMD16<UInt8>(repeating: 0x3F)
            let space = SIMD16<UInt8>(repeating: 0x20)
            var i = 0
            while i + 17 <= n {
                let v = base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                let next = base.loadUnaligned(fromByteOffset: i + 1, as: SIMD16<UInt8>.self)
                let ends = (v .== lineFeed) .| (((v .== period) .| (v .== bang) .| (v .== question)) .& (next .== space))
                if any(ends) {
                    for lane in 0..<16 where ends[lane] {
                        result.append(start..<i + lane + 1)
                        start = i + lane + 1
                    }
                }
                i += 16
            }
            while i < n {
                visit(i)
                i += 1
            }
        }
        if start < n || result.isEmpty { result.append(start..<n) }
        return result
    }

    public static func segments(of text: [UInt8]) -> [Range<Int>] {
        text.withUnsafeBytes { segments(of: $0) }
    }

    /// The salt of segment `index` of a text salted with `salt`.
    public static func segmentSalt(_ salt: [UInt8], index: Int) -> [UInt8] {
        var input = salt
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: index / 2).bigEndian) { input.append(contentsOf: $0) }
        var pair = [UInt8](repeating: 0, count: 32)
        input.withUnsafeBytes { i in pair.withUnsafeMutableBytes { sha256(i, into: $0.baseAddress!) } }
        return Array(pair[(index % 2) * saltBytes..<(index % 2 + 1) * saltBytes])
    }

    /// The leaf hash of one segment.
    public static func leafHash(segment: UnsafeRawBufferPointer, segmentSalt: [UInt8]) -> Digest {
        var leaf = [UInt8](repeating: 0, count: 32)
        ([0] + segmentSalt).withUnsafeBytes { prefix in
            leaf.withUnsafeMutableBytes { sha256(prefix, segment, into: $0.baseAddress!) }
        }
        return Digest(bytes: leaf)
    }

    /// The commitment to a whole text under `salt`.
    ///
    /// Every version of every text is committed when it is recorded (and again by `verify`), so this
    /// is a hot path: about two and a half SHA-256 of a few dozen bytes per sentence, each on a
    /// context on the stack (`sha256(_:_:into:)`), written into one flat buffer.
    public static func commitment(text: [UInt8], salt: [UInt8]) -> Digest {
        precondition(salt.count == saltBytes, "a text salt has \(saltBytes) bytes")
        return text.withUnsafeBytes { raw in
            let ranges = segments(of: raw)
            var nodes = [UInt8](repeating: 0, count: ranges.count * 32)
            var saltInput = salt + [0, 0, 0, 0]
            var leafPrefix = [UInt8](repeating: 0, count: 1 + saltBytes)
            var saltPair = [UInt8](repeating: 0, count: 32)
            nodes.withUnsafeMutableBytes { out in
                saltInput.withUnsafeMutableBytes { saltIn in
                    leafPrefix.withUnsafeMutableBytes { prefix in
                        saltPair.withUnsafeMutableBytes { pair in
                            for (i, range) in ranges.enumerated() {
                                if i % 2 == 0 {
                                    saltIn.storeBytes(of: UInt32(truncatingIfNeeded: i / 2).bigEndian, toByteOffset: saltBytes, as: UInt32.self)
                                    sha256(UnsafeRawBufferPointer(saltIn), into: pair.baseAddress!)
                                }
                                (prefix.baseAddress! + 1).copyMemory(from: pair.baseAddress! + (i % 2) * saltBytes, byteCount: saltBytes)
                                sha256(UnsafeRawBufferPointer(prefix), UnsafeRawBufferPointer(rebasing: raw[range]), into: out.baseAddress! + 32 * i)
                            }
                        }
                    }
                }
            }
            return root(flat: &nodes, count: ranges.count)
        }
    }

    /// SHA-256 of `first` followed by `second`, written to the 32 bytes at `out`.
    @inline(__always)
    private static func sha256(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer? = nil, into out: UnsafeMutableRawPointer) {
        var context = SHA256_CTX()
        SHA256_Init(&context)
        SHA256_Update(&context, first.baseAddress, first.count)
        if let second, second.count > 0 { SHA256_Update(&context, second.baseAddress, second.count) }
        SHA256_Final(out.assumingMemoryBound(to: UInt8.self), &context)
    }

    /// The RFC 6962 Merkle tree hash of `leaves` (which must not be empty).
    public static func root(of leaves: [Digest]) -> Digest {
        precondition(!leaves.isEmpty, "a text has at least one segment")
        var nodes = leaves.flatMap(\.bytes)
        return root(flat: &nodes, count: leaves.count)
    }

    /// The tree hash of `count` 32-byte hashes laid end to end in `nodes` (overwritten on the way up).
    /// Bottom-up pairing gives RFC 6962's shape: an odd node at the end is carried up unchanged, which
    /// is the same tree as splitting at the largest power of two below the count.
    private static func root(flat nodes: inout [UInt8], count: Int) -> Digest {
        var width = count
        var pair = [UInt8](repeating: 1, count: 65)
        nodes.withUnsafeMutableBytes { level in
            pair.withUnsafeMutableBytes { pair in
                while width > 1 {
                    var i = 0
                    while i + 1 < width {
                        (pair.baseAddress! + 1).copyMemory(from: level.baseAddress! + 32 * i, byteCount: 64)
                        sha256(UnsafeRawBufferPointer(pair), into: level.baseAddress! + 16 * i)
                        i += 2
                    }
                    if i < width {
                        level.baseAddress!.advanced(by: 16 * i).copyMemory(from: level.baseAddress!.advanced(by: 32 * i), byteCount: 32)
                    }
                    width = (width + 1) / 2
                }
            }
        }
        return Digest(bytes: Array(nodes[0..<32]))
    }
}

/// What proves the readable part of a partly redacted text against the event's commitment: the
/// text as it now reads is a run of parts, each either a kept segment (its bytes are in the text;
/// its salt is here) or a withheld one (its leaf hash is here; in the text, a marker of `markerBytes`
/// bytes stands in for it, or nothing when `markerBytes` is 0, as for a withheld segment next to
/// another that carries the marker).
public struct PartialTextProof: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case kept(bytes: Int, salt: [UInt8])
        case withheld(leafHash: Digest, markerBytes: Int)
    }

    public var parts: [Part]

    public init(parts: [Part]) { self.parts = parts }

    /// Indices of the withheld segments.
    public var withheldSegments: [Int] {
        parts.enumerated().compactMap { i, part in
            if case .withheld = part { return i }
            return nil
        }
    }

    /// The commitment this proof and the readable text make, or nil when the parts do not add up to
    /// the text (a length that runs past its end, bytes left over).
    public func commitment(readableText text: [UInt8]) -> Digest? {
        var offset = 0
        var leaves: [Digest] = []
        leaves.reserveCapacity(parts.count)
        for part in parts {
            switch part {
            case .kept(let count, let salt):
                guard count >= 0, count <= text.count - offset, salt.count == TextCommitment.saltBytes else { return nil }
                leaves.append(text.withUnsafeBytes { raw in
                    TextCommitment.leafHash(segment: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count]), segmentSalt: salt)
                })
                offset += count
            case .withheld(let hash, let marker):
                guard marker >= 0, marker <= text.count - offset else { return nil }
                leaves.append(hash)
                offset += marker
            }
        }
        guard offset == text.count, !leaves.isEmpty else { return nil }
        return TextCommitment.root(of: leaves)
    }

    /// The proof as it appears in an export line's `textProof.parts`.
    var json: JSONValue {
        .array(parts.map { part in
            switch part {
            case .kept(let bytes, let salt): .object(["kept": .int(Int64(bytes)), "salt": .string(Hex.encode(salt))])
            case .withheld(let hash, let marker): .object(["withheld": .string(hash.hex), "marker": .int(Int64(marker))])
            }
        })
    }

    /// Reads `textProof.parts`; nil with a reason when it is malformed.
    static func decode(_ value: JSONValue) -> Result<PartialTextProof, LedgerError> {
        guard case .array(let items) = value, !items.isEmpty else {
            return .failure(LedgerError(.invalidInput, "\"textProof\".\"parts\" must be a non-empty array"))
        }
        var parts: [Part] = []
        for (i, item) in items.enumerated() {
            guard case .object(let o) = item else {
                return .failure(LedgerError(.invalidInput, "\"textProof\".\"parts\"[\(i)] is not an object"))
            }
            if case .int(let bytes)? = o["kept"], case .string(let salt)? = o["salt"], let saltBytes = Hex.decode(salt),
                saltBytes.count == TextCommitment.saltBytes, bytes >= 0, o.count == 2
            {
                parts.append(.kept(bytes: Int(bytes), salt: saltBytes))
            } else if case .string(let hash)? = o["withheld"], let digest = Digest(hex: hash), case .int(let marker)? = o["marker"],
                marker >= 0, o.count == 2
            {
                parts.append(.withheld(leafHash: digest, markerBytes: Int(marker)))
            } else {
                return .failure(LedgerError(.invalidInput, "\"textProof\".\"parts\"[\(i)] must be {\"kept\": bytes, \"salt\": 32 hex digits} or {\"withheld\": 64 hex digits, \"marker\": bytes}"))
            }
        }
        return .success(PartialTextProof(parts: parts))
    }
}
