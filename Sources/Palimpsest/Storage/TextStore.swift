import LMDB
import TextPacking

/// Content-addressed text storage (`texts` database, key = SHA-256 of the text).
///
/// A text is stored once however many events or documents carry it. A new version of a document
/// is stored as a delta against the document's previous text (deflated when that helps), with a full
/// compressed copy every `maxChainDepth` versions so that reading any version applies a bounded
/// number of deltas: how git's packs keep a long history at about the size of its changes.
struct TextStore {
    let db: Database

    /// Longest delta chain; reading a text applies at most this many deltas.
    static let maxChainDepth = 128
    /// Below this, compressing is not worth its header.
    static let compressionThreshold = 64

    /// One record on the way down a delta chain.
    private enum Step { case full([UInt8]), delta(base: Digest, size: Int, delta: [UInt8]) }

    enum Format: UInt8 {
        case raw = 0, deflated = 1, delta = 2, deflatedDelta = 3
        var isDelta: Bool { self == .delta || self == .deflatedDelta }
    }

    /// Stores `text` under `hash` unless it is already there. `bases` are texts a delta may be taken
    /// against (the document's previous version first; for a new document, texts it may have been
    /// copied or renamed from); the smallest delta wins. Returns the stored size, or nil when the text
    /// was already present.
    @discardableResult
    func store(
        _ text: [UInt8], hash: Digest, bases: [(hash: Digest, text: [UInt8])], in txn: borrowing WriteTransaction
    ) throws -> Int? {
        if try txn.contains(db, key: hash.bytes) { return nil }
        var record = RecordWriter(capacity: 64)
        var best: (base: Digest, depth: Int, delta: [UInt8])? = nil
        for base in bases where base.hash != hash {
            guard let baseDepth = try depth(of: base.hash, in: txn), baseDepth + 1 < Self.maxChainDepth else { continue }
            let delta = Delta.encode(base: base.text, target: text)
            if delta.count <= text.count / 2, delta.count < best?.delta.count ?? Int.max {
                best = (base.hash, baseDepth + 1, delta)
            }
        }
        if let best {
            let delta = best.delta
            let packed = delta.count > Self.compressionThreshold ? Deflate.compress(delta) : nil
            let useDeflate = packed.map { $0.count < delta.count } ?? false
            record.byte(useDeflate ? Format.deflatedDelta.rawValue : Format.delta.rawValue)
            record.varint(UInt64(text.count))
            record.digest(best.base)
            record.byte(UInt8(best.depth))
            if useDeflate { record.varint(UInt64(delta.count)) }
            record.raw(useDeflate ? packed! : delta)
            try txn.put(db, key: hash.bytes, value: record.bytes)
            return record.bytes.count
        }
        let packed = text.count > Self.compressionThreshold ? Deflate.compress(text) : nil
        let useDeflate = packed.map { $0.count < text.count } ?? false
        record.byte(useDeflate ? Format.deflated.rawValue : Format.raw.rawValue)
        record.varint(UInt64(text.count))
        record.raw(useDeflate ? packed! : text)
        try txn.put(db, key: hash.bytes, value: record.bytes)
        return record.bytes.count
    }

    /// The chain depth of a stored text (0 for a full copy), or nil when it is not stored.
    func depth<T: Transaction & ~Copyable>(of hash: Digest, in txn: borrowing T) throws -> Int? {
        try txn.withValue(db, key: hash.bytes) { value -> Int in
            var r = RecordReader(value)
            guard let format = Format(rawValue: try r.byte()) else { throw damaged(hash) }
            guard format.isDelta else { return 0 }
            _ = try r.varint()
            _ = try r.raw(32)
            return Int(try r.byte())
        }
    }

    func contains<T: Transaction & ~Copyable>(_ hash: Digest, in txn: borrowing T) throws -> Bool {
        try txn.contains(db, key: hash.bytes)
    }

    /// The text stored under `hash`, or nil when there is none.
    func load<T: Transaction & ~Copyable>(_ hash: Digest, in txn: borrowing T) throws -> [UInt8]? {
        // Walk down the delta chain to a full copy, then apply the deltas on the way back up.
        var pending: [(hash: Digest, size: Int, delta: [UInt8])] = []
        var current = hash
        var text: [UInt8]
        while true {
            let step: Step? = try txn.withValue(db, key: current.bytes) { value -> Step in
                do {
                    var r = RecordReader(value)
                    guard let format = Format(rawValue: try r.byte()) else { throw damaged(current) }
                    let size = Int(try r.varint())
                    switch format {
                    case .raw:
                        return .full(Array(try r.raw(size)))
                    case .deflated:
                        return .full(try Deflate.decompress(try r.raw(value.count - r.p), size: size))
                    case .delta:
                        let base = try r.digest()
                        _ = try r.byte()
                        return .delta(base: base, size: size, delta: Array(try r.raw(value.count - r.p)))
                    case .deflatedDelta:
                        let base = try r.digest()
                        _ = try r.byte()
                        let deltaSize = Int(try r.varint())
                        let delta = try Deflate.decompress(try r.raw(value.count - r.p), size: deltaSize)
                        return .delta(base: base, size: size, delta: delta)
                    }
                } catch is RecordReader.Damaged {
                    throw damaged(current)
                } catch let failure as Deflate.Failure {
                    throw LedgerError(.integrity, "the stored text \(current.hex) is damaged: \(failure)")
                }
            }
            guard let step else {
                if pending.isEmpty { return nil }
                throw LedgerError(.integrity, "the stored text \(pending.last!.hash.hex) is a delta against \(current.hex), which is missing")
            }
            switch step {
            case .full(let bytes):
                text = bytes
            case .delta(let base, let size, let delta):
                guard pending.count <= Self.maxChainDepth else {
                    throw LedgerError(.integrity, "the stored text \(hash.hex) has a delta chain longer than \(Self.maxChainDepth)")
                }
                pending.append((current, size, delta))
                current = base
                continue
            }
            break
        }
        for link in pending.reversed() {
            do {
                text = try link.delta.withUnsafeBytes { try Delta.apply($0, to: text, size: link.size) }
            } catch {
                throw LedgerError(.integrity, "the stored text \(link.hash.hex) is damaged: \(error)")
            }
        }
        return text
    }

    private func damaged(_ hash: Digest) -> LedgerError {
        LedgerError(.integrity, "the stored text \(hash.hex) is damaged and cannot be read")
    }
}
