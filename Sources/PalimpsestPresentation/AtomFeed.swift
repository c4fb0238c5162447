import Foundation
import Palimpsest
import PalimpsestText

/// An Atom feed (RFC 4287) of a document's changes, or of every document under a prefix: one
/// entry per change (published, edited, retracted, restored), newest first, with the actor, the
/// time, a link, and the word diff as HTML (removed words struck through, added ones marked, as
/// the reports show them).
public struct AtomFeed: Sendable {
    /// One document, or every document whose ID starts with `prefix` (empty: every document).
    public enum Scope: Sendable {
        case document(String)
        case prefix(String)
    }

    public var scope: Scope
    public var limit: Int
    /// Where `palimpsest serve` answers (entries link to `BASE/events/POSITION`); without it,
    /// entries link to the event's source when it is a URL.
    public var baseURL: String?

    public init(scope: Scope, limit: Int = 50, baseURL: String? = nil) {
        self.scope = scope
        self.limit = limit
        self.baseURL = baseURL
    }

    struct Entry {
        var event: RecordedEvent
        var previousText: String?
        var text: String?
    }

    /// The feed as XML.
    public func render(from ledger: Ledger) throws(LedgerError) -> String {
        var documents: [String]
        switch scope {
        case .document(let id):
            guard try ledger.document(id) != nil else { throw LedgerError(.notFound, "there is no document \"\(id)\" in the ledger") }
            documents = [id]
        case .prefix(let prefix):
            documents = try ledger.documents().map(\.id).filter { $0.hasPrefix(prefix) }
        }
        var changes: [RecordedEvent] = []
        var previousTextHash: [UInt64: Digest] = [:]  // position → the text before it
        for document in documents {
            var lastText: Digest?
            for event in try ledger.events(of: document) ?? [] where event.type.isDocumentChange {
                if let lastText { previousTextHash[event.position] = lastText }
                if event.type.carriesText { lastText = event.contentHash }
                changes.append(event)
            }
        }
        changes.sort { $0.position > $1.position }
        let shown = changes.prefix(limit)
        var entries: [Entry] = []
        for event in shown {
            let previous = try previousTextHash[event.position].flatMap { hash throws(LedgerError) in try ledger.text(hash: hash) }
            let text = try event.contentHash.flatMap { hash throws(LedgerError) in try ledger.text(hash: hash) }
            entries.append(Entry(event: event, previousText: previous, text: text))
        }
        return xml(entries)
    }

    func xml(_ entries: [Entry]) -> String {
        let title: String
        let feedID: String
        switch scope {
        case .document(let id):
            title = "Changes to \(id)"
            feedID = "urn:palimpsest:document:" + Self.percentEncoded(id)
        case .prefix(let prefix):
            title = prefix.isEmpty ? "Changes to every document" : "Changes to the documents under \(prefix)"
            feedID = "urn:palimpsest:prefix:" + Self.percentEncoded(prefix)
        }
        let updated = entries.first?.event.at.iso8601 ?? Timestamp(milliseconds: 0).iso8601
        var out = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
        out += "  <title>\(Self.escape(title))</title>\n  <id>\(Self.escape(feedID))</id>\n  <updated>\(updated)</updated>\n"
        out += "  <generator>Palimpsest</generator>\n"
        if let baseURL { out += "  <link rel=\"alternate\" href=\"\(Self.escape(baseURL))\"/>\n" }
        for entry in entries {
            let e = entry.event
            out += "  <entry>\n"
            out += "    <title>\(Self.escape("\(e.document): \(e.type.rawValue), version \(e.version)"))</title>\n"
            out += "    <id>urn:uuid:\(e.eventID.uuidString.lowercased())</id>\n"
            out += "    <updated>\(e.at.iso8601)</updated>\n"
            out += "    <author><name>\(Self.escape(e.actor))</name></author>\n"
            if let link = link(for: e) { out += "    <link rel=\"alternate\" href=\"\(Self.escape(link))\"/>\n" }
            out += "    <content type=\"html\">\(Self.escape(contentHTML(entry)))</content>\n"
            out += "  </entry>\n"
        }
        return out + "</feed>\n"
    }

    func link(for event: RecordedEvent) -> String? {
        if let baseURL { return baseURL.trimmingSuffix("/") + "/events/\(event.position)" }
        if let source = event.source, source.hasPrefix("http://") || source.hasPrefix("https://") { return source }
        return nil
    }

    /// The entry's HTML (escaped once more by `xml`, as `type="html"` content is).
    func contentHTML(_ entry: Entry) -> String {
        let e = entry.event
        var html = "<p>Position \(e.position), recorded \(e.recordedAt.iso8601); event hash <code>\(e.hash.hex)</code>"
        if let source = e.source { html += "; source \(AuditReportRenderer.escapeHTML(source))" }
        html += ".</p>"
        switch e.type {
        case .retracted:
            html += "<p>Withdrawn (\(AuditReportRenderer.escapeHTML(e.kind?.rawValue ?? "other"))): \(AuditReportRenderer.escapeHTML(e.reason ?? ""))</p>"
        case .published:
            html += "<p>First version:</p><div>\(AuditReportRenderer.escapeHTML(AuditReportRenderer.shortened(entry.text ?? "", limit: AuditReportRenderer.longPiece)))</div>"
        default:
            let old = entry.previousText ?? "", new = entry.text ?? ""
            if old == new {
                html += "<p>The text is unchanged.</p>"
            } else {
                let pieces = TextDiff.diff(old: old, new: new).map(AuditReport.Piece.init)
                html += "<div>\(AuditReportRenderer.htmlPieces(pieces))</div>"
            }
        }
        return html
    }

    /// Escapes text for XML content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            // Characters XML 1.0 forbids: dropped (they cannot be escaped).
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? text
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
