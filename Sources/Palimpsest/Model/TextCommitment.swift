import Crypto
import Foundation

/// What an event's `contentHash` commits its text to, in a form that lets parts of the text be
/// withheld later (redaction, DESIGN.md §13) while the rest stays checkable.
///
/// The recipe ("salted segments", for events that carry a `textSalt`):
/// 1. The text's UTF-8 bytes are cut into segments: a line feed (0x0A) is a segment of its own, and
///    a segment ends after a `.`, `!` or `?` that is followed by a space (the space begins the next
///    segment). The empty text is one empty segment. Segments are the smallest unit a redaction can
///    withhold — a sentence, or a line without one — and withholding one keeps the lines around it.
/// 2. Segment *i* (counted from 0) gets its own 16-byte salt: the first 16 bytes of
///    SHA-256(textSalt ‖ i as 4 bytes big-endian). Its leaf hash is SHA-256(0x00 ‖ salt_i ‖ segment).
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
        var generator = SystemRandomNumberGenerator()
        return (0..<saltBytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// The segments of a text, as byte ranges in order; the empty text is one empty segment.
    public static func segments(of text: UnsafeRawBufferPointer) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        let n = text.count
        var i = 0
        while i < n {
            let b = text[i]
            if b == 0x0A {
                if start < i { result.append(start..<i) }
                result.append(i..<i + 1)
                start = i + 1
            } else if (b == 0x2E || b == 0x21 || b == 0x3F), i + 1 < n, text[i + 1] == 0x20 {
                result.append(start..<i + 1)
                start = i + 1
            }
            i += 1
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
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: index).bigEndian) { input.append(contentsOf: $0) }
        return SHA256.hash(data: input).withUnsafeBytes { Array($0.prefix(saltBytes)) }
    }

    /// The leaf hash of one segment.
    public static func leafHash(segment: UnsafeRawBufferPointer, segmentSalt: [UInt8]) -> Digest {
        var hasher = SHA256()
        hasher.update(data: [UInt8(0)])
        hasher.update(data: segmentSalt)
        hasher.update(bufferPointer: segment)
        return hasher.finalize().withUnsafeBytes { Digest(bytes: $0) }
    }

    /// The commitment to a whole text under `salt`.
    ///
    /// Every version of every text is committed on import, so this is a hot path: hashes are written
    /// into one flat buffer, with no array per leaf or node.
    public static func commitment(text: [UInt8], salt: [UInt8]) -> Digest {
        precondition(salt.count == saltBytes, "a text salt has \(saltBytes) bytes")
        return text.withUnsafeBytes { raw in
            let ranges = segments(of: raw)
            var nodes = [UInt8](repeating: 0, count: ranges.count * 32)
            var saltInput = salt + [0, 0, 0, 0]
            var leafPrefix = [UInt8](repeating: 0, count: 1 + saltBytes)
            nodes.withUnsafeMutableBytes { out in
                saltInput.withUnsafeMutableBytes { saltIn in
                    leafPrefix.withUnsafeMutableBytes { prefix in
                        for (i, range) in ranges.enumerated() {
                            saltIn.storeBytes(of: UInt32(truncatingIfNeeded: i).bigEndian, toByteOffset: saltBytes, as: UInt32.self)
                            sha256(UnsafeRawBufferPointer(saltIn)).withUnsafeBytes { segmentSalt in
                                UnsafeMutableRawBufferPointer(rebasing: prefix[1...]).copyMemory(from: UnsafeRawBufferPointer(rebasing: segmentSalt[..<saltBytes]))
                            }
                            var hasher = SHA256()
                            hasher.update(bufferPointer: UnsafeRawBufferPointer(prefix))
                            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[range]))
                            hasher.finalize().withUnsafeBytes { out.baseAddress!.advanced(by: 32 * i).copyMemory(from: $0.baseAddress!, byteCount: 32) }
                        }
                    }
                }
            }
            return root(flat: &nodes, count: ranges.count)
        }
    }

    @inline(__always)
    private static func sha256(_ bytes: UnsafeRawBufferPointer) -> SHA256.Digest {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        return hasher.finalize()
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
                        UnsafeMutableRawBufferPointer(rebasing: pair[1...]).copyMemory(from: UnsafeRawBufferPointer(rebasing: level[32 * i..<32 * i + 64]))
                        sha256(UnsafeRawBufferPointer(pair)).withUnsafeBytes {
                            level.baseAddress!.advanced(by: 16 * i).copyMemory(from: $0.baseAddress!, byteCount: 32)
                        }
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
