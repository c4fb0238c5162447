import Foundation
import LMDB

/// What an import did.
public struct ImportSummary: Sendable, Equatable {
    /// Items read (non-blank lines, revisions, file changes).
    public var lines = 0
    /// Events recorded.
    public var added = 0
    /// Items whose event was already in the ledger (same event ID): skipped.
    public var skipped = 0
    /// Distinct documents the items touched.
    public var documents = 0
    /// Bytes of text in the events recorded.
    public var textBytes = 0
    /// Bytes of input read.
    public var inputBytes = 0
    /// Events whose effective time is earlier than the previous event of their document.
    public var backdated = 0
    /// Input the importer passed over on purpose, by reason ("binary files": 3).
    public var passedOver: [String: Int] = [:]
    /// What the reader wants said about the input as a whole ("a shallow clone: …").
    public var notes: [String] = []
    /// Seconds in all, from the start of the import: the reader's analysis, the log, then the
    /// following projections' catch-up (unless not waited for).
    public var seconds = 0.0
    /// Seconds the reader spent before its first event (the git importer reads the commit graph and
    /// plans; the other formats have no such step).
    public var analysisSeconds = 0.0
    /// Seconds the reader spent reading and decoding the input after its analysis, not counting the
    /// time it waited for the writer. Reading and committing overlap (two threads), so they may add
    /// up to more than `logSeconds`.
    public var readSeconds = 0.0
    /// Seconds the writer spent appending and committing, not counting the time it waited for input.
    public var commitSeconds = 0.0
    /// Seconds until the last event was committed to the log (the analysis included).
    public var logSeconds = 0.0
    /// Seconds the following projections (provenance, the phrase index) then took to reach the log's
    /// head; nil when the import did not wait for them.
    public var projectionSeconds: Double? = nil

    public init() {}
}

/// Progress of a running import, reported a few times a second.
public struct ImportProgress: Sendable {
    public var inputBytes: Int
    /// The input's size when known (a file, not a pipe).
    public var totalBytes: Int?
    public var events: Int
    public var seconds: Double
    /// What the reader is doing before its first event, when it says ("reading the commit graph:
    /// 4,096 commits"); nil once events flow.
    public var phase: String? = nil
}

/// An import that stopped at bad input or a storage failure. The events before it that were
/// committed stay in the ledger and are counted in `committed`.
public struct ImportFailure: Error, CustomStringConvertible, Sendable {
    public let error: LedgerError
    public let committed: ImportSummary
    public var description: String { error.message }

    public init(error: LedgerError, committed: ImportSummary) {
        self.error = error
        self.committed = committed
    }
}

/// What a producer reports when it has read its whole input (or stopped).
public struct ProducerReport: Sendable {
    public var inputBytes = 0
    /// Input passed over on purpose, by reason.
    public var passedOver: [String: Int] = [:]
    /// The bad input that stopped the producer, if any; its message says where in the input ("line
    /// 12: …"), and the importer puts the input's name in front.
    public var error: LedgerError?
    /// What to say about the input as a whole, in the summary.
    public var notes: [String] = []
    public init(inputBytes: Int = 0, passedOver: [String: Int] = [:], error: LedgerError? = nil, notes: [String] = []) {
        (self.inputBytes, self.passedOver, self.error, self.notes) = (inputBytes, passedOver, error, notes)
    }
}

/// Where a producer (the reader of a file format) hands its events to the bulk writer. It batches
/// them, and blocks when the writer is two batches behind, so memory stays bounded.
public final class ImportSink: @unchecked Sendable {
    let channel: BoundedChannel<Batch, ParseOutcome>
    let batchEvents: Int
    let batchTextBytes: Int
    private var batch = Batch()
    private var documents = Set<String>()
    private(set) var items = 0
    private let started: DispatchTime
    private let totalBytes: Int?
    private let progress: (@Sendable (ImportProgress) -> Void)?
    private var lastProgress = -1.0
    /// When the reader finished its analysis (nil: it had none, or has not said).
    private(set) var analysisEnded: DispatchTime?

    init(channel: BoundedChannel<Batch, ParseOutcome>, batchEvents: Int, batchTextBytes: Int, started: DispatchTime, totalBytes: Int?, progress: (@Sendable (ImportProgress) -> Void)?) {
        (self.channel, self.batchEvents, self.batchTextBytes) = (channel, batchEvents, batchTextBytes)
        (self.started, self.totalBytes, self.progress) = (started, totalBytes, progress)
    }

