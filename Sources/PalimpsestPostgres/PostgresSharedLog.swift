import Foundation
import Palimpsest

/// The shared log in PostgreSQL (DESIGN.md §10).
///
/// Serialisation: a row lock on the one-row head table (`SELECT … FOR UPDATE`), held from the first
/// new event of a writer's transaction to its COMMIT. Positions are then the head's plus one, the
/// hash chain continues from the head's hash, and `recordedAt` is the database's clock read under
/// the lock. Constraints back every rule a writer checks, so that no bug of a writer and no race
/// can put two events at one position (primary key), two events with one ID (unique), or two
/// versions N of one document (unique (document, version)). The events' rows hold their canonical
/// export lines without text and their texts as deltas (`SharedLogCodec`).
public final class PostgresSharedLog: SharedLog, @unchecked Sendable {
    /// The schema's format: a database written by another format is refused by name.
    public static let schemaVersion = 1
    /// Rows per INSERT statement (10 parameters each; PostgreSQL allows 65,535).
    static let rowsPerInsert = 500
    /// The channel a commit notifies, with its new head position as the payload.
    static let channel = "palimpsest_log"

    public let identity: SharedLedgerIdentity
    /// The URL without its password, for messages.
    public let shownURL: String
    let url: String
    /// The writer's connection (used on the ledger's writer queue only).
    private let connection: PostgresConnection
    private let lock = NSLock()

    /// Connects and reads the ledger's identity; throws when the database holds no Palimpsest ledger
    /// (or one of another schema version) or cannot be reached.
    public init(url: String) throws(LedgerError) {
        self.url = url
        connection = try PostgresConnection(url: url)
        shownURL = connection.shownURL
        identity = try PostgresSharedLog.readIdentity(connection)
    }

    /// `url` without its password, for messages.
    public static func shownURL(_ url: String) -> String { PostgresConnection.withoutPassword(url) }

