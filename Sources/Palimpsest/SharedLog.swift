import Foundation
import TextPacking

/// A log several machines append to (DESIGN.md §10), of which this ledger is a local replica. The
/// shared log holds the one total order: positions, the hash chain and recorded times are given
/// under its write lock. The replica checks and builds everything else (texts, projections) itself.
///
/// A ledger opened with `Options.sharedLog` appends through it: at the first new event of a write
/// transaction it takes the shared log's lock (`beginAppend`), copies in whatever other writers
/// appended since (checking every hash, as `replicate` does), then validates and hashes its own
/// events exactly as a lone ledger would, and writes them to the shared log before its own commit.
/// If the shared log refuses or fails, the local transaction is abandoned too: the replica never
/// holds an event the shared log does not.
public protocol SharedLog: AnyObject, Sendable {
    /// Who the shared ledger is: every replica carries the same ID, origin and public key.
    var identity: SharedLedgerIdentity { get }
    /// Takes the shared log's write lock (held until the session commits or rolls back).
    func beginAppend() throws(LedgerError) -> any SharedAppendSession
    /// Up to `limit` events after `position`, in order, read without the lock (a writer copies most
    /// of what others appended this way, so that the part of its append under the lock is short).
    func events(after position: UInt64, limit: Int) throws(LedgerError) -> [SharedLogRow]
}

/// A shared ledger's identity, which its replicas carry: checkpoints name the ID and are signed with
/// the key whose public half this is (the private half stays on the machine that signs them).
public struct SharedLedgerIdentity: Sendable, Equatable {
    public var id: UUID
    public var origin: String
    public var publicKey: [UInt8]
    public init(id: UUID, origin: String, publicKey: [UInt8]) { (self.id, self.origin, self.publicKey) = (id, origin, publicKey) }
}

/// One locked append to a shared log.
public protocol SharedAppendSession: AnyObject {
    /// The shared log's clock when the lock was taken: events of this session are recorded at it.
    var clock: Timestamp { get }
    /// Up to `limit` events after `position`, in order (empty when there are none).
    func events(after position: UInt64, limit: Int) throws(LedgerError) -> [SharedLogRow]
    /// Writes the records, moves the shared head and makes them durable; releases the lock. When it
    /// throws, none of them is in the shared log.
    func commit(_ records: [SharedLogRecord]) throws(LedgerError)
    /// Releases the lock; nothing is written.
    func rollback()
}

/// An event as a shared log stores it: its export line without the text (canonical JSON), and the
/// text, deflated and, when the document had a text before, as a delta against it.
public struct SharedLogRow: Sendable {
    public var position: UInt64
    public var envelope: [UInt8]
    public var textRecord: [UInt8]?
    /// The hash the store keeps beside the row (its indexed column), when it keeps one: it must be
    /// the hash the envelope states.
    public var hash: Digest?

    public init(position: UInt64, envelope: [UInt8], textRecord: [UInt8]?, hash: Digest? = nil) {
        (self.position, self.envelope, self.textRecord, self.hash) = (position, envelope, textRecord, hash)
    }
}

/// An event a replica appended, ready for the shared log: the event (for its columns) and its row.
public struct SharedLogRecord: Sendable {
    public let event: RecordedEvent
    public let row: SharedLogRow
    /// The hash of the text the record's delta is taken against, if it is a delta.
    public let deltaBase: Digest?
}

/// The shared log's row format, written and read by this module alone so that every store (the
/// PostgreSQL log, a test's) carries the same bytes.
public enum SharedLogCodec {
    enum TextFormat: UInt8 { case deflated = 0, deflatedDelta = 1 }

