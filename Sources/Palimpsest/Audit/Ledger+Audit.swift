import Crypto
import Foundation
import LMDB

/// A statement, signed with the ledger's Ed25519 key, that the ledger's first `treeSize` events have
/// the Merkle root `rootHash` (DESIGN.md §9).
///
/// The signature covers the UTF-8 bytes of the RFC 8785 canonical JSON of
/// `{"ledgerId", "rootHash", "time", "treeSize"}` (`signedBody`), so any JSON library plus an
/// Ed25519 implementation can check it.
public struct SignedCheckpoint: Sendable, Equatable {
    /// 1 for the ledger's first checkpoint, then 2, 3 …
    public var number: UInt64
    public var ledgerID: UUID
    public var treeSize: UInt64
    public var rootHash: Digest
    public var time: Timestamp
    /// 64 bytes.
    public var signature: [UInt8]

    public var signedBody: JSONValue {
        [
            "ledgerId": .string(ledgerID.uuidString.lowercased()), "treeSize": .int(Int64(treeSize)),
            "rootHash": .string(rootHash.hex), "time": .string(time.iso8601),
        ]
    }

    /// The signed body plus `number` and `signature` (hex).
    public var json: JSONValue {
        guard case .object(var members) = signedBody else { preconditionFailure() }
        members["number"] = .int(Int64(number))
        members["signature"] = .string(Hex.encode(signature))
        return .object(members)
    }

    init(json: JSONValue) throws(LedgerError) {
        guard let number = json["number"]?.intValue, number > 0, let id = json["ledgerId"]?.stringValue.flatMap(UUID.init(uuidString:)),
            let size = json["treeSize"]?.intValue, size >= 0, let root = json["rootHash"]?.stringValue.flatMap(Digest.init(hex:)),
            let time = json["time"]?.stringValue.flatMap(Timestamp.init(iso8601:)),
            let signature = json["signature"]?.stringValue.flatMap(Hex.decode), signature.count == 64
        else { throw LedgerError(.integrity, "a stored checkpoint is damaged") }
        (self.number, ledgerID, treeSize, rootHash, self.time, self.signature) = (UInt64(number), id, UInt64(size), root, time, signature)
    }

    init(number: UInt64, ledgerID: UUID, treeSize: UInt64, rootHash: Digest, time: Timestamp, signature: [UInt8]) {
        (self.number, self.ledgerID, self.treeSize, self.rootHash, self.time, self.signature) = (number, ledgerID, treeSize, rootHash, time, signature)
    }

    /// Whether `signature` is a valid Ed25519 signature of `signedBody` by `publicKey` (32 bytes).
    public func isSigned(by publicKey: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: CanonicalJSON.encode(signedBody))
    }
}

/// An inclusion proof: the event at `position` is leaf `position − 1` of the tree of `treeSize` leaves.
public struct InclusionProof: Sendable, Equatable {
    public var position: UInt64
    public var eventHash: Digest
    public var treeSize: UInt64
    public var rootHash: Digest
    /// The audit path, nearest sibling first (RFC 9162 §2.1.3).
    public var path: [Digest]

    public var isValid: Bool {
        MerkleTree.verifyInclusion(leaf: MerkleTree.leafHash(eventHash), index: position - 1, size: treeSize, path: path, root: rootHash)
    }

    public var json: JSONValue {
        [
            "position": .int(Int64(position)), "leafIndex": .int(Int64(position - 1)), "eventHash": .string(eventHash.hex),
            "treeSize": .int(Int64(treeSize)), "rootHash": .string(rootHash.hex), "path": .array(path.map { .string($0.hex) }),
        ]
    }
}

/// A consistency proof: the tree of `oldSize` leaves is a prefix of the tree of `newSize` leaves.
public struct ConsistencyProof: Sendable, Equatable {
    public var oldSize: UInt64, newSize: UInt64
    public var oldRoot: Digest, newRoot: Digest
    public var path: [Digest]

    public var isValid: Bool {
        MerkleTree.verifyConsistency(old: oldSize, new: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: path)
    }

    public var json: JSONValue {
        [
            "oldSize": .int(Int64(oldSize)), "newSize": .int(Int64(newSize)), "oldRoot": .string(oldRoot.hex),
            "newRoot": .string(newRoot.hex), "path": .array(path.map { .string($0.hex) }),
        ]
    }
}

/// Lowercase hex, the form keys and signatures take in JSON and on the command line.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Nil unless `text` is an even number of hex digits.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let byte = UInt8(String(decoding: utf8[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            i += 2
        }
        return out
    }
}

extension Ledger {
    /// The private key's file in the ledger directory (owner-only, 0600): 64 hex digits, the Ed25519
    /// seed. Whoever can read it can sign checkpoints for this ledger.
    public static let signingKeyFile = "signing-key"

