import LMDB

/// Keeps the Merkle tree over event hashes (RFC 9162) as events are appended: every completed inner
/// node, keyed by level (1 byte) ‖ index (8, big-endian). Leaves are not stored: a leaf is the hash of
/// an event's hash, which the log has.
///
/// A node completes when the appended leaf is a right child; its left sibling leaf is the previous
/// event, whose hash the new event carries as `previousHash`, and every higher left sibling is a
/// stored node. So the fold depends on nothing but the event and its own table, about one write per
/// event.
///
/// Always maintained, whatever `Ledger.Options.builtInProjections` says: checkpoints and proofs need it.
struct MerkleProjection: Projection {
    static let name = "merkle"
    var name: String { Self.name }
    var version: UInt64 { 1 }
    var tableNames: [String] { ["nodes"] }
    var needsText: Bool { false }

    static func key(level: Int, index: UInt64) -> [UInt8] {
        [UInt8(level)] + BigEndianKey.encode(index)
    }

    func apply(_ event: RecordedEvent, text: String?, tables: ProjectionTables, in txn: borrowing WriteTransaction) throws {
        let leafIndex = event.position - 1
        guard leafIndex & 1 == 1 else { return }
        let nodes = tables["nodes"]
        var node = MerkleTree.nodeHash(MerkleTree.leafHash(event.previousHash), MerkleTree.leafHash(event.hash))
        var level = 1
        var index = leafIndex >> 1
        while true {
            try txn.put(nodes, key: Self.key(level: level, index: index), value: node.bytes)
            guard index & 1 == 1 else { return }
            guard let left = try txn.get(nodes, key: Self.key(level: level, index: index - 1)), left.count == 32 else {
                throw LedgerError(.integrity, "the Merkle tree has no node at level \(level), index \(index - 1), below position \(event.position)")
            }
            node = MerkleTree.nodeHash(Digest(bytes: left), node)
            level += 1
            index >>= 1
        }
    }
}