    /// The row of `event` with `text`; `base` is the document's previous text, when it had one.
    public static func record(_ event: RecordedEvent, text: [UInt8]?, base: (hash: Digest, text: [UInt8])?) -> SharedLogRecord {
        var envelope: [UInt8] = []
        var json = event.json(includingHash: true, payload: text.map { _ in event.exportPayload(text: "") })
        if case .object(var o) = json {
            o.removeValue(forKey: "text")
            json = .object(o)
        }
        CanonicalJSON.write(json, into: &envelope)
        var textRecord: [UInt8]? = nil
        var usedBase: Digest? = nil
        if let text {
            // The whole text deflated, computed once and only when the delta is not clearly smaller.
            var full: [UInt8]? = nil
            // A delta against the previous version is almost always far smaller: try it first, and
            // deflate the whole text only when the delta is not clearly worth it.
            if let base {
                let rawDelta = Delta.encode(base: base.text, target: text)
                let delta = Deflate.compress(rawDelta, level: 1)
                if delta.count * 4 >= text.count { full = Deflate.compress(text) }
                if delta.count * 4 < text.count || delta.count + 40 < full!.count {
                    var record: [UInt8] = [TextFormat.deflatedDelta.rawValue]
                    writeVarint(UInt64(text.count), into: &record)
                    record += base.hash.bytes
                    writeVarint(UInt64(rawDelta.count), into: &record)
                    record += delta
                    textRecord = record
                    usedBase = base.hash
                }
            }
            if textRecord == nil {
                var record: [UInt8] = [TextFormat.deflated.rawValue]
                writeVarint(UInt64(text.count), into: &record)
                record += full ?? Deflate.compress(text)
                textRecord = record
            }
        }
        return SharedLogRecord(event: event, row: SharedLogRow(position: event.position, envelope: envelope, textRecord: textRecord), deltaBase: usedBase)
    }

    /// The event and text of a row; `knownText` gives a delta's base (a text stored before it).
    public static func decode(_ row: SharedLogRow, knownText: (Digest) throws -> [UInt8]?) throws(LedgerError) -> (event: RecordedEvent, text: String?) {
        let object: [String: JSONValue]
        do {
            guard case .object(let o) = try JSONParser.parse(row.envelope) else { throw LedgerError(.integrity, "not an object") }
            object = o
        } catch {
            throw LedgerError(.integrity, "the shared log's event at position \(row.position) is not a JSON object")
        }
        var text: String? = nil
        var members = object
        if let record = row.textRecord {
            let bytes = try decodeText(record, position: row.position, knownText: knownText)
            let decoded = String(decoding: bytes, as: UTF8.self)
            members["text"] = .string(decoded)
            text = decoded
        }
        let line: ImportLine
        do {
            line = try ImportLine.decode(.object(members))
        } catch {
            throw LedgerError(.integrity, "the shared log's event at position \(row.position) cannot be read: \(error.message)")
        }
        guard case .recorded(let event, _) = line, event.position == row.position else {
            throw LedgerError(.integrity, "the shared log's row at position \(row.position) holds another position's event")
        }
        if let hash = row.hash, hash != event.hash {
            throw LedgerError(.integrity, "the shared log's row at position \(row.position) does not match its event: the hash beside it is \(hash.hex), the event states \(event.hash.hex)")
        }
        return (event, text)
    }

    static func decodeText(_ record: [UInt8], position: UInt64, knownText: (Digest) throws -> [UInt8]?) throws(LedgerError) -> [UInt8] {
        func damaged(_ why: String) -> LedgerError { LedgerError(.integrity, "the text of the shared log's event at position \(position) \(why)") }
        guard let first = record.first, let format = TextFormat(rawValue: first) else { throw damaged("has an unknown format") }
        var offset = 1
        guard let size = readVarint(record, at: &offset), size <= UInt64(Ledger.maximumTextBytes) else { throw damaged("has a bad length") }
        do {
            switch format {
            case .deflated:
                return try record.withUnsafeBytes { try Deflate.decompress(UnsafeRawBufferPointer(rebasing: $0[offset...]), size: Int(size)) }
            case .deflatedDelta:
                guard record.count >= offset + 32 else { throw damaged("is cut short") }
                let baseHash = Digest(bytes: Array(record[offset..<offset + 32]))
                let knownBase: [UInt8]?
                do { knownBase = try knownText(baseHash) } catch { throw damaged("needs the text \(baseHash.hex), which cannot be read: \(error)") }
                guard let base = knownBase else { throw damaged("is a delta against the text \(baseHash.hex), which is not stored before it") }
                offset += 32
                guard let deltaSize = readVarint(record, at: &offset), deltaSize <= UInt64(Ledger.maximumTextBytes) * 2 else { throw damaged("has a bad delta length") }
                let delta = try record.withUnsafeBytes { try Deflate.decompress(UnsafeRawBufferPointer(rebasing: $0[offset...]), size: Int(deltaSize)) }
                return try delta.withUnsafeBytes { try Delta.apply($0, to: base, size: Int(size)) }
            }
        } catch let error as LedgerError {
            throw error
        } catch {
            throw damaged("cannot be decoded (\(error))")
        }
    }

