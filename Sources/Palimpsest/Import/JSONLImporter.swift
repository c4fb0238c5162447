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
    /// Events handed from the parser to the writer at a time.
    public var batchEvents = 500
    /// Text bytes handed from the parser to the writer at a time.
    public var batchTextBytes = 2 << 20
    /// Text bytes per write transaction (and so, at most, the input held in memory for a retry).
    public var commitTextBytes = 64 << 20
    /// Events per write transaction (LMDB bounds the pages one transaction may dirty).
    public var commitEvents = 50_000
    /// Longest accepted line.
    public var maxLineBytes = 512 << 20

    public init(ledger: Ledger) { self.ledger = ledger }

    /// Imports every line readable from `fd` (a file or a pipe). `sourceName` names the input in
    /// errors ("events.jsonl line 12: …").
    ///
    /// Two stages overlap: a parsing thread reads lines, parses them, validates UTF-8 and hashes the
    /// texts, while this thread appends them in one write transaction per `commitTextBytes` of text
    /// (few commits: an LMDB commit copies every page it touches, and the copies make the file grow).
    public func run(
        fd: Int32, sourceName: String, totalBytes: Int? = nil, progress: (@Sendable (ImportProgress) -> Void)? = nil
    ) throws(ImportFailure) -> ImportSummary {
        let started = DispatchTime.now()
        let channel = BatchChannel(capacity: 2)
        let parser = Thread { [batchEvents, batchTextBytes, maxLineBytes] in
            Self.parse(fd: fd, sourceName: sourceName, totalBytes: totalBytes, batchEvents: batchEvents,
                       batchTextBytes: batchTextBytes, maxLineBytes: maxLineBytes, started: started,
                       into: channel, progress: progress)
        }
        parser.stackSize = 8 << 20
        parser.start()
        defer { channel.cancel() }

        var summary = ImportSummary()
        var stop: LedgerError? = nil
        // Batches taken in the open transaction: when the map grows, the transaction runs again and
        // must see them again.
        var replay: [Batch] = []
        var finished = false
        while !finished, stop == nil {
            let outcome: Result<[AppendResult], LedgerError> = Result { () throws(LedgerError) in
                try ledger.withWriter { txn, writer in
                    stop = nil
                    finished = false
                    var results: [AppendResult] = []
                    var bytes = 0
                    var index = 0
                    batches: while bytes < commitTextBytes, results.count < commitEvents {
                        let batch: Batch
                        if index < replay.count {
                            batch = replay[index]
                        } else if let next = channel.take() {
                            batch = next
                            replay.append(next)
                        } else {
                            finished = true
                            break
                        }
                        index += 1
                        bytes += batch.textBytes
                        for (line, item) in batch.items {
                            do {
                                switch item {
                                case .command(let e): results.append(try writer.append(e, publishRestoresRetracted: true, in: txn))
                                case .recorded(let e, let text): results.append(try writer.append(recorded: e, text: text, in: txn))
                                }
                            } catch let error as LedgerError where error.code != .storage {
                                stop = error.prefixed("\(sourceName) line \(line)")
                                break batches
                            }
                        }
                    }
                    return results
                }
            }
            replay.removeAll()
            switch outcome {
            case .failure(let error):
                stop = error
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
        }
        channel.cancel()
        let parsed = channel.waitForParser()
        summary.lines = parsed.lines
        summary.documents = parsed.documents
        summary.inputBytes = parsed.inputBytes
        summary.seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        guard let error = stop ?? parsed.error else { return summary }
        let note = summary.added + summary.skipped == 0
            ? "nothing was imported"
            : "the \(summary.added + summary.skipped) events before it were committed (\(summary.added) added, \(summary.skipped) already present)"
        throw ImportFailure(error: LedgerError(error.code, "\(error.message); \(note)", underlying: error.underlying), committed: summary)
    }

    /// The parsing stage: reads and decodes lines into batches until the input ends, a line is bad,
    /// or the writer cancels.
    private static func parse(
        fd: Int32, sourceName: String, totalBytes: Int?, batchEvents: Int, batchTextBytes: Int, maxLineBytes: Int,
        started: DispatchTime, into channel: BatchChannel, progress: (@Sendable (ImportProgress) -> Void)?
    ) {
        var reader = LineReader(fd: fd, maxLineBytes: maxLineBytes)
        var documents = Set<String>()
        var lines = 0
        var batch = Batch()
        var lastProgress = -1.0  // report the first line at once, then a few times a second
        var error: LedgerError? = nil
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 }

        reading: while !channel.isCancelled {
            var parsed: Result<ImportLine, LedgerError>? = nil
            let more: Bool
            do {
                more = try reader.next { bytes in
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                    do {
                        parsed = .success(try ImportLine.decode(try JSONParser.parse(bytes)))
                    } catch let failure as JSONParser.Failure {
                        parsed = .failure(LedgerError(.invalidInput, "the line is not valid JSON: \(failure.message) (byte \(failure.offset + 1))"))
                    } catch let failure as LedgerError {
                        parsed = .failure(failure)
                    }
                }
            } catch let tooLong as LineReader.LineTooLong {
                error = LedgerError(.invalidInput, "\(sourceName) line \(tooLong.line) is longer than the limit of \(tooLong.limit) bytes")
                break reading
            } catch let failure {
                error = LedgerError(.storage, "cannot read \(sourceName): \(failure)")
                break reading
            }
            guard more else { break }
            guard let parsed else { continue }
            lines += 1
            switch parsed {
            case .failure(let failure):
                error = failure.prefixed("\(sourceName) line \(reader.lineNumber)")
                break reading
            case .success(let item):
                switch item {
                case .command(let e):
                    documents.insert(e.document)
                    batch.textBytes += e.change.text?.utf8.count ?? 0
                case .recorded(let e, let text):
                    documents.insert(e.document)
                    batch.textBytes += text?.utf8.count ?? 0
                }
                batch.items.append((reader.lineNumber, item))
            }
            if batch.items.count >= batchEvents || batch.textBytes >= batchTextBytes {
                channel.put(batch)
                batch = Batch()
            }
            if let progress {
                let now = elapsed()
                if now - lastProgress >= 0.25 {
                    lastProgress = now
                    progress(ImportProgress(inputBytes: reader.bytesRead, totalBytes: totalBytes, events: lines, seconds: now))
                }
            }
        }
        if !batch.items.isEmpty { channel.put(batch) }
        channel.finish(ParseOutcome(lines: lines, documents: documents.count, inputBytes: reader.bytesRead, error: error))
    }
}

