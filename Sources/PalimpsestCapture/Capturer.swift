import Foundation
import HTMLExtraction
import Palimpsest
import WARC

/// One page to capture: its URL and how to read it.
public struct CaptureTarget: Sendable {
    public var url: String
    /// The document ID; nil: the URL without its scheme and fragment (`CaptureTarget.documentID`).
    public var document: String?
    public var select: [CSSSelector]
    public var remove: [CSSSelector]
    /// The document this page is a version of (another publisher's, another language's).
    public var variantOf: String?

    public init(url: String, document: String? = nil, select: [CSSSelector] = [], remove: [CSSSelector] = [], variantOf: String? = nil) {
        self.url = url
        self.document = document
        self.select = select
        self.remove = remove
        self.variantOf = variantOf
    }

    /// The default document ID of a URL: without its scheme and fragment
    /// (`https://www.whitehouse.gov/briefing-room/x#top` → `www.whitehouse.gov/briefing-room/x`).
    public static func documentID(for url: String, prefix: String? = nil) -> String {
        var text = url
        if let scheme = text.range(of: "://") { text = String(text[scheme.upperBound...]) }
        if let hash = text.firstIndex(of: "#") { text = String(text[..<hash]) }
        return (prefix ?? "") + text
    }
}

/// What capturing one page did.
public enum CaptureOutcome: Sendable, Equatable {
    case published, edited, restored, retracted
    /// The extracted text equals the recorded one; `notModified`: the server answered 304.
    case unchanged(notModified: Bool)
    /// 404/410/451 for a page the ledger has no live version of: nothing to retract.
    case absent
    /// The page's text needs JavaScript (nearly empty without it): nothing recorded.
    case needsJavaScript
    /// No text was found (an empty page, or selectors that match nothing): nothing recorded.
    case noText
    /// Robots.txt forbids it (nothing fetched).
    case forbiddenByRobots
    /// Fetched but not recordable (not HTML, undecodable, over a limit, a redirect loop, 4xx).
    case refused
    /// Timeouts, 5xx, DNS, refused connections, after the retries: nothing recorded.
    case failed

    public var name: String {
        switch self {
        case .published: "published"
        case .edited: "edited"
        case .restored: "restored"
        case .retracted: "retracted"
        case .unchanged(let notModified): notModified ? "not-modified" : "unchanged"
        case .absent: "absent"
        case .needsJavaScript: "needs-javascript"
        case .noText: "no-text"
        case .forbiddenByRobots: "forbidden-by-robots"
        case .refused: "refused"
        case .failed: "failed"
        }
    }

    /// True when the page was handled (whatever it said); false when it could not be fetched.
    public var wasFetched: Bool { self != .failed && self != .forbiddenByRobots }
}

/// The report on one page.
public struct CaptureReport: Sendable {
    public var url: String
    public var document: String
    public var outcome: CaptureOutcome
    /// The event recorded, if any.
    public var event: RecordedEvent?
    /// Why nothing was recorded, for the outcomes that need a reason.
    public var detail: String?
    /// Bytes received for this page (every exchange's body).
    public var bytes: Int
    public var finalURL: String?
    public var status: Int?
}

/// Captures pages into a ledger: fetch, keep every exchange in WARC, extract, and record an
/// event only when the text changed (DESIGN.md §11).
public final class Capturer: Sendable {
    public let ledger: Ledger
    public let fetcher: PageFetcher
    public let warc: WARCWriter
    public let actor: String
    public let documentPrefix: String?

    /// The ledger's WARC directory: `warc/` inside the ledger directory.
    public static func warcDirectory(of ledger: Ledger) -> String { ledger.directory + "/warc" }

    public init(ledger: Ledger, policy: FetchPolicy, actor: String, documentPrefix: String? = nil) throws(WARCError) {
        self.ledger = ledger
        self.fetcher = PageFetcher(policy: policy)
        self.warc = try WARCWriter(directory: Self.warcDirectory(of: ledger), software: "Palimpsest capture (\(policy.userAgent))")
        self.actor = actor
        self.documentPrefix = documentPrefix
    }

    public func shutdown() async { await fetcher.shutdown() }

