import Foundation
import HTMLExtraction
import Palimpsest

/// A page as fetched (live or from a WARC file): what the recorder needs to decide on an event.
struct PageObservation {
    var document: String
    var target: CaptureTarget
    var status: Int
    var reason: String
    var finalURL: String
    var contentType: String?
    /// The body with its content encoding undone.
    var body: [UInt8]
    var at: Timestamp
    var metadata: [String: String]
    var eventID: UUID
    var allowBackdated = false
}

/// Decides what a fetched page means for its document and records it (DESIGN.md §11): the first
/// capture publishes, a changed text is an edit, 404/410 retract (not-found) and 451 (takedown),
/// a page that comes back is restored, an unchanged text records nothing. Shared by live capture
/// and `import warc`.
struct PageRecorder {
    let ledger: Ledger
    let actor: String

    struct Recorded {
        var outcome: CaptureOutcome
        var event: RecordedEvent?
        var detail: String?
    }

    func record(_ page: PageObservation, previous info: DocumentInfo?) throws -> Recorded {
        var metadata = page.metadata
        switch page.status {
        case 304:
            return Recorded(outcome: .unchanged(notModified: true))
        case 404, 410, 451:
            guard let info, info.status == .active else { return Recorded(outcome: .absent) }
            let kind: RetractionKind = page.status == 451 ? .takedown : .notFound
            var event = NewEvent(document: page.document, change: .retract(reason: "HTTP \(page.status) \(page.reason) at \(page.finalURL)", kind: kind),
                                 at: page.at, actor: actor, source: page.finalURL, metadata: metadata, eventID: page.eventID)
            event.allowBackdated = page.allowBackdated
            return Recorded(outcome: .retracted, event: try ledger.append(event).event)
        case 200..<300:
            break
        default:
            return Recorded(outcome: .refused, detail: "\(page.finalURL) answered \(page.status) \(page.reason)")
        }

        let mediaType = (page.contentType ?? "text/html").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "text/html"
        guard ["text/html", "application/xhtml+xml", "text/plain"].contains(mediaType) else {
            return Recorded(outcome: .refused, detail: "\(page.finalURL) is \(mediaType), not HTML; nothing recorded")
        }
        let decoded: DecodedPage
        do {
            decoded = try PageDecoder.decode(page.body, contentType: page.contentType)
        } catch {
            return Recorded(outcome: .refused, detail: "\(page.finalURL): \(error.description); nothing recorded")
        }
        metadata[CaptureMetadata.charset] = "\(decoded.encoding) (\(decoded.source.rawValue))"
        let text: String
        var title: String?, language: String?
        if mediaType == "text/plain" {
            text = String(decoding: decoded.utf8, as: UTF8.self)
        } else {
            let extracted = ArticleExtractor(select: page.target.select, remove: page.target.remove).extract(utf8: decoded.utf8)
            if extracted.needsJavaScript || extracted.text.isEmpty {
                let detail = extracted.needsJavaScript
                    ? "\(page.finalURL) shows almost no text without JavaScript (\(extracted.text.unicodeScalars.count) characters extracted of \(extracted.pageTextLength)); nothing recorded"
                    : "no text was found in \(page.finalURL)" + (page.target.select.isEmpty ? "" : " with the selectors given") + "; nothing recorded"
                return Recorded(outcome: extracted.needsJavaScript ? .needsJavaScript : .noText, detail: detail)
            }
            metadata[CaptureMetadata.extraction] = extracted.method
            text = extracted.text
            title = extracted.title
            language = extracted.language
        }

        let change: Change
        let outcome: CaptureOutcome
        if let info {
            if info.status == .retracted {
                change = .restore(text: text)
                outcome = .restored
            } else {
                if let hash = info.contentHash, let current = try ledger.text(hash: hash), current == text {
                    return Recorded(outcome: .unchanged(notModified: false))
                }
                change = .edit(text: text)
                outcome = .edited
            }
        } else {
            change = .publish(text: text, title: title, language: language, variantOf: page.target.variantOf)
            outcome = .published
        }
        var event = NewEvent(document: page.document, change: change, at: page.at, actor: actor, source: page.finalURL,
                             metadata: metadata, eventID: page.eventID)
        event.allowBackdated = page.allowBackdated
        return Recorded(outcome: outcome, event: try ledger.append(event).event)
    }
}
