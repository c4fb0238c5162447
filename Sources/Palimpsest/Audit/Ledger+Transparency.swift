import Crypto
import Foundation
import LMDB

/// The ledger as a C2SP transparency log: its origin, its checkpoints as signed notes, the witnesses
/// it trusts and their cosignatures, and the Merkle tree read as tlog-tiles (256 hashes per tile).
///
/// Layout (all in the `meta` table, owned here): `origin` → the origin line; `checkpoint-note/N` →
/// checkpoint N as a signed note (written by `signCheckpoint` in the same transaction);
/// `witness/NAME` → a witness's verifier key; `cosignature/N/NAME` → that witness's key ID ‖
/// timestamp ‖ signature over checkpoint N (76 bytes), stored only once verified.
extension Ledger {
    static let originMeta = Array("origin".utf8)
    static let checkpointNotePrefix = Array("checkpoint-note/".utf8)
    static let witnessPrefix = Array("witness/".utf8)
    static let cosignaturePrefix = Array("cosignature/".utf8)

    /// Hashes per tile (tlog-tiles: height 8).
    public static let tileWidth = 256

    // MARK: Origin

    /// The log's origin (the first line of its checkpoints, and the name of its key): the one given at
    /// `init` or to `checkpoint`, else `palimpsest/<ledger ID>`.
    public func origin() throws(LedgerError) -> String {
        try reading { txn in try origin(in: txn) }
    }

    func origin<T: Transaction & ~Copyable>(in txn: borrowing T) throws -> String {
        try txn.get(tables.meta, key: Ledger.originMeta).map { String(decoding: $0, as: UTF8.self) }
            ?? "palimpsest/\(id.uuidString.lowercased())"
    }

    /// Names the log's origin. Refused once a checkpoint note has been signed under another one: the
    /// origin identifies the log to its witnesses and cannot change under them.
    public func setOrigin(_ origin: String) throws(LedgerError) {
        guard SignedNote.isValidKeyName(origin) else {
            throw LedgerError(.invalidInput, "the origin \"\(origin)\" must be non-empty, at most 255 bytes, without spaces or \"+\"")
        }
        try withWriter { txn, _ in
            let current = try self.origin(in: txn)
            if current == origin { return }
            var signed = false
            try txn.scan(tables.meta, from: Ledger.checkpointNotePrefix) { key, _ in
                signed = key.starts(with: Ledger.checkpointNotePrefix)
                return false
            }
            if signed {
                throw LedgerError(.conflict, "the ledger's checkpoints are already signed under the origin \"\(current)\"; it cannot become \"\(origin)\"")
            }
            try txn.put(tables.meta, key: Ledger.originMeta, value: Array(origin.utf8))
        }
    }

    /// The ledger's verifier key in the signed-note text form, `origin+keyID+base64(0x01 ‖ key)`.
    public func noteVerifierKey() throws(LedgerError) -> String? {
        guard let key = try publicKey() else { return nil }
        return SignedNote.verifierKey(name: try origin(), publicKey: key)
    }

    // MARK: Checkpoints as notes

    /// Signs checkpoint `checkpoint` as a C2SP note and stores it (called by `signCheckpoint`).
    func storeCheckpointNote(_ checkpoint: SignedCheckpoint, key: Curve25519.Signing.PrivateKey, in txn: borrowing WriteTransaction) throws {
        let origin = try origin(in: txn)
        let body = SignedNote.checkpointBody(origin: origin, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash)
        let signature = Array(try key.signature(for: Array(body.utf8)))
        let keyID = SignedNote.keyID(name: origin, algorithm: SignedNote.ed25519, publicKey: Array(key.publicKey.rawRepresentation))
        let note = SignedNote.Note(body: body, signatures: [SignedNote.Signature(name: origin, keyID: keyID, payload: signature)])
        try txn.put(tables.meta, key: Ledger.checkpointNotePrefix + BigEndianKey.encode(checkpoint.number), value: Array(note.text.utf8))
    }