    /// Whether `location` names a PostgreSQL database rather than a directory.
    public static func isURL(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    // MARK: Schema

    static let schema = [
        "CREATE TABLE palimpsest_meta (key text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE palimpsest_head (one boolean PRIMARY KEY DEFAULT true CHECK (one), position bigint NOT NULL CHECK (position >= 0), hash bytea NOT NULL)",
        """
        CREATE TABLE palimpsest_events (
            position bigint PRIMARY KEY CHECK (position >= 1),
            event_id uuid NOT NULL UNIQUE,
            document text NOT NULL,
            version bigint NOT NULL CHECK (version >= 1),
            type text NOT NULL,
            previous_hash bytea NOT NULL,
            hash bytea NOT NULL UNIQUE,
            recorded_at timestamptz NOT NULL,
            envelope bytea NOT NULL,
            text_record bytea,
            UNIQUE (document, version)
        )
        """,
        "CREATE TABLE palimpsest_checkpoints (number bigint PRIMARY KEY CHECK (number >= 1), tree_size bigint NOT NULL, statement bytea NOT NULL, note text)",
        // Captures' WARC files, append-only, as the capturing machine wrote them (tail by tail).
        "CREATE TABLE palimpsest_warc (file text NOT NULL, start bigint NOT NULL CHECK (start >= 0), bytes bytea NOT NULL, PRIMARY KEY (file, start))",
    ]

    /// Creates the schema and records `identity` (a new ledger's, made by the caller) unless the
    /// database already holds a ledger; returns the identity the database has, and whether it was
    /// created now.
    public static func create(url: String, identity: SharedLedgerIdentity) throws(LedgerError) -> (identity: SharedLedgerIdentity, created: Bool) {
        let connection = try PostgresConnection(url: url)
        defer { connection.release() }
        do {
            try connection.execute("BEGIN")
            // Two `init`s at once: the second waits here, then finds the first one's schema.
            try connection.execute("SELECT pg_advisory_xact_lock(7361626)")
            let exists = try connection.execute("SELECT to_regclass('palimpsest_meta') IS NOT NULL").bytes(0, 0) == [1]
            if exists {
                try connection.execute("ROLLBACK")
                return (try readIdentity(connection), false)
            }
            for statement in schema { try connection.execute(statement) }
            let meta: [(String, String)] = [
                ("schemaVersion", String(schemaVersion)), ("ledgerId", identity.id.uuidString.lowercased()),
                ("origin", identity.origin), ("publicKey", Hex.encode(identity.publicKey)),
            ]
            for (key, value) in meta {
                try connection.execute("INSERT INTO palimpsest_meta (key, value) VALUES ($1, $2)", [.text(key), .text(value)])
            }
            try connection.execute("INSERT INTO palimpsest_head (position, hash) VALUES (0, $1)", [.bytes(Digest.zero.bytes)])
            try connection.execute("COMMIT")
            return (identity, true)
        } catch {
            throw storageError(error, doing: "creating the shared ledger's tables", url: connection.shownURL)
        }
    }

    static func readIdentity(_ connection: PostgresConnection) throws(LedgerError) -> SharedLedgerIdentity {
        defer { connection.release() }
        let rows: PostgresConnection.Rows
        do {
            rows = try connection.execute("SELECT key, value FROM palimpsest_meta")
        } catch {
            if error.sqlState == "42P01" {
                throw LedgerError(.notFound, "the database at \(connection.shownURL) holds no Palimpsest ledger; create one with `palimpsest --ledger URL init`")
            }
            throw storageError(error, doing: "reading the shared ledger's metadata", url: connection.shownURL)
        }
        var meta: [String: String] = [:]
        for i in 0..<rows.count { meta[rows.string(i, 0) ?? ""] = rows.string(i, 1) }
        guard let version = meta["schemaVersion"].flatMap(Int.init) else {
            throw LedgerError(.storage, "the database at \(connection.shownURL) has a palimpsest_meta table without a schema version; it is not a Palimpsest ledger")
        }
        guard version == schemaVersion else {
            throw LedgerError(.storage, "the shared ledger at \(connection.shownURL) has schema version \(version); this build reads version \(schemaVersion)")
        }
        guard let id = meta["ledgerId"].flatMap(UUID.init(uuidString:)), let origin = meta["origin"],
            let key = meta["publicKey"].flatMap(Hex.decode), key.count == 32
        else {
            throw LedgerError(.integrity, "the shared ledger at \(connection.shownURL) has incomplete metadata (ledgerId, origin, publicKey)")
        }
        return SharedLedgerIdentity(id: id, origin: origin, publicKey: key)
    }

    // MARK: Appending

    public func beginAppend() throws(LedgerError) -> any SharedAppendSession {
        lock.lock()
        do {
            connection.release()
            if !connection.isConnected { connection.reset() }
            try connection.execute("BEGIN")
            // The head's row lock orders every writer; the clock is read once it is held, so recorded
            // times follow positions.
            let rows = try connection.execute("SELECT position, hash, (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM palimpsest_head FOR UPDATE")
            guard rows.count == 1, let position = rows.int64(0, 0), let hash = rows.bytes(0, 1), let clock = rows.int64(0, 2) else {
                throw PostgresConnection.Failure(sqlState: "XX000", message: "the head row is missing")
            }
            return Session(log: self, head: UInt64(position), headHash: Digest(bytes: hash), clock: Timestamp(milliseconds: clock))
        } catch {
            _ = try? connection.execute("ROLLBACK")
            lock.unlock()
            throw PostgresSharedLog.storageError(error, doing: "taking the shared log's write lock", url: shownURL)
        }
    }

    final class Session: SharedAppendSession {
        let log: PostgresSharedLog
        let head: UInt64
        let headHash: Digest
        let clock: Timestamp
        private var open = true

        init(log: PostgresSharedLog, head: UInt64, headHash: Digest, clock: Timestamp) {
            (self.log, self.head, self.headHash, self.clock) = (log, head, headHash, clock)
        }

        func events(after position: UInt64, limit: Int) throws(LedgerError) -> [SharedLogRow] {
            do {
                return try log.rows(after: position, limit: limit, on: log.connection)
            } catch {
                throw PostgresSharedLog.storageError(error, doing: "reading the shared log", url: log.shownURL)
            }
        }

        func commit(_ records: [SharedLogRecord]) throws(LedgerError) {
            guard open else { return }
            open = false
            defer { log.lock.unlock() }
            let connection = log.connection
            do {
                var expected = head
                var previous = headHash
                for record in records {
                    let e = record.event
                    // The replica already chained them to this head; the database checks it again.
                    guard e.position == expected + 1, e.previousHash == previous else {
                        throw PostgresConnection.Failure(sqlState: "XX000", message: "the event at position \(e.position) does not follow the shared head \(expected)")
                    }
                    expected = e.position
                    previous = e.hash
                }
                // Many rows per statement: one round trip per 500 events instead of one per event.
                var start = 0
                while start < records.count {
                    let chunk = records[start..<min(start + PostgresSharedLog.rowsPerInsert, records.count)]
                    var sql = "INSERT INTO palimpsest_events (position, event_id, document, version, type, previous_hash, hash, recorded_at, envelope, text_record) VALUES "
                    var parameters: [PostgresConnection.Parameter] = []
                    parameters.reserveCapacity(chunk.count * 10)
                    for (i, record) in chunk.enumerated() {
                        let e = record.event
                        let n = i * 10
                        sql += (i == 0 ? "" : ", ") + "($\(n + 1), $\(n + 2), $\(n + 3), $\(n + 4), $\(n + 5), $\(n + 6), $\(n + 7), to_timestamp($\(n + 8)::bigint / 1000.0), $\(n + 9), $\(n + 10))"
                        parameters += [
                            .text(String(e.position)), .text(e.eventID.uuidString.lowercased()), .text(e.document), .text(String(e.version)),
                            .text(e.type.rawValue), .bytes(e.previousHash.bytes), .bytes(e.hash.bytes), .text(String(e.recordedAt.milliseconds)),
                            .bytes(record.row.envelope), record.row.textRecord.map { .bytes($0) } ?? .null,
                        ]
                    }
                    try connection.execute(sql, parameters)
                    connection.release()
                    start += chunk.count
                }
                if !records.isEmpty {
                    try connection.execute("UPDATE palimpsest_head SET position = $1, hash = $2", [.text(String(expected)), .bytes(previous.bytes)])
                    try connection.execute("SELECT pg_notify('\(PostgresSharedLog.channel)', $1)", [.text(String(expected))])
                }
                try connection.execute("COMMIT")
                connection.release()
            } catch {
                _ = try? connection.execute("ROLLBACK")
                connection.release()
                guard let error = error as? PostgresConnection.Failure else {
                    throw PostgresSharedLog.storageError(error, doing: "committing to the shared log", url: log.shownURL)
                }
                if error.isUniqueViolation {
                    throw LedgerError(.conflict, "another writer recorded the same event or version in the shared ledger first (\(error.message)); nothing was written")
                }
                if error.isConnectionLost {
                    throw LedgerError(.storage, "the connection to the shared ledger at \(log.shownURL) was lost while committing (\(error.message)); the events may or may not be recorded: append them again with the same event IDs to be sure, which records each once")
                }
                throw PostgresSharedLog.storageError(error, doing: "committing to the shared log", url: log.shownURL)
            }
        }

        func rollback() {
            guard open else { return }
            open = false
            _ = try? log.connection.execute("ROLLBACK")
            log.connection.release()
            log.lock.unlock()
        }
    }

    public func events(after position: UInt64, limit: Int) throws(LedgerError) -> [SharedLogRow] {
        try withConnection(doing: "reading the shared log") { connection in try rows(after: position, limit: limit, on: connection) }
    }

    // MARK: Checkpoints

    /// The checkpoints after number `number`, oldest first: their statements and signed notes.
    public func checkpoints(after number: UInt64) throws(LedgerError) -> [(statement: [UInt8], note: String?)] {
        try withConnection(doing: "reading the shared ledger's checkpoints") { connection in
            let rows = try connection.execute("SELECT statement, note FROM palimpsest_checkpoints WHERE number > $1 ORDER BY number", [.text(String(number))])
            return (0..<rows.count).map { (rows.bytes($0, 0) ?? [], rows.string($0, 1)) }
        }
    }

    /// Stores a checkpoint signed by the ledger's key (on the machine that holds it). Numbers are
    /// unique: a second signer racing for the same number is refused.
    public func storeCheckpoint(_ checkpoint: SignedCheckpoint, statement: [UInt8], note: String?) throws(LedgerError) {
        try withConnection(doing: "storing checkpoint \(checkpoint.number) in the shared ledger") { connection in
            let head = try connection.execute("SELECT position FROM palimpsest_head").int64(0, 0) ?? 0
            guard checkpoint.treeSize <= UInt64(head) else {
                throw LedgerError(.integrity, "checkpoint \(checkpoint.number) covers \(checkpoint.treeSize) events; the shared ledger holds \(head)")
            }
            try connection.execute(
                "INSERT INTO palimpsest_checkpoints (number, tree_size, statement, note) VALUES ($1, $2, $3, $4)",
                [.text(String(checkpoint.number)), .text(String(checkpoint.treeSize)), .bytes(statement), note.map { .text($0) } ?? .null])
        }
    }

    /// The shared log's last position.
    public func headPosition() throws(LedgerError) -> UInt64 {
        try withConnection(doing: "reading the shared log's head") { connection in
            UInt64(try connection.execute("SELECT position FROM palimpsest_head").int64(0, 0) ?? 0)
        }
    }

    /// Runs `body` on the writer's connection outside an append session (reconnecting first when the
    /// server went away), mapping failures to `LedgerError`s.
    func withConnection<R>(doing what: String, _ body: (PostgresConnection) throws -> R) throws(LedgerError) -> R {
        lock.lock()
        defer {
            connection.release()
            lock.unlock()
        }
        do {
            if !connection.isConnected { connection.reset() }
            return try body(connection)
        } catch {
            if let failure = error as? PostgresConnection.Failure, failure.isUniqueViolation {
                throw LedgerError(.conflict, "\(what): \(failure.message)")
            }
            throw PostgresSharedLog.storageError(error, doing: what, url: shownURL)
        }
    }

    // MARK: WARC files

    /// Bytes of a WARC file sent per row.
    static let warcChunkBytes = 8 << 20

    /// Sends the parts of the WARC files in `directory` (a replica's `warc/`) the database lacks: a
    /// WARC file only grows, so each upload is the file's new tail. A file of the same name whose
    /// stored bytes differ from the local ones (another machine's) is refused. Returns bytes sent.
    @discardableResult
    public func uploadWARC(from directory: String) throws(LedgerError) -> Int {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".warc.gz") || $0.hasSuffix(".warc") }.sorted()
        var sent = 0
        for name in files {
            guard let handle = FileHandle(forReadingAtPath: directory + "/" + name) else { continue }
            defer { try? handle.close() }
            sent += try withConnection(doing: "storing the WARC file \(name) in the shared ledger") { connection in
                let last = try connection.execute("SELECT start, bytes FROM palimpsest_warc WHERE file = $1 ORDER BY start DESC LIMIT 1", [.text(name)])
                var stored = 0
                if last.count == 1, let start = last.int64(0, 0), let bytes = last.bytes(0, 1) {
                    try handle.seek(toOffset: UInt64(start))
                    guard let local = try handle.read(upToCount: bytes.count), Array(local) == bytes else {
                        throw LedgerError(.conflict, "the shared ledger holds a different WARC file named \(name) (from another machine); rename the local one")
                    }
                    stored = Int(start) + bytes.count
                }
                try handle.seek(toOffset: UInt64(stored))
                var total = 0
                while let chunk = try handle.read(upToCount: PostgresSharedLog.warcChunkBytes), !chunk.isEmpty {
                    try connection.execute("INSERT INTO palimpsest_warc (file, start, bytes) VALUES ($1, $2, $3)", [.text(name), .text(String(stored + total)), .bytes(Array(chunk))])
                    connection.release()
                    total += chunk.count
                }
                return total
            }
        }
        return sent
    }

    /// Appends to the WARC files in `directory` what the database holds beyond their local length
    /// (creating the files and the directory as needed). Returns bytes received.
    @discardableResult
    public func downloadWARC(into directory: String) throws(LedgerError) -> Int {
        try withConnection(doing: "copying the shared ledger's WARC files") { connection in
            let sizes = try connection.execute("SELECT file, max(start + length(bytes)) FROM palimpsest_warc GROUP BY file ORDER BY file")
            let wanted = (0..<sizes.count).compactMap { i in sizes.string(i, 0).map { ($0, Int(sizes.int64(i, 1) ?? 0)) } }
            connection.release()
            var received = 0
            for (name, size) in wanted {
                guard !name.contains("/"), !name.hasPrefix(".") else { continue }
                let path = directory + "/" + name
                let local = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                guard local < size else { continue }
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
                guard let handle = FileHandle(forWritingAtPath: path) else {
                    throw LedgerError(.storage, "cannot write the WARC file \(path)")
                }
                defer { try? handle.close() }
                try handle.seekToEnd()
                var position = local
                while position < size {
                    let rows = try connection.execute("SELECT start, bytes FROM palimpsest_warc WHERE file = $1 AND start + length(bytes) > $2 ORDER BY start LIMIT 4", [.text(name), .text(String(position))])
                    if rows.count == 0 { break }
                    for i in 0..<rows.count {
                        guard let start = rows.int64(i, 0), let bytes = rows.bytes(i, 1), Int(start) <= position else {
                            throw LedgerError(.integrity, "the shared ledger's WARC file \(name) has a gap at byte \(position)")
                        }
                        let tail = bytes[(position - Int(start))...]
                        try handle.write(contentsOf: tail)
                        position += tail.count
                        received += tail.count
                    }
                    connection.release()
                }
                try handle.synchronize()
            }
            return received
        }
    }

    // MARK: Reading

    func rows(after position: UInt64, limit: Int, on connection: PostgresConnection) throws(PostgresConnection.Failure) -> [SharedLogRow] {
        let rows = try connection.execute(
            "SELECT position, envelope, text_record, hash FROM palimpsest_events WHERE position > $1 ORDER BY position LIMIT $2",
            [.text(String(position)), .text(String(limit))])
        var result: [SharedLogRow] = []
        result.reserveCapacity(rows.count)
        for i in 0..<rows.count {
            result.append(SharedLogRow(
                position: UInt64(rows.int64(i, 0) ?? 0), envelope: rows.bytes(i, 1) ?? [], textRecord: rows.bytes(i, 2),
                hash: rows.bytes(i, 3).map { Digest(bytes: $0) }))
        }
        connection.release()
        return result
    }

    static func storageError(_ error: any Error, doing what: String, url: String) -> LedgerError {
        if let error = error as? LedgerError { return error }
        guard let failure = error as? PostgresConnection.Failure else {
            return LedgerError(.storage, "\(what) at \(url) failed: \(error)")
        }
        switch failure.sqlState {
        case "42501"?:
            return LedgerError(.storage, "\(what) at \(url) was refused: the database user lacks the privilege (\(failure.message))")
        case "42P01"?:
            return LedgerError(.notFound, "the database at \(url) holds no Palimpsest ledger; create one with `palimpsest --ledger URL init`")
        case nil:
            return LedgerError(.storage, "\(what): the connection to \(url) failed (\(failure.message))")
        default:
            return LedgerError(.storage, "\(what) at \(url) failed: \(failure.message) (SQLSTATE \(failure.sqlState!))")
        }
    }
}