    /// True once the writer has stopped (bad event, storage failure): stop producing.
    public var isCancelled: Bool { channel.isCancelled }

    /// Hands over one event. `location` names where it came from ("line 12", "revision 233194").
    /// A `publish` of a retracted document is recorded as a restoration.
    public func emit(_ event: NewEvent, location: String) {
        var event = event
        // The text's hash on the reader's thread; its salted commitment (a hash per sentence) on the
        // writer's, which otherwise waits for the reader: the two threads then take about as long.
        if event.knownContentHash == nil, let text = event.change.text { event.knownContentHash = Digest.sha256(text) }
        add(.command(event), location: location, document: event.document, textBytes: event.change.text?.utf8.count ?? 0)
    }

    /// Hands over an event another ledger recorded (a shared log's row, an export line): it must get
    /// exactly the position, recorded time and hashes it carries.
    public func emit(recorded event: RecordedEvent, text: String?, location: String) {
        add(.recorded(event, text: text), location: location, document: event.document, textBytes: text?.utf8.count ?? 0)
    }

    func add(_ item: ImportLine, location: String, document: String, textBytes: Int) {
        items += 1
        documents.insert(document)
        batch.items.append((location, item))
        batch.textBytes += textBytes
        if batch.items.count >= batchEvents || batch.textBytes >= batchTextBytes { flush() }
    }

    /// Reports how far the input has been read (for the progress line).
    public func read(upTo inputBytes: Int) {
        guard let progress else { return }
        let now = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        guard now - lastProgress >= 0.25 else { return }
        lastProgress = now
        progress(ImportProgress(inputBytes: inputBytes, totalBytes: totalBytes, events: items, seconds: now))
    }

    /// Reports what the reader is doing before its first event (for the progress line, from the
    /// first second of a long analysis).
    public func analysing(_ phase: String) {
        guard let progress else { return }
        let now = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        guard now - lastProgress >= 0.25 else { return }
        lastProgress = now
        progress(ImportProgress(inputBytes: 0, totalBytes: totalBytes, events: 0, seconds: now, phase: phase))
    }

    /// Marks the end of the reader's analysis: the summary splits the time there.
    public func finishedAnalysis() {
        analysisEnded = DispatchTime.now()
    }

    func flush() {
        guard !batch.items.isEmpty else { return }
        channel.put(batch)
        batch = Batch()
    }

    var documentCount: Int { documents.count }
}

/// Bulk ingest: a producer thread reads and decodes the input (parsing, UTF-8 validation, hashing
/// texts) while the calling thread appends the events in one write transaction per
/// `commitTextBytes` of text. Few commits matter: an LMDB commit copies every page it touches, and
/// the copies make the file grow.
///
/// At the first event the ledger refuses (or the first bad input the producer meets) the import
/// stops: the events before it are committed, and the error names where it was.
public struct BulkImporter {
    public let ledger: Ledger
    /// Events handed from the producer to the writer at a time.
    public var batchEvents = 500
    /// Text bytes handed from the producer to the writer at a time.
    public var batchTextBytes = 2 << 20
    /// Text bytes per write transaction (and so, at most, the input held in memory for a retry).
    /// 16 MB: larger transactions commit less often but hold more dirty pages and retry input in
    /// memory (Anarchism with every projection: 64 MB → 645 MB peak RSS, 16 MB → about 530 MB, for
    /// the same time within noise).
    public var commitTextBytes = 16 << 20
    /// Events per write transaction (LMDB bounds the pages one transaction may dirty).
    public var commitEvents = 50_000
    /// Return only once every following projection has folded what was imported (true), or as soon as
    /// the log is committed (false: the projector, or the next read that needs them, catches up).
    public var waitForProjections = true
    /// Copy events a shared log recorded into its replica (`emit(recorded:…)` only): no shared session
    /// is opened, whether or not the ledger has a shared log.
    public var replicating = false

    public init(ledger: Ledger) {
        self.ledger = ledger
        if ledger.sharedLog != nil {
            // Through a shared log each transaction holds the log's lock from its first event to its
            // commit: smaller transactions let other writers in between.
            commitTextBytes = 4 << 20
            commitEvents = 2_000
        }
    }