    /// Checkpoint `number` as a signed note, with the witnesses' verified cosignatures after the
    /// ledger's own signature; nil for a checkpoint signed before notes existed.
    public func checkpointNote(number: UInt64) throws(LedgerError) -> SignedNote.Note? {
        try reading { txn in
            guard let raw = try txn.get(tables.meta, key: Ledger.checkpointNotePrefix + BigEndianKey.encode(number)) else { return nil }
            var note = try SignedNote.Note(parsing: String(decoding: raw, as: UTF8.self))
            note.signatures += try cosignatures(number: number, in: txn).map(\.signatureLine)
            return note
        }
    }

    /// The latest checkpoint that has a signed note, and the note.
    public func latestCheckpointNote() throws(LedgerError) -> (checkpoint: SignedCheckpoint, note: SignedNote.Note)? {
        for checkpoint in try checkpoints().reversed() {
            if let note = try checkpointNote(number: checkpoint.number) { return (checkpoint, note) }
        }
        return nil
    }

    // MARK: Witnesses

    /// Trusts a witness: its cosignatures (`cosignature/v1`, key algorithm 4) will be accepted.
    public func addWitness(_ key: SignedNote.VerifierKey) throws(LedgerError) {
        guard key.algorithm == SignedNote.cosignatureV1 else {
            throw LedgerError(.invalidInput, "the witness key \"\(key.name)\" is of algorithm \(key.algorithm); witnesses sign cosignature/v1 (algorithm 4)")
        }
        try withWriter { txn, _ in
            try txn.put(tables.meta, key: Ledger.witnessPrefix + Array(key.name.utf8), value: Array(key.text.utf8))
        }
    }

    /// The trusted witnesses, by name.
    public func witnesses() throws(LedgerError) -> [SignedNote.VerifierKey] {
        try reading { txn in
            var keys: [SignedNote.VerifierKey] = []
            try txn.scan(tables.meta, from: Ledger.witnessPrefix) { key, value in
                guard key.starts(with: Ledger.witnessPrefix) else { return false }
                keys.append(try SignedNote.VerifierKey(parsing: String(decoding: value, as: UTF8.self)))
                return true
            }
            return keys
        }
    }