    static let publicKeyMeta = Array("publicKey".utf8)
    static let checkpointPrefix = Array("checkpoint/".utf8)

    var signingKeyPath: String { (directory as NSString).appendingPathComponent(Ledger.signingKeyFile) }

    /// Creates the ledger's Ed25519 key pair when it has none (called by `create`): the private key in
    /// `signing-key` (mode 0600, created exclusively), the public key in the ledger's metadata.
    func ensureSigningKey() throws(LedgerError) {
        if try publicKey() != nil { return }
        let key = Curve25519.Signing.PrivateKey()
        let contents = Hex.encode(Array(key.rawRepresentation)) + "\n"
        let fd = Foundation.open(signingKeyPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw LedgerError(.storage, "cannot create the signing key \(signingKeyPath): \(String(cString: strerror(errno)))")
        }
        let written = contents.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, contents.utf8.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == contents.utf8.count, synced else {
            unlink(signingKeyPath)
            throw LedgerError(.storage, "cannot write the signing key \(signingKeyPath)")
        }
        let publicKey = Array(key.publicKey.rawRepresentation)
        _ = try withWriter { txn, _ in try txn.put(tables.meta, key: Ledger.publicKeyMeta, value: publicKey) }
    }

    /// The ledger's Ed25519 public key (32 bytes), or nil for a ledger created before keys existed
    /// (`palimpsest init` on it makes one).
    public func publicKey() throws(LedgerError) -> [UInt8]? {
        try reading { txn in try txn.get(tables.meta, key: Ledger.publicKeyMeta) }
    }

