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
            var documents: [String: DocumentInfo] = [:]
            var head = LogHead.empty
            try txn.scan(tables.log) { key, value in
                let event = try EventRecord.decode(value, position: BigEndianKey.decode(key))
                let length = try event.contentHash.map { hash -> UInt64 in
                    guard let size = try tables.textStore.size(of: hash, in: txn) else {
                        throw LedgerError(.integrity, "the text of the event at position \(event.position) is missing")
                    }
                    return UInt64(size)
                }
                var info: DocumentInfo
                if var existing = documents[event.document] {
                    if event.at < existing.lastAt {
                        existing.effectiveTimesAreMonotonic = false
                        existing.backdatedEvents += 1
                    }
                    existing.version = event.version
                    existing.lastPosition = event.position
                    existing.lastAt = event.at
                    existing.lastActor = event.actor
                    if event.type == .retracted {
                        existing.status = .retracted
                    } else {
                        existing.status = .active
                        existing.contentHash = event.contentHash
                        existing.textLength = length ?? 0
                    }
                    info = existing
                } else {
                    info = DocumentInfo(
                        id: event.document, key: UInt64(documents.count) + 1, version: event.version, status: .active,
                        firstPosition: event.position, lastPosition: event.position, createdAt: event.at, lastAt: event.at,
                        lastActor: event.actor, title: event.title, language: event.language, variantOf: event.variantOf,
                        contentHash: event.contentHash, textLength: length ?? 0, effectiveTimesAreMonotonic: true, backdatedEvents: 0)
                    var keyRecord = BigEndianKey.encode(info.key)
                    keyRecord.append(contentsOf: event.document.utf8)
                    try txn.put(tables.documentKeys, key: Digest.sha256(event.document).bytes, value: keyRecord)
                }
                documents[event.document] = info
                try txn.put(tables.catalogue, key: BigEndianKey.encode(info.key), value: info.encode())
                let entry = StreamEntry(position: event.position, at: event.at, textHash: info.contentHash, type: event.type)
                try txn.put(tables.streams, key: StreamEntry.key(document: info.key, version: event.version), value: entry.encode())
                try txn.put(tables.eventIDs, key: withUnsafeBytes(of: event.eventID.uuid) { Array($0) }, value: BigEndianKey.encode(event.position))
                head = LogHead(position: event.position, hash: event.hash, recordedAt: event.recordedAt)
                return true
            }
            if head.position > 0 {
                var headRecord = BigEndianKey.encode(head.position)
                headRecord.append(contentsOf: head.hash.bytes)
                headRecord.append(contentsOf: BigEndianKey.encode(UInt64(bitPattern: head.recordedAt.milliseconds)))
                try txn.put(tables.meta, key: MetaKey.head, value: headRecord)
            }
        }
    }
}
