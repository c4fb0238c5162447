import Foundation
import LMDB

/// What an import did.
public struct ImportSummary: Sendable, Equatable {
    /// Non-blank lines read.
    public var lines = 0
    /// Events recorded.
    public var added = 0
    /// Lines whose event was already in the ledger (same event ID): skipped.
    public var skipped = 0
    /// Distinct documents the lines touched.
    public var documents = 0
    /// Bytes of text in the events recorded.
    public var textBytes = 0
    /// Bytes of input read.
    public var inputBytes = 0
    /// Events whose effective time is earlier than the previous event of their document.
    public var backdated = 0
    public var seconds = 0.0

    public init() {}
}

/// Progress of a running import, reported a few times a second.
public struct ImportProgress: Sendable {
    public var inputBytes: Int
    /// The input's size when known (a file, not a pipe).
    public var totalBytes: Int?
    public var events: Int
    public var seconds: Double
}

/// An import that stopped at a bad line or a storage failure. The events before it that were
/// committed stay in the ledger and are counted in `committed`.
public struct ImportFailure: Error, CustomStringConvertible, Sendable {
    public let error: LedgerError
    public let committed: ImportSummary
    public var description: String { error.message }
}

/// Streams JSON Lines into the ledger: constant memory, many events per transaction.
///
/// Each line is either a command in the neutral import format or an event exported by `export`
/// (which is then reproduced exactly, its hash and chain checked). A line without an `id` gets one
/// derived from its content, so importing a file twice adds nothing the second time, and an
/// interrupted import rerun continues where it stopped. A `publish` of a document that was retracted
/// is recorded as a restoration (real histories delete a file and add it back at the same path).
public struct JSONLImporter {
    public let ledger: Ledger
    /// Events per transaction.
    public var batchEvents = 2000
    /// Text bytes per transaction.
    public var batchTextBytes = 64 << 20
    /// Longest accepted line.
    public var maxLineBytes = 512 << 20

    public init(ledger: Ledger) { self.ledger = ledger }

    /// Imports every line readable from `fd` (a file or a pipe). `sourceName` names the input in
    /// errors ("events.jsonl line 12: …").
    public func run(
        fd: Int32, sourceName: String, totalBytes: Int? = nil, progress: ((ImportProgress) -> Void)? = nil
    ) throws(ImportFailure) -> ImportSummary {
        let started = DispatchTime.now()
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 }
        var summary = ImportSummary()
        var documents = Set<String>()
        var batch: [(line: Int, item: ImportLine)] = []
        var batchBytes = 0
        var reader = LineReader(fd: fd, maxLineBytes: maxLineBytes)
        var lastProgress = 0.0

        func fail(_ error: LedgerError) -> ImportFailure {
            summary.seconds = elapsed()
            summary.documents = documents.count
            summary.inputBytes = reader.bytesRead
            let note = summary.added + summary.skipped == 0
                ? "nothing was imported"
                : "the \(summary.added + summary.skipped) events before it were committed (\(summary.added) added, \(summary.skipped) already present)"
            return ImportFailure(error: LedgerError(error.code, "\(error.message); \(note)", underlying: error.underlying), committed: summary)
        }

        // Commits the batch. An invalid event stops the import: the events before it in the batch are
        // committed, and the error names its line.
        func flush() throws(ImportFailure) {
            guard !batch.isEmpty else { return }
            let pending = batch
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
            var stop: LedgerError? = nil
            let outcome: Result<[AppendResult], LedgerError> = Result { () throws(LedgerError) in
                try ledger.withWriter { txn, writer in
                    stop = nil
                    var results: [AppendResult] = []
                    lines: for (line, item) in pending {
                        do {
                            switch item {
                            case .command(let e): results.append(try writer.append(e, publishRestoresRetracted: true, in: txn))
                            case .recorded(let e, let text): results.append(try writer.append(recorded: e, text: text, in: txn))
                            }
                        } catch let error as LedgerError where error.code != .storage {
                            stop = error.prefixed("\(sourceName) line \(line)")
                            break lines
                        }
                    }
                    return results
                }
            }
            switch outcome {
            case .failure(let error):
                throw fail(error.prefixed("\(sourceName) near line \(pending.first!.line)"))
            case .success(let results):
                for r in results {
                    if r.wasAlreadyRecorded {
                        summary.skipped += 1
                    } else {
                        summary.added += 1
                        summary.textBytes += r.textBytes
                        if r.wasBackdated { summary.backdated += 1 }
                    }
                }
            }
            if let stop { throw fail(stop) }
        }

        while true {
            var parsed: Result<ImportLine, LedgerError>? = nil
            let more: Bool
            do {
                more = try reader.next { bytes in
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                    do {
                        parsed = .success(try ImportLine.decode(try JSONParser.parse(bytes)))
                    } catch let error as JSONParser.Failure {
                        parsed = .failure(LedgerError(.invalidInput, "the line is not valid JSON: \(error.message) (byte \(error.offset + 1))"))
                    } catch let error as LedgerError {
                        parsed = .failure(error)
                    }
                }
            } catch let error as LineReader.LineTooLong {
                try flush()
                throw fail(LedgerError(.invalidInput, "\(sourceName) line \(error.line) is longer than the limit of \(error.limit) bytes"))
            } catch {
                try flush()
                throw fail(LedgerError(.storage, "cannot read \(sourceName): \(error)"))
            }
            guard more else { break }
            guard let parsed else { continue }
            summary.lines += 1
            switch parsed {
            case .failure(let error):
                try flush()
                throw fail(error.prefixed("\(sourceName) line \(reader.lineNumber)"))
            case .success(let item):
                switch item {
                case .command(let e):
                    documents.insert(e.document)
                    batchBytes += e.change.text?.utf8.count ?? 0
                case .recorded(let e, let text):
                    documents.insert(e.document)
                    batchBytes += text?.utf8.count ?? 0
                }
                batch.append((reader.lineNumber, item))
            }
            if batch.count >= batchEvents || batchBytes >= batchTextBytes { try flush() }
            if let progress {
                let now = elapsed()
                if now - lastProgress >= 0.25 {
                    lastProgress = now
                    progress(ImportProgress(inputBytes: reader.bytesRead, totalBytes: totalBytes, events: summary.added + summary.skipped + batch.count, seconds: now))
                }
            }
        }
        try flush()
        summary.seconds = elapsed()
        summary.documents = documents.count
        summary.inputBytes = reader.bytesRead
        return summary
    }
}