    func signingKey() throws(LedgerError) -> Curve25519.Signing.PrivateKey {
        guard let publicKey = try publicKey() else {
            throw LedgerError(.notFound, "the ledger at \(directory) has no signing key; run `palimpsest init` on it to create one")
        }
        guard let contents = FileManager.default.contents(atPath: signingKeyPath) else {
            throw LedgerError(.storage, "cannot read the signing key \(signingKeyPath)")
        }
        let hex = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let seed = Hex.decode(hex), seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw LedgerError(.integrity, "the signing key \(signingKeyPath) is not 64 hex digits")
        }
        guard Array(key.publicKey.rawRepresentation) == publicKey else {
            throw LedgerError(.integrity, "the signing key \(signingKeyPath) is not the key this ledger was created with")
        }
        return key
    }

    // MARK: Checkpoints

    /// Signs and stores a checkpoint of the whole log as it is now, in both forms: the JSON statement
    /// reports cite and the C2SP signed note (`checkpointNote(number:)`).
    @discardableResult
    public func signCheckpoint(at time: Timestamp = .now()) throws(LedgerError) -> SignedCheckpoint {
        let key = try signingKey()
        return try withWriter { txn, _ in
            let size = try head(in: txn).position
            let root = try merkleRoot(size: size, in: txn)
            let number = (try checkpoints(in: txn).last?.number ?? 0) + 1
            var checkpoint = SignedCheckpoint(number: number, ledgerID: id, treeSize: size, rootHash: root, time: time, signature: [])
            checkpoint.signature = Array(try key.signature(for: CanonicalJSON.encode(checkpoint.signedBody)))
            try txn.put(tables.meta, key: Ledger.checkpointPrefix + BigEndianKey.encode(number), value: CanonicalJSON.encode(checkpoint.json))
            // The same statement as a C2SP signed note, for transparency-log tools and witnesses.
            try storeCheckpointNote(checkpoint, key: key, in: txn)
            return checkpoint
        }
    }

    /// Every signed checkpoint, oldest first.
    public func checkpoints() throws(LedgerError) -> [SignedCheckpoint] {
        try reading { txn in try checkpoints(in: txn) }
    }

    /// Checkpoint `number`, or nil.
    public func checkpoint(number: UInt64) throws(LedgerError) -> SignedCheckpoint? {
        try reading { txn in
            try txn.get(tables.meta, key: Ledger.checkpointPrefix + BigEndianKey.encode(number)).map { raw in
                try SignedCheckpoint(json: JSONParser.parse(raw))
            }
        }
    }

    func checkpoints<T: Transaction & ~Copyable>(in txn: borrowing T) throws -> [SignedCheckpoint] {
        var result: [SignedCheckpoint] = []
        try txn.scan(tables.meta, from: Ledger.checkpointPrefix) { key, value in
            guard key.starts(with: Ledger.checkpointPrefix) else { return false }
            result.append(try SignedCheckpoint(json: JSONParser.parse(value)))
            return true
        }
        return result
    }

    // MARK: The Merkle tree

    /// The Merkle root of the first `size` events.
    public func merkleRoot(size: UInt64) throws(LedgerError) -> Digest {
        try reading { txn in try merkleRoot(size: size, in: txn) }
    }

    /// Proves that the event at `position` is in the tree of the first `treeSize` events.
    public func inclusionProof(position: UInt64, treeSize: UInt64) throws(LedgerError) -> InclusionProof {
        try reading { txn in
            let head = try head(in: txn).position
            guard treeSize <= head else { throw LedgerError(.notFound, "the ledger has \(head) events, not \(treeSize)") }
            guard position >= 1, position <= treeSize else {
                throw LedgerError(.notFound, "position \(position) is not among the first \(treeSize) events")
            }
            guard let event = try event(at: position, in: txn) else { throw LedgerError(.integrity, "the log has no event at position \(position)") }
            let needed = MerkleTree.Recorder()
            _ = try MerkleTree.inclusionProof(index: position - 1, size: treeSize, needed.record)
            let nodes = try subtrees(needed.keys, in: txn)
            let path = try MerkleTree.inclusionProof(index: position - 1, size: treeSize, nodes.lookup)
            return InclusionProof(position: position, eventHash: event.hash, treeSize: treeSize, rootHash: try merkleRoot(size: treeSize, in: txn), path: path)
        }
    }

    /// Proves that the tree of the first `oldSize` events is a prefix of the tree of the first `newSize`.
    public func consistencyProof(oldSize: UInt64, newSize: UInt64) throws(LedgerError) -> ConsistencyProof {
        try reading { txn in
            let head = try head(in: txn).position
            guard newSize <= head else { throw LedgerError(.notFound, "the ledger has \(head) events, not \(newSize)") }
            guard oldSize <= newSize else { throw LedgerError(.invalidInput, "the old tree size \(oldSize) is larger than the new one, \(newSize)") }
            let needed = MerkleTree.Recorder()
            _ = try MerkleTree.consistencyProof(old: oldSize, new: newSize, needed.record)
            let nodes = try subtrees(needed.keys, in: txn)
            return ConsistencyProof(
                oldSize: oldSize, newSize: newSize, oldRoot: try merkleRoot(size: oldSize, in: txn), newRoot: try merkleRoot(size: newSize, in: txn),
                path: try MerkleTree.consistencyProof(old: oldSize, new: newSize, nodes.lookup))
        }
    }

    func merkleRoot<T: Transaction & ~Copyable>(size: UInt64, in txn: borrowing T) throws -> Digest {
        let needed = MerkleTree.Recorder()
        _ = try MerkleTree.root(size: size, needed.record)
        return try MerkleTree.root(size: size, try subtrees(needed.keys, in: txn).lookup)
    }

    var merkleTables: ProjectionTables? {
        projections.first { $0.projection.name == MerkleProjection.name }?.live
    }

    /// Reads the perfect subtrees an algorithm asked for: leaves from the log, inner nodes from the
    /// Merkle projection. (Looked up in two passes so no closure has to capture the transaction.)
    func subtrees<T: Transaction & ~Copyable>(_ keys: Set<MerkleTree.SubtreeKey>, in txn: borrowing T) throws -> MerkleTree.Subtrees {
        guard let nodes = merkleTables?["nodes"] else {
            throw LedgerError(.storage, "the Merkle tree has never been built in the read-only ledger at \(directory); open it once with write access")
        }
        var found: [MerkleTree.SubtreeKey: Digest] = [:]
        for key in keys {
            if key.level == 0 {
                guard let event = try event(at: key.index + 1, in: txn) else {
                    throw LedgerError(.integrity, "the log has no event at position \(key.index + 1)")
                }
                found[key] = MerkleTree.leafHash(event.hash)
            } else {
                guard let value = try txn.get(nodes, key: MerkleProjection.key(level: key.level, index: key.index)), value.count == 32 else {
                    throw LedgerError(.integrity, "the Merkle tree has no node at level \(key.level), index \(key.index); `palimpsest replay --rebuild merkle` rebuilds it")
                }
                found[key] = Digest(bytes: value)
            }
        }
        return MerkleTree.Subtrees(nodes: found)
    }
}

extension MerkleTree {
    public struct SubtreeKey: Hashable, Sendable {
        public var level: Int
        public var index: UInt64
    }

    /// Notes which perfect subtrees an algorithm asks for (answering with a placeholder).
    final class Recorder {
        var keys = Set<SubtreeKey>()
        func record(_ level: Int, _ index: UInt64) -> Digest {
            keys.insert(SubtreeKey(level: level, index: index))
            return .zero
        }
    }

    /// Perfect subtrees read beforehand.
    struct Subtrees {
        let nodes: [SubtreeKey: Digest]
        func lookup(_ level: Int, _ index: UInt64) throws -> Digest {
            guard let node = nodes[SubtreeKey(level: level, index: index)] else {
                throw LedgerError(.integrity, "the Merkle tree lookup of level \(level), index \(index) was not prepared")
            }
            return node
        }
    }
}
