import Foundation
import WARC

/// A capture event's citation of the WARC record that holds the server's bytes.
struct CitedRecord: Sendable, Equatable {
    var position: UInt64
    var recordID: String
    var file: String
    var blockDigest: String
    var redactedBy: UInt64?
}

extension Ledger {
    /// The ledger's WARC files: `warc/` in its directory (written by `capture` and `import warc`).
    public var warcDirectory: String { directory + "/warc" }

    /// The metadata keys by which an event cites its WARC record (the one place they are spelled;
    /// PalimpsestCapture's `CaptureMetadata` names them from here).
    public static let citedRecordKey = "warc.recordID", citedFileKey = "warc.file", citedDigestKey = "warc.blockDigest"
    /// The header a redaction adds to a record whose block it replaced.
    public static let warcRedactedByField = "WARC-Palimpsest-Redacted-By"

    static func citation(of event: RecordedEvent) -> CitedRecord? {
        guard let id = event.metadata[citedRecordKey], let file = event.metadata[citedFileKey], let digest = event.metadata[citedDigestKey] else { return nil }
        return CitedRecord(position: event.position, recordID: id, file: file, blockDigest: digest, redactedBy: event.redactedBy)
    }

    /// Checks every cited WARC record: present in the named file, and its block has the digest the
    /// event cites, unless a redaction covering that event replaced the block (and says so in the
    /// record). Returns how many records were checked and the first problem.
    func verifyCitedRecords(_ citations: [CitedRecord]) -> (checked: UInt64, problem: String?) {
        guard !citations.isEmpty else { return (0, nil) }
        var byFile: [String: [CitedRecord]] = [:]
        for citation in citations { byFile[citation.file, default: []].append(citation) }
        var problems: [(UInt64, String)] = []
        var checked: UInt64 = 0
        for (file, cited) in byFile {
            let wanted = Dictionary(cited.map { ($0.recordID, $0) }, uniquingKeysWith: { first, _ in first })
            var found: [String: (matches: Bool, redactedBy: String?, originalMatches: Bool)] = [:]
            let path = warcDirectory + "/" + file
            guard FileManager.default.fileExists(atPath: path) else {
                let first = cited.min { $0.position < $1.position }!
                problems.append((first.position, "its WARC record \(first.recordID) is in warc/\(file), which does not exist"))
                continue
            }
            do {
                let reader = try WARCReader(path: path)
                while let (record, _) = try reader.next() {
                    guard let id = record.recordID, let citation = wanted[id] else { continue }
                    found[id] = (WARCRecord.matches(record.block, digest: citation.blockDigest) == true, record[Self.warcRedactedByField],
                                 record["WARC-Palimpsest-Original-Block-Digest"] == citation.blockDigest)
                }
            } catch {
                let first = cited.min { $0.position < $1.position }!
                problems.append((first.position, "its WARC record cannot be read: \(error.description)"))
                continue
            }
            for citation in cited {
                guard let record = found[citation.recordID] else {
                    problems.append((citation.position, "its WARC record \(citation.recordID) is not in warc/\(file)"))
                    continue
                }
                checked += 1
                if record.matches { continue }
                // Withheld by a redaction: the record names it, keeps the digest the event cites as
                // its original, and the event is one that redaction covers.
                if let by = citation.redactedBy, record.redactedBy == String(by), record.originalMatches { continue }
                problems.append((citation.position, "its WARC record \(citation.recordID) in warc/\(file) does not have the digest the event cites (\(citation.blockDigest))"
                    + (citation.redactedBy == nil ? ", and no redaction covers it" : "")))
            }
        }
        return (checked, problems.min { $0.0 < $1.0 }.map { "position \($0.0): \($0.1)" })
    }

    /// After a redaction: the WARC records cited by the events whose text it withheld get their
    /// blocks replaced by the redaction's marker (the raw bytes hold the withheld words in markup
    /// that a phrase cannot be cut from, so the whole block goes). Returns the record IDs replaced.
    func withholdCitedRecords(of redaction: RecordedEvent, reason: String) throws(LedgerError) -> [String] {
        var byFile: [String: Set<String>] = [:]
        for withheld in redaction.redacts {
            guard let event = try event(at: withheld.position), let citation = Self.citation(of: event) else { continue }
            byFile[citation.file, default: []].insert(citation.recordID)
        }
        guard !byFile.isEmpty else { return [] }
        let marker = Self.redactionMarker(position: redaction.position, reason: reason)
        var replaced: [String] = []
        do {
            let writer = try WARCWriter(directory: warcDirectory, software: "Palimpsest redact")
            for (file, ids) in byFile.sorted(by: { $0.key < $1.key }) {
                _ = try writer.rewrite(file: file) { record in
                    guard let id = record.recordID, ids.contains(id) else { return nil }
                    // Already withheld by this redaction (a retry): leave it as it is.
                    if record[Self.warcRedactedByField] == String(redaction.position) { return nil }
                    return record.withholdingPayload(marker: marker, extraFields: [(Self.warcRedactedByField, String(redaction.position))])
                }
                replaced += ids.sorted()
            }
        } catch {
            throw LedgerError(.storage, "the redaction is recorded, but its WARC records could not be rewritten: \(error.description); run the redaction again to retry")
        }
        return replaced
    }
}