/// Lines decoded by the parsing stage, in order.
struct Batch: Sendable {
    var items: [(line: Int, item: ImportLine)] = []
    var textBytes = 0
}

struct ParseOutcome: Sendable {
    var lines: Int
    var documents: Int
    var inputBytes: Int
    /// The bad line or read failure that stopped parsing, if any.
    var error: LedgerError?
}

/// A bounded, blocking hand-over of batches from the parsing thread to the writer.
final class BatchChannel: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private let capacity: Int
    private var outcome: ParseOutcome?
    private var cancelled = false

    init(capacity: Int) { self.capacity = capacity }

    var isCancelled: Bool { condition.withLock { cancelled } }

    /// Blocks while the channel is full; drops the batch when the writer has cancelled.
    func put(_ batch: Batch) {
        condition.withLock {
            while queue.count >= capacity, !cancelled { condition.wait() }
            if !cancelled { queue.append(batch) }
            condition.broadcast()
        }
    }

    /// The next batch, or nil when the parser has finished and everything was taken.
    func take() -> Batch? {
        condition.withLock {
            while queue.isEmpty, outcome == nil, !cancelled { condition.wait() }
            guard !queue.isEmpty else { return nil }
            let batch = queue.removeFirst()
            condition.broadcast()
            return batch
        }
    }

    func finish(_ result: ParseOutcome) {
        condition.withLock {
            outcome = result
            condition.broadcast()
        }
    }

    /// The writer stops taking: a blocked parser is released and stops.
    func cancel() {
        condition.withLock {
            cancelled = true
            condition.broadcast()
        }
    }

    /// Waits until the parser has finished, and returns what it saw.
    func waitForParser() -> ParseOutcome {
        condition.withLock {
            while outcome == nil { condition.wait() }
            return outcome!
        }
    }
}
