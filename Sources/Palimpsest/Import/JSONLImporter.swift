import Foundation

/// Streams JSON Lines into the ledger: constant memory, many events per transaction.
///
/// Each line is either a command in the neutral import format or an event exported by `export`
/// (which is then reproduced exactly, its hash and chain checked). A line without an `id` gets one
/// derived from its content, so importing a file twice adds nothing the second time, and an
/// interrupted import rerun continues where it stopped. A `publish` of a document that was retracted
/// is recorded as a restoration (real histories delete a file and add it back at the same path).
public struct JSONLImporter {
    public var bulk: BulkImporter
    /// Longest accepted line.
    public var maxLineBytes = 512 << 20

    public init(ledger: Ledger) { bulk = BulkImporter(ledger: ledger) }

    /// Imports every line readable from `fd` (a file or a pipe). `sourceName` names the input in
    /// errors ("events.jsonl line 12: …").
    public func run(
        fd: Int32, sourceName: String, totalBytes: Int? = nil, progress: (@Sendable (ImportProgress) -> Void)? = nil
    ) throws(ImportFailure) -> ImportSummary {
        try bulk.run(sourceName: sourceName, totalBytes: totalBytes, progress: progress) { [maxLineBytes] sink in
            Self.parse(fd: fd, sourceName: sourceName, maxLineBytes: maxLineBytes, into: sink)
        }
    }

    /// Reads and decodes lines until the input ends, a line is bad, or the writer stops.
    private static func parse(fd: Int32, sourceName: String, maxLineBytes: Int, into sink: ImportSink) -> ProducerReport {
        var reader = LineReader(fd: fd, maxLineBytes: maxLineBytes)
        var error: LedgerError? = nil
        reading: while !sink.isCancelled {
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
                error = LedgerError(.invalidInput, "line \(tooLong.line) is longer than the limit of \(tooLong.limit) bytes")
                break reading
            } catch let failure {
                error = LedgerError(.storage, "cannot be read: \(failure)")
                break reading
            }
            guard more else { break }
            guard let parsed else { continue }
            let location = "line \(reader.lineNumber)"
            switch parsed {
            case .failure(let failure):
                error = failure.prefixed(location)
                break reading
            case .success(.command(let e)):
                sink.add(.command(e), location: location, document: e.document, textBytes: e.change.text?.utf8.count ?? 0)
            case .success(.recorded(let e, let text)):
                sink.add(.recorded(e, text: text), location: location, document: e.document, textBytes: text?.utf8.count ?? 0)
            }
            sink.read(upTo: reader.bytesRead)
        }
        return ProducerReport(inputBytes: reader.bytesRead, error: error)
    }
}