    /// Verifies and stores the cosignatures a witness sent back: `note` is one of the ledger's
    /// checkpoint notes (its body byte for byte) carrying signature lines; every line from a trusted
    /// witness must verify, lines from others are ignored. Returns the checkpoint's number and the
    /// cosignatures stored.
    @discardableResult
    public func addCosignatures(_ note: SignedNote.Note) throws(LedgerError) -> (checkpoint: UInt64, added: [SignedNote.Cosignature]) {
        let witnesses = Dictionary(try witnesses().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard !witnesses.isEmpty else {
            throw LedgerError(.invalidInput, "the ledger trusts no witness yet; add one with `palimpsest checkpoint --add-witness KEY`")
        }
        return try withWriter { txn, _ in
            var number: UInt64?
            try txn.scan(tables.meta, from: Ledger.checkpointNotePrefix) { key, value in
                guard key.starts(with: Ledger.checkpointNotePrefix) else { return false }
                if let stored = try? SignedNote.Note(parsing: String(decoding: value, as: UTF8.self)), stored.body == note.body {
                    number = BigEndianKey.decode(Array(key.dropFirst(Ledger.checkpointNotePrefix.count)))
                    return false
                }
                return true
            }
            guard let number else {
                throw LedgerError(.notFound, "the cosigned note's text is not one of this ledger's checkpoints")
            }
            var added: [SignedNote.Cosignature] = []
            for line in note.signatures {
                guard let witness = witnesses[line.name], witness.keyID == line.keyID else { continue }
                guard let cosignature = SignedNote.Cosignature(line), cosignature.isValid(for: note.body, key: witness) else {
                    throw LedgerError(.invalidInput, "the cosignature of \(line.name) on checkpoint \(number) does not verify with its key; nothing was stored")
                }
                try txn.put(tables.meta, key: cosignatureKey(number, line.name), value: line.keyID + line.payload)
                added.append(cosignature)
            }
            guard !added.isEmpty else {
                throw LedgerError(.invalidInput, "the note carries no cosignature from a trusted witness (trusted: \(witnesses.keys.sorted().joined(separator: ", ")))")
            }
            return (number, added)
        }
    }

    func cosignatureKey(_ number: UInt64, _ witness: String) -> [UInt8] {
        Ledger.cosignaturePrefix + BigEndianKey.encode(number) + Array("/\(witness)".utf8)
    }

    /// The verified cosignatures of checkpoint `number`, by witness name.
    public func cosignatures(number: UInt64) throws(LedgerError) -> [SignedNote.Cosignature] {
        try reading { txn in try cosignatures(number: number, in: txn) }
    }

    func cosignatures<T: Transaction & ~Copyable>(number: UInt64, in txn: borrowing T) throws -> [SignedNote.Cosignature] {
        let prefix = Ledger.cosignaturePrefix + BigEndianKey.encode(number) + [UInt8(ascii: "/")]
        var result: [SignedNote.Cosignature] = []
        try txn.scan(tables.meta, from: prefix) { key, value in
            guard key.starts(with: prefix) else { return false }
            let line = SignedNote.Signature(name: String(decoding: key.dropFirst(prefix.count), as: UTF8.self), keyID: Array(value.prefix(4)), payload: Array(value.dropFirst(4)))
            guard let cosignature = SignedNote.Cosignature(line) else {
                throw LedgerError(.integrity, "the stored cosignature of checkpoint \(number) by \(line.name) is damaged")
            }
            result.append(cosignature)
            return true
        }
        return result
    }

    // MARK: Tiles

    /// The hashes of tile `index` at tile level `level` (tlog-tiles): the tree's nodes at height
    /// 8·level, indices index·256 ..< index·256 + width. Nil when the log does not have them all yet.
    public func tileHashes(level: Int, index: UInt64, width: Int) throws(LedgerError) -> [Digest]? {
        guard level >= 0, level < 8, width >= 1, width <= Ledger.tileWidth else { return nil }
        let height = 8 * level
        let first = index &* UInt64(Ledger.tileWidth)
        guard index < UInt64.max / UInt64(Ledger.tileWidth) else { return nil }
        return try reading { txn in
            let size = try head(in: txn).position
            guard (first + UInt64(width)) <= size >> UInt64(height) else { return nil }
            if level == 0 {
                return try eventHashes(from: first + 1, count: width, in: txn).map(MerkleTree.leafHash)
            }
            guard let nodes = merkleTables?["nodes"] else {
                throw LedgerError(.storage, "the Merkle tree has never been built in the read-only ledger at \(directory); open it once with write access")
            }
            var hashes: [Digest] = []
            hashes.reserveCapacity(width)
            let start = MerkleProjection.key(level: height, index: first)
            try txn.scan(nodes, from: start) { key, value in
                guard key.first == UInt8(height), value.count == 32 else { return false }
                hashes.append(Digest(bytes: value))
                return hashes.count < width
            }
            guard hashes.count == width else {
                throw LedgerError(.integrity, "the Merkle tree lacks nodes of level \(height) from index \(first); `palimpsest replay --rebuild merkle` rebuilds it")
            }
            return hashes
        }
    }

    /// The entries of tile `index` (tlog-tiles' data tiles): the 32-byte hashes of events
    /// index·256 + 1 … index·256 + width. Nil when the log does not have them all yet.
    public func tileEntries(index: UInt64, width: Int) throws(LedgerError) -> [Digest]? {
        guard width >= 1, width <= Ledger.tileWidth, index < UInt64.max / UInt64(Ledger.tileWidth) else { return nil }
        let first = index * UInt64(Ledger.tileWidth)
        return try reading { txn in
            guard first + UInt64(width) <= (try head(in: txn).position) else { return nil }
            return try eventHashes(from: first + 1, count: width, in: txn)
        }
    }

    func eventHashes<T: Transaction & ~Copyable>(from position: UInt64, count: Int, in txn: borrowing T) throws -> [Digest] {
        var hashes: [Digest] = []
        hashes.reserveCapacity(count)
        for p in position..<position + UInt64(count) {
            guard let event = try event(at: p, in: txn) else { throw LedgerError(.integrity, "the log has no event at position \(p)") }
            hashes.append(event.hash)
        }
        return hashes
    }
}