    public func capture(_ target: CaptureTarget) async -> CaptureReport {
        let document = target.document ?? CaptureTarget.documentID(for: target.url, prefix: documentPrefix)
        var report = CaptureReport(url: target.url, document: document, outcome: .failed, bytes: 0)
        do {
            let info = try ledger.document(document)
            var etag: String?, lastModified: String?
            if let info, info.status == .active, let last = try ledger.event(at: info.lastPosition), last.type.carriesText,
               last.metadata[CaptureMetadata.status] == "200" {
                etag = last.metadata[CaptureMetadata.etag]
                lastModified = last.metadata[CaptureMetadata.lastModified]
            }
            let result: FetchResult
            do {
                result = try await fetcher.fetch(target.url, etag: etag, lastModified: lastModified)
            } catch {
                _ = try? archive(error.exchanges + (await fetcher.takeRobotsExchanges()))
                report.bytes = error.exchanges.reduce(0) { $0 + $1.body.count }
                report.detail = error.description
                report.outcome = switch error.kind {
                case .transient: .failed
                case .robots: .forbiddenByRobots
                case .refused: .refused
                }
                return report
            }
            let robotsExchanges = await fetcher.takeRobotsExchanges()
            report.bytes = result.exchanges.reduce(0) { $0 + $1.body.count }
            report.finalURL = result.final.url
            report.status = result.final.status
            let locations = try archive(robotsExchanges + result.exchanges)
            let response = locations.last!
            let final = result.final
            let observation = PageObservation(
                document: document, target: target, status: final.status, reason: final.reason, finalURL: final.url,
                contentType: final.header("Content-Type"), body: result.decodedBody, at: Timestamp(final.requestedAt),
                metadata: CaptureMetadata.describe(result, requested: target.url, response: response), eventID: response.uuid)
            let recorded = try PageRecorder(ledger: ledger, actor: actor).record(observation, previous: info)
            report.outcome = recorded.outcome
            report.event = recorded.event
            report.detail = recorded.detail
            return report
        } catch let error as LedgerError {
            report.outcome = .failed
            report.detail = error.description
            return report
        } catch let error as WARCError {
            report.outcome = .failed
            report.detail = error.description
            return report
        } catch {
            report.outcome = .failed
            report.detail = "\(error)"
            return report
        }
    }

    /// A WARC record written for a response: where, its ID and digests.
    struct ArchivedResponse {
        var location: WARCLocation
        var recordID: String
        var uuid: UUID
        var blockDigest: String
        var payloadDigest: String
    }

    /// Writes a request and a response record per exchange; returns the response records.
    private func archive(_ exchanges: [HTTPExchange]) throws -> [ArchivedResponse] {
        guard !exchanges.isEmpty else { return [] }
        var records: [WARCRecord] = []
        var responses: [(Int, String, UUID, String, String)] = []
        for exchange in exchanges {
            let uuid = UUID()
            let responseID = WARCRecord.newID(uuid)
            let requestID = WARCRecord.newID()
            let date = WARCRecord.date(exchange.requestedAt)
            let block = exchange.responseBlock
            let blockDigest = WARCRecord.digest(block)
            let payloadDigest = WARCRecord.digest(exchange.body)
            records.append(WARCRecord(type: "request", fields: [
                ("WARC-Record-ID", requestID), ("WARC-Date", date), ("WARC-Target-URI", exchange.url),
                ("WARC-Concurrent-To", responseID), ("Content-Type", "application/http;msgtype=request"),
                ("WARC-Block-Digest", WARCRecord.digest(exchange.requestBlock)),
            ], block: exchange.requestBlock))
            responses.append((records.count, responseID, uuid, blockDigest, payloadDigest))
            records.append(WARCRecord(type: "response", fields: [
                ("WARC-Record-ID", responseID), ("WARC-Date", date), ("WARC-Target-URI", exchange.url),
                ("Content-Type", "application/http;msgtype=response"),
                ("WARC-Block-Digest", blockDigest), ("WARC-Payload-Digest", payloadDigest),
            ], block: block))
        }
        let locations = try warc.write(records)
        return responses.map { index, id, uuid, block, payload in
            ArchivedResponse(location: locations[index], recordID: id, uuid: uuid, blockDigest: block, payloadDigest: payload)
        }
    }
}

extension Timestamp {
    init(_ date: Date) { self.init(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down))) }
}

/// The metadata keys a capture event carries (all strings, all inside the event's hash).
public enum CaptureMetadata {
    public static let requestedURL = "capture.url"
    public static let status = "http.status"
    public static let date = "http.date"
    public static let lastModified = "http.lastModified"
    public static let etag = "http.etag"
    /// JSON: `[{"status":301,"url":"http://…"}, …]`, the hops before the final URL.
    public static let redirects = "http.redirects"
    public static let bodySHA256 = "body.sha256"
    public static let charset = "capture.charset"
    public static let extraction = "capture.extraction"
    public static let warcRecordID = Ledger.citedRecordKey
    public static let warcFile = Ledger.citedFileKey
    public static let warcBlockDigest = Ledger.citedDigestKey
    public static let warcPayloadDigest = "warc.payloadDigest"
    /// `import warc`: the file the record came from, and for a revisit the response it repeats.
    public static let warcSourceFile = "warc.source"
    public static let warcRefersTo = "warc.refersTo"

    static func describe(_ result: FetchResult, requested: String, response: Capturer.ArchivedResponse) -> [String: String] {
        let final = result.final
        var metadata: [String: String] = [
            requestedURL: requested,
            status: String(final.status),
            bodySHA256: Digest.sha256(final.body).hex,
            warcRecordID: response.recordID,
            warcFile: response.location.file,
            warcBlockDigest: response.blockDigest,
            warcPayloadDigest: response.payloadDigest,
        ]
        if let value = final.header("Date") { metadata[date] = value }
        if let value = final.header("Last-Modified") { metadata[lastModified] = value }
        if let value = final.header("ETag") { metadata[etag] = value }
        if result.exchanges.count > 1 {
            let hops = result.exchanges.dropLast().map { ["status": $0.status, "url": $0.url] as [String: Any] }
            if let json = try? JSONSerialization.data(withJSONObject: hops, options: [.sortedKeys, .withoutEscapingSlashes]) {
                metadata[redirects] = String(decoding: json, as: UTF8.self)
            }
        }
        return metadata
    }
}
