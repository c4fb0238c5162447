import Foundation
import Palimpsest

/// Keeps a local LMDB ledger identical to the shared log: same positions, hashes, recorded times and
/// checkpoints. Every event is appended as an export line is (`append(recorded:)`): its position,
/// version, previous hash, text commitment and hash are recomputed and must equal the shared log's,
/// or replication stops there (exit 4, naming the position). All projections are then built
/// locally, so every reading command, report and `serve` works against the replica.
public struct Replicator: Sendable {
    public let log: PostgresSharedLog
    public let ledger: Ledger
    /// Rows fetched per query.
    public var pageSize = 2_000

    public init(log: PostgresSharedLog, ledger: Ledger) { (self.log, self.ledger) = (log, ledger) }

    /// Opens the replica in `directory`, creating it (as a replica of `log`: its ID, origin and public
    /// key, no signing key) when there is none. `options.sharedLog` is set to `log` when `appending`.
    public static func openReplica(of log: PostgresSharedLog, in directory: String, options: Ledger.Options = Ledger.Options(), appending: Bool = false) throws(LedgerError) -> Ledger {
        var options = options
        options.replicaOf = log.identity
        if appending { options.sharedLog = log }
        let exists = FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("data.mdb"))
        return exists ? try Ledger.open(at: directory, options: options) : try Ledger.create(at: directory, options: options)
    }

    /// Copies every event the replica lacks, then the checkpoints; returns what was copied. Stops at
    /// the first event that does not check (`ImportFailure`, its error naming the position).
    public func catchUp(waitForProjections: Bool = false, progress: (@Sendable (ImportProgress) -> Void)? = nil) throws(ImportFailure) -> ImportSummary {
        var bulk = BulkImporter(ledger: ledger)
        bulk.replicating = true
        bulk.waitForProjections = waitForProjections
        let start: UInt64
        let reader: PostgresConnection
        do {
            start = try ledger.head().position
            reader = try PostgresConnection(url: log.url)
        } catch {
            throw ImportFailure(error: error, committed: ImportSummary())
        }
        let ledger = self.ledger, log = self.log, pageSize = self.pageSize
        let summary = try bulk.run(sourceName: "the shared ledger at \(log.shownURL)", progress: progress) { sink in
            var report = ProducerReport()
            var recent = DecodedTextsByHash(budget: 64 << 20)
            var position = start
            while !sink.isCancelled {
                let rows: [SharedLogRow]
                do {
                    rows = try log.rows(after: position, limit: pageSize, on: reader)
                } catch {
                    report.error = PostgresSharedLog.storageError(error, doing: "reading the shared log", url: log.shownURL)
                    return report
                }
                if rows.isEmpty { break }
                for row in rows {
                    do {
                        let (event, text) = try SharedLogCodec.decode(row) { hash in
                            try recent[hash] ?? ledger.text(hash: hash).map { Array($0.utf8) }
                        }
                        // By the text's own SHA-256 (what deltas name), not the event's commitment.
                        if let text {
                            let bytes = Array(text.utf8)
                            recent[Digest.sha256(bytes)] = bytes
                        }
                        report.inputBytes += row.envelope.count + (row.textRecord?.count ?? 0)
                        sink.emit(recorded: event, text: text, location: "position \(row.position)")
                    } catch {
                        report.error = (error as? LedgerError)?.prefixed("position \(row.position)")
                        return report
                    }
                    position = row.position
                }
                sink.read(upTo: report.inputBytes)
            }
            return report
        }
        do {
            try copyCheckpoints()
            // The captures' evidence, for this replica's `verify`.
            try log.downloadWARC(into: ledger.directory + "/warc")
        } catch {
            throw ImportFailure(error: error, committed: summary)
        }
        return summary
    }

    /// Copies the shared ledger's checkpoints this replica lacks, checking each.
    public func copyCheckpoints() throws(LedgerError) {
        let held = try ledger.checkpoints().last?.number ?? 0
        for (statement, note) in try log.checkpoints(after: held) {
            try ledger.storeSignedCheckpoint(statement: statement, note: note)
        }
    }

    /// Catches up, then follows the shared log: woken by its commits' notifications (LISTEN), and
    /// every `pollSeconds` without one, until `shouldStop` says so. `copied` is called after each
    /// catch-up that copied events, with the first event it copied (its `recordedAt` against the
    /// clock tells how far the replica trailed).
    public func follow(
        pollSeconds: Double = 1, shouldStop: @Sendable () -> Bool,
        copied: (ImportSummary, RecordedEvent?) -> Void = { _, _ in }
    ) throws(ImportFailure) {
        var listener: PostgresConnection? = nil
        while !shouldStop() {
            if listener == nil || !listener!.isConnected {
                listener = try? PostgresConnection(url: log.url)
                _ = try? listener?.execute("LISTEN \(PostgresSharedLog.channel)")
                listener?.release()
            }
            do {
                let before = (try? ledger.head().position) ?? 0
                let summary = try catchUp()
                if summary.added > 0 { copied(summary, try? ledger.event(at: before + 1)) }
            } catch let failure where failure.error.code == .storage {
                // The server restarting or unreachable: try again after the pause.
                listener = nil
            }
            if shouldStop() { break }
            if let listener {
                _ = try? listener.waitForNotification(timeout: pollSeconds)
            } else {
                Thread.sleep(forTimeInterval: pollSeconds)
            }
        }
    }
}

/// Texts decoded recently, by hash, within a byte budget: a new row's delta base is its document's
/// previous text, usually decoded just before it.
struct DecodedTextsByHash {
    let budget: Int
    private var texts: [Digest: [UInt8]] = [:]
    private var order: [Digest] = []
    private var bytes = 0

    init(budget: Int) { self.budget = budget }

    subscript(hash: Digest) -> [UInt8]? {
        get { texts[hash] }
        set {
            guard let newValue, texts[hash] == nil else { return }
            texts[hash] = newValue
            order.append(hash)
            bytes += newValue.count
            while bytes > budget, order.count > 1 {
                let oldest = order.removeFirst()
                bytes -= texts.removeValue(forKey: oldest)?.count ?? 0
            }
        }
    }
}

/// The default name of a shared ledger's replica directory: its URL's host, port, database and user,
/// without the password, as a file name.
public enum ReplicaName {
    public static func forURL(_ url: String) -> String {
        let components = URLComponents(string: url)
        let parts = [components?.host ?? "local", components?.port.map(String.init) ?? "5432", String((components?.path ?? "").drop(while: { $0 == "/" })), components?.user ?? ""]
        let name = parts.filter { !$0.isEmpty }.joined(separator: "-")
        return String(name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" })
    }
}
