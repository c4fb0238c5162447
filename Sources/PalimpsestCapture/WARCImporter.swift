import Crypto
import Foundation
import HTMLExtraction
import Palimpsest
import WARC

/// What `import warc` did.
public struct WARCImportSummary: Sendable {
    public var files = 0
    public var records = 0
    /// Response and revisit records of HTML pages (and 404/410/451 answers) read as captures.
    public var captures = 0
    public var published = 0, edited = 0, retracted = 0, restored = 0
    public var unchanged = 0
    /// 404/410/451 answers for pages the ledger has no live version of.
    public var absent = 0
    /// Captures whose event ID was already in the ledger (a second import of the same file).
    public var alreadyRecorded = 0
    /// Captures that recorded nothing for another reason (not HTML, undecodable, no text).
    public var notRecorded = 0
    /// Records of other types (request, warcinfo, metadata, resource …), by type.
    public var skippedByType: [String: Int] = [:]
    /// Response records whose payload is not HTML or whose status says nothing about the page.
    public var skippedPayloads = 0
    public var events: Int { published + edited + retracted + restored }
}

/// Replays WARC files made elsewhere (`wget --warc-file`, Webrecorder, Heritrix, Wayback and
/// Common Crawl downloads) as captures: every HTML response becomes a capture of its target URI
/// at its WARC-Date, in time order per URI; revisit records are resolved to the response they
/// repeat. Two passes: the first indexes the records (URI, date, offset: small), the second reads
/// each record again by its offset, so memory does not grow with the payloads. Event IDs come
/// from the record IDs, so a second import adds nothing. Each recorded capture's record is
/// copied, byte for byte, into the ledger's own WARC files, which `verify` checks.
public final class WARCImporter {
    public let ledger: Ledger
    public let actor: String
    public let documentPrefix: String?
    private let warc: WARCWriter

    public init(ledger: Ledger, actor: String = "warc-import", documentPrefix: String? = nil) throws(WARCError) {
        self.ledger = ledger
        self.actor = actor
        self.documentPrefix = documentPrefix
        self.warc = try WARCWriter(directory: Capturer.warcDirectory(of: ledger), software: "Palimpsest import warc")
    }

    private struct Entry {
        var uri: String
        var date: Timestamp
        var file: Int
        var offset: Int
    }