    private static func readVarint(_ bytes: [UInt8], at offset: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let b = bytes[offset]
            offset += 1
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}

/// The shared session of one write transaction: opened at its first new event, committed or rolled
/// back by `withWriter`.
final class SharedSessionSlot {
    var session: (any SharedAppendSession)?
    var records: [SharedLogRecord] = []
}

// MARK: Catching up without the lock

extension Ledger {
    /// Copies the events other writers appended to the shared log since this replica last caught
    /// up, without taking the shared log's lock; each is checked as `replicate` checks it.
    func catchUpWithSharedLog() throws(LedgerError) {
        guard let log = sharedLog else { return }
        // Nothing new (the usual case for a lone writer): no local transaction, no extra commit.
        var first = try log.events(after: try head().position, limit: 1000)
        guard !first.isEmpty else { return }
        try withWriter(sequenced: false) { txn, writer in
            while try writer.copy(from: { position in
                if let row = first.first, row.position == position + 1 { defer { first = [] }; return first }
                return try log.events(after: position, limit: 1000)
            }, in: txn) {}
        }
    }
}

// MARK: Checkpoints of a shared ledger

extension Ledger {
    /// Checkpoint `number` as stored: the canonical JSON statement and the signed note's text (nil
    /// for a checkpoint signed before notes existed). What a replica copies, byte for byte.
    public func storedCheckpoint(number: UInt64) throws(LedgerError) -> (statement: [UInt8], note: String?)? {
        try reading { txn in
            guard let statement = try txn.get(tables.meta, key: Ledger.checkpointPrefix + BigEndianKey.encode(number)) else { return nil }
            let note = try txn.get(tables.meta, key: Ledger.checkpointNotePrefix + BigEndianKey.encode(number)).map { String(decoding: $0, as: UTF8.self) }
            return (statement, note)
        }
    }

    /// Stores a checkpoint the shared ledger's signer made, after checking it as a verifier would:
    /// the next number, this ledger's ID, signed with this ledger's public key, and the Merkle root
    /// of this replica's first `treeSize` events (which it must already hold). A checkpoint already
    /// stored with the same bytes is a no-op.
    public func storeSignedCheckpoint(statement: [UInt8], note: String?) throws(LedgerError) {
        let checkpoint: SignedCheckpoint
        do {
            checkpoint = try SignedCheckpoint(json: try JSONParser.parse(statement))
        } catch {
            throw LedgerError(.integrity, "a shared checkpoint is not a checkpoint statement")
        }
        guard let key = try publicKey(), checkpoint.isSigned(by: key) else {
            throw LedgerError(.integrity, "checkpoint \(checkpoint.number) of the shared ledger is not signed by the ledger's key")
        }
        guard checkpoint.ledgerID == id else {
            throw LedgerError(.integrity, "checkpoint \(checkpoint.number) names the ledger \(checkpoint.ledgerID.uuidString.lowercased()), not this one")
        }
        if let note {
            guard let parsed = try? SignedNote.Note(parsing: note),
                parsed.body == SignedNote.checkpointBody(origin: try origin(), treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash)
            else {
                throw LedgerError(.integrity, "the signed note of checkpoint \(checkpoint.number) does not state the checkpoint's tree")
            }
        }
        _ = try withWriter(sequenced: false) { txn, _ in
            let key = Ledger.checkpointPrefix + BigEndianKey.encode(checkpoint.number)
            if let existing = try txn.get(tables.meta, key: key) {
                guard existing == statement else {
                    throw LedgerError(.integrity, "checkpoint \(checkpoint.number) of the shared ledger differs from the one this replica holds")
                }
                return
            }
            let last = try checkpoints(in: txn).last?.number ?? 0
            guard checkpoint.number == last + 1 else {
                throw LedgerError(.integrity, "the shared ledger's checkpoint \(checkpoint.number) does not follow this replica's checkpoint \(last)")
            }
            guard checkpoint.treeSize <= (try head(in: txn).position) else {
                throw LedgerError(.integrity, "checkpoint \(checkpoint.number) covers \(checkpoint.treeSize) events; this replica holds fewer")
            }
            guard try merkleRoot(size: checkpoint.treeSize, in: txn) == checkpoint.rootHash else {
                throw LedgerError(.integrity, "checkpoint \(checkpoint.number) of the shared ledger does not match this replica's first \(checkpoint.treeSize) events (Merkle root differs)")
            }
            try txn.put(tables.meta, key: key, value: statement)
            if let note {
                try txn.put(tables.meta, key: Ledger.checkpointNotePrefix + BigEndianKey.encode(checkpoint.number), value: Array(note.utf8))
            }
        }
    }
}