    /// Runs `produce` on its own thread, feeding the sink, and writes what it emits. `sourceName`
    /// prefixes error messages ("Anarchism.xml revision 233194: …").
    public func run(
        sourceName: String, totalBytes: Int? = nil, progress: (@Sendable (ImportProgress) -> Void)? = nil,
        produce: @escaping @Sendable (ImportSink) -> ProducerReport
    ) throws(ImportFailure) -> ImportSummary {
        let started = DispatchTime.now()
        let channel = BoundedChannel<Batch, ParseOutcome>(capacity: 2)
        let sink = ImportSink(channel: channel, batchEvents: batchEvents, batchTextBytes: batchTextBytes, started: started, totalBytes: totalBytes, progress: progress)
        let producer = Thread {
            let report = produce(sink)
            sink.flush()
            let ended = DispatchTime.now()
            let analysis = sink.analysisEnded.map { seconds(from: started, to: $0) } ?? 0
            let reading = seconds(from: started, to: ended) - analysis - channel.producerWaited
            channel.finish(ParseOutcome(
                lines: sink.items, documents: sink.documentCount, inputBytes: report.inputBytes, passedOver: report.passedOver,
                error: report.error, notes: report.notes, analysisSeconds: analysis, readSeconds: max(0, reading)))
        }
        producer.stackSize = 8 << 20
        producer.start()
        defer { channel.cancel() }

        var summary = ImportSummary()
        var stop: LedgerError? = nil
        // Batches taken in the open transaction: when the map grows, the transaction runs again and
        // must see them again.
        var replay: [Batch] = []
        var finished = false
        while !finished, stop == nil {
            let outcome: Result<[AppendResult], LedgerError> = Result { () throws(LedgerError) in
                // Through a shared log: copy what others appended before taking its lock.
                if !replicating { try ledger.catchUpWithSharedLog() }
                return try ledger.withWriter(sequenced: !replicating) { txn, writer in
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
                        for (location, item) in batch.items {
                            do {
                                switch item {
                                case .command(let e): results.append(try writer.append(e, publishRestoresRetracted: true, in: txn))
                                case .recorded(let e, let text): results.append(try writer.append(recorded: e, text: text, in: txn))
                                }
                            } catch let error as LedgerError where error.code != .storage {
                                stop = error.prefixed("\(sourceName) \(location)")
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
                ledger.releaseIdleMemory()
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
        let produced = channel.waitForProducer()
        summary.lines = produced.lines
        summary.documents = produced.documents
        summary.inputBytes = produced.inputBytes
        summary.passedOver = produced.passedOver
        summary.notes = produced.notes
        summary.analysisSeconds = produced.analysisSeconds
        summary.readSeconds = produced.readSeconds
        summary.logSeconds = seconds(from: started, to: DispatchTime.now())
        summary.commitSeconds = max(0, summary.logSeconds - channel.consumerWaited)
        summary.seconds = summary.logSeconds
        var projectionError: LedgerError? = nil
        if waitForProjections {
            do {
                try ledger.waitForProjections()
            } catch {
                projectionError = error
            }
            summary.seconds = seconds(from: started, to: DispatchTime.now())
            summary.projectionSeconds = summary.seconds - summary.logSeconds
        }
        // A producer's error starts with where ("line 12: …", "byte 822 (line 23): …").
        let producerError = produced.error.map { LedgerError($0.code, "\(sourceName) \($0.message)", underlying: $0.underlying) }
        if stop == nil, producerError == nil, let projectionError {
            // Every event is in the log; a projection could not fold them (said so, not hidden).
            throw ImportFailure(error: LedgerError(projectionError.code, "all \(summary.added + summary.skipped) events were committed to the log, but \(projectionError.message)", underlying: projectionError.underlying), committed: summary)
        }
        guard let error = stop ?? producerError else { return summary }
        let note = summary.added + summary.skipped == 0
            ? "nothing was imported"
            : summary.added + summary.skipped == 1
            ? "the 1 event before it was committed (\(summary.added) added, \(summary.skipped) already present)"
            : "the \(summary.added + summary.skipped) events before it were committed (\(summary.added) added, \(summary.skipped) already present)"
        throw ImportFailure(error: LedgerError(error.code, "\(error.message); \(note)", underlying: error.underlying), committed: summary)
    }
}

/// Items decoded by the producer, in order, with where each came from.
struct Batch: Sendable {
    var items: [(location: String, item: ImportLine)] = []
    var textBytes = 0
}

struct ParseOutcome: Sendable {
    var lines: Int
    var documents: Int
    var inputBytes: Int
    var passedOver: [String: Int]
    /// The bad input or read failure that stopped the producer, if any.
    var error: LedgerError?
    var notes: [String]
    var analysisSeconds: Double
    var readSeconds: Double
}

private func seconds(from start: DispatchTime, to end: DispatchTime) -> Double {
    Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