    /// Imports the files in order; stops at the first unreadable file or record, naming it (the
    /// events recorded before stay, each durable on its own).
    public func run(paths: [String], progress: ((WARCImportSummary) -> Void)? = nil) throws -> WARCImportSummary {
        var summary = WARCImportSummary()
        var entries: [Entry] = []
        var byRecordID: [String: (Int, Int)] = [:]
        var byPayloadDigest: [String: (Int, Int)] = [:]
        // Pass 1: index.
        for (fileIndex, path) in paths.enumerated() {
            let reader = try WARCReader(path: path)
            summary.files += 1
            while let (record, offset) = try reader.next() {
                summary.records += 1
                switch record.type {
                case "response", "revisit":
                    guard let uri = record.targetURI, let dateText = record.date else {
                        throw WARCError("\(path): the \(record.type) record at byte \(offset) has no WARC-Target-URI or WARC-Date")
                    }
                    guard let date = Timestamp(iso8601: dateText) else {
                        throw WARCError("\(path): the record at byte \(offset) has the WARC-Date \"\(dateText)\", which is not a time")
                    }
                    if record.type == "response" {
                        if let id = record.recordID { byRecordID[id] = (fileIndex, offset) }
                        if let digest = record["WARC-Payload-Digest"] { byPayloadDigest[digest] = (fileIndex, offset) }
                        guard Self.isCandidate(record) else { summary.skippedPayloads += 1; continue }
                    }
                    entries.append(Entry(uri: uri, date: date, file: fileIndex, offset: offset))
                default:
                    summary.skippedByType[record.type, default: 0] += 1
                }
            }
        }
        // Time order (per URI and across them), ties in file order.
        entries.sort { ($0.date, $0.file, $0.offset) < ($1.date, $1.file, $1.offset) }

        // Pass 2: read each record again and record it.
        var readers: [Int: WARCReader] = [:]
        func read(_ file: Int, _ offset: Int) throws -> WARCRecord {
            let reader = try readers[file] ?? WARCReader(path: paths[file])
            readers[file] = reader
            try reader.seek(to: offset)
            guard let (record, _) = try reader.next() else { throw WARCError("\(paths[file]): no record at byte \(offset)") }
            return record
        }
        let recorder = PageRecorder(ledger: ledger, actor: actor)
        for entry in entries {
            let record = try read(entry.file, entry.offset)
            var payloadRecord = record
            if record.type == "revisit" {
                let target = record["WARC-Refers-To"].flatMap { byRecordID[$0] } ?? record["WARC-Payload-Digest"].flatMap { byPayloadDigest[$0] }
                guard let target else { summary.skippedPayloads += 1; continue }
                payloadRecord = try read(target.0, target.1)
            }
            guard let (headText, payload) = WARCRecord.splitHTTP(payloadRecord.block), let head = HTTPHead(headText) else {
                summary.skippedPayloads += 1
                continue
            }
            // A revisit's own head (if it has one) gives the status of this visit.
            let visitHead = record.type == "revisit" ? WARCRecord.splitHTTP(record.block).flatMap { HTTPHead($0.head) } ?? head : head
            guard Self.isHTMLOrGone(status: visitHead.status, contentType: head["Content-Type"]) else { summary.skippedPayloads += 1; continue }
            summary.captures += 1
            let eventID = Self.eventID(for: record.recordID ?? "\(paths[entry.file])#\(entry.offset)")
            if try ledger.event(id: eventID) != nil {
                summary.alreadyRecorded += 1
                continue
            }
            let body: [UInt8]
            do {
                body = try ContentEncoding.decode(Array(payload), encoding: head["Content-Encoding"], url: entry.uri, limit: 64 << 20)
            } catch {
                summary.notRecorded += 1
                continue
            }
            let document = CaptureTarget.documentID(for: entry.uri, prefix: documentPrefix)
            let info = try ledger.document(document)
            // Copy the record into the ledger's WARC files only when it will be cited.
            let location = try warc.write([record])[0]
            var metadata: [String: String] = [
                CaptureMetadata.requestedURL: entry.uri,
                CaptureMetadata.status: String(visitHead.status),
                CaptureMetadata.bodySHA256: Digest.sha256(Array(payload)).hex,
                CaptureMetadata.warcRecordID: record.recordID ?? "",
                CaptureMetadata.warcFile: location.file,
                CaptureMetadata.warcBlockDigest: record["WARC-Block-Digest"] ?? WARCRecord.digest(record.block),
                CaptureMetadata.warcSourceFile: URL(fileURLWithPath: paths[entry.file]).lastPathComponent,
            ]
            if record.type == "revisit" { metadata[CaptureMetadata.warcRefersTo] = payloadRecord.recordID ?? "" }
            if let value = record["WARC-Payload-Digest"] { metadata[CaptureMetadata.warcPayloadDigest] = value }
            if let value = visitHead["Date"] { metadata[CaptureMetadata.date] = value }
            if let value = visitHead["Last-Modified"] { metadata[CaptureMetadata.lastModified] = value }
            if let value = visitHead["ETag"] { metadata[CaptureMetadata.etag] = value }
            let observation = PageObservation(
                document: document, target: CaptureTarget(url: entry.uri, document: document), status: visitHead.status,
                reason: "", finalURL: entry.uri, contentType: head["Content-Type"], body: body, at: entry.date,
                metadata: metadata, eventID: eventID, allowBackdated: true)
            let recorded = try recorder.record(observation, previous: info)
            switch recorded.outcome {
            case .published: summary.published += 1
            case .edited: summary.edited += 1
            case .retracted: summary.retracted += 1
            case .restored: summary.restored += 1
            case .unchanged: summary.unchanged += 1
            case .absent: summary.absent += 1
            default: summary.notRecorded += 1
            }
            progress?(summary)
        }
        return summary
    }

    /// A response worth a second look: HTTP, and HTML or a status that retracts.
    static func isCandidate(_ record: WARCRecord) -> Bool {
        guard let (headText, _) = WARCRecord.splitHTTP(record.block), let head = HTTPHead(headText) else { return false }
        return isHTMLOrGone(status: head.status, contentType: head["Content-Type"])
    }

    static func isHTMLOrGone(status: Int, contentType: String?) -> Bool {
        if [404, 410, 451].contains(status) { return true }
        guard (200..<300).contains(status) else { return false }
        let media = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return media == "text/html" || media == "application/xhtml+xml"
    }

    /// The record's own UUID when its ID is a `urn:uuid:`, else a UUID made from its SHA-256.
    static func eventID(for recordID: String) -> UUID {
        if let uuid = WARCRecord.uuid(fromRecordID: recordID) { return uuid }
        var bytes = Array(SHA256.hash(data: Array(recordID.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5-style (name-based)
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
