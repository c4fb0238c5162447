import LMDB

extension Ledger {
    /// Throws away the tables derived from the log — the catalogue, the per-document streams, the
    /// document-ID index, the event-ID index and the head — and rebuilds them from the log and the
    /// stored texts, in one transaction. The log and the texts are the record; these are views.
    public func rebuildIndexes() throws(LedgerError) {
        guard !isReadOnly else { throw LedgerError(.storage, "the ledger at \(directory) is read-only; its indexes cannot be rebuilt") }
        try writing { txn in
            for table in [tables.catalogue, tables.streams, tables.documentKeys, tables.eventIDs] { try txn.clear(table) }
            try txn.delete(tables.meta, key: MetaKey.head)
            var fold = IndexFold()
            try txn.scan(tables.log) { key, value in
                let event = try EventRecord.decode(value, position: BigEndianKey.decode(key))
                for (table, key, value) in try fold.entries(for: event, ledger: self, in: txn) {
                    try txn.put(table, key: key, value: value)
                }
                return true
            }
            let head = fold.head
            if head.position > 0 { try txn.put(tables.meta, key: MetaKey.head, value: head.encoded) }
        }
    }

    /// Compares the catalogue, streams and ID indexes with what the log says they should be; returns
    /// the first difference, or nil.
    public func verifyIndexes() throws(LedgerError) -> String? {
        try reading { txn -> String? in
            var fold = IndexFold()
            var problem: String? = nil
            var expected = [tables.catalogue.name: 0, tables.streams.name: 0, tables.documentKeys.name: 0, tables.eventIDs.name: 0]
            try txn.scan(tables.log) { key, value in
                let event = try EventRecord.decode(value, position: BigEndianKey.decode(key))
                for (table, key, value) in try fold.entries(for: event, ledger: self, in: txn) {
                    if table.name == tables.catalogue.name { continue }  // compared once, below, in its final state
                    expected[table.name, default: 0] += 1
                    guard try txn.get(table, key: key) == value else {
                        problem = "the \(table.name) entry for position \(event.position) (\(DocumentID.quoted(event.document)) version \(event.version)) does not match the log"
                        return false
                    }
                }
                return true
            }
            if let problem { return problem }
            for info in fold.documents.values {
                expected[tables.catalogue.name, default: 0] += 1
                guard try txn.get(tables.catalogue, key: BigEndianKey.encode(info.key)) == info.encode() else {
                    return "the catalogue entry of \(DocumentID.quoted(info.id)) does not match the log"
                }
            }
            for (name, count) in expected {
                let table = [tables.catalogue, tables.streams, tables.documentKeys, tables.eventIDs].first { $0.name == name }!
                if try txn.count(table) != count { return "the \(name) table has \(try txn.count(table)) entries; the log implies \(count)" }
            }
            if try head(in: txn) != fold.head { return "the ledger's head does not match the last event of the log" }
            return nil
        }
    }
}

/// The catalogue, stream, document-key and event-ID entries the log implies, event by event.
struct IndexFold {
    var documents: [String: DocumentInfo] = [:]
    var head = LogHead.empty

    mutating func entries<T: Transaction & ~Copyable>(
        for event: RecordedEvent, ledger: Ledger, in txn: borrowing T
    ) throws -> [(Database, [UInt8], [UInt8])] {
        let tables = ledger.tables
        guard event.type.isDocumentChange else {
            // A redaction is in the log and the ID index, not in its document's stream.
            head = LogHead(position: event.position, hash: event.hash, recordedAt: event.recordedAt)
            return [(tables.eventIDs, withUnsafeBytes(of: event.eventID.uuid) { Array($0) }, BigEndianKey.encode(event.position))]
        }
        let length = try event.contentHash.map { hash -> UInt64 in
            guard let size = try tables.textStore.size(of: hash, in: txn) else {
                throw LedgerError(.integrity, "the text of the event at position \(event.position) is missing")
            }
            return UInt64(size)
        }
        var result: [(Database, [UInt8], [UInt8])] = []
        var info: DocumentInfo
        if var existing = documents[event.document] {
            existing.record(event, textLength: length ?? 0)
            info = existing
        } else {
            info = DocumentInfo(first: event, key: UInt64(documents.count) + 1, textLength: length ?? 0)
            var keyRecord = BigEndianKey.encode(info.key)
            keyRecord.append(contentsOf: event.document.utf8)
            result.append((tables.documentKeys, Digest.sha256(event.document).bytes, keyRecord))
        }
        documents[event.document] = info
        result.append((tables.catalogue, BigEndianKey.encode(info.key), info.encode()))
        let entry = StreamEntry(position: event.position, at: event.at, textHash: info.contentHash, type: event.type)
        result.append((tables.streams, StreamEntry.key(document: info.key, version: event.version), entry.encode()))
        result.append((tables.eventIDs, withUnsafeBytes(of: event.eventID.uuid) { Array($0) }, BigEndianKey.encode(event.position)))
        head = LogHead(position: event.position, hash: event.hash, recordedAt: event.recordedAt)
        return result
    }
}
