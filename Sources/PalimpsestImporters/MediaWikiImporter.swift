import Foundation
import Palimpsest

/// Imports a MediaWiki XML export (Special:Export or a dump, schema versions 0.3 to 0.11), streamed:
/// one document per page, one event per revision (the first published, later ones edited).
///
/// - `at` is the revision's timestamp; `actor` its username, or the IP of an anonymous edit, or
///   `(hidden)` when the contributor was suppressed.
/// - `source` is "<wiki> rev <id>": the wiki is the siteinfo's dbname, else `wiki` as given, else
///   the host of the siteinfo's base URL.
/// - `message` is the edit comment; metadata holds the revision and page IDs, parent ID, minor flag,
///   SHA-1, model and format when present.
/// - A revision whose text was suppressed is recorded as such: an edit that carries the previous text
///   unchanged, with `textHidden: "true"` in its metadata (never an empty page).
/// - Event IDs derive from the wiki, document, page and revision, so importing again adds nothing and an
///   interrupted import, run again, continues where it stopped.
public struct MediaWikiImporter {
    public var bulk: BulkImporter
    /// Put before every page title to make its document ID.
    public var documentPrefix = ""
    /// The wiki's name for `source`, when the export's siteinfo has no dbname.
    public var wiki: String?

    public init(ledger: Ledger) { bulk = BulkImporter(ledger: ledger) }

    /// Imports the export readable from `fd`. `sourceName` names the input in errors.
    public func run(
        fd: Int32, sourceName: String, totalBytes: Int? = nil, progress: (@Sendable (ImportProgress) -> Void)? = nil
    ) throws(ImportFailure) -> ImportSummary {
        let ledger = bulk.ledger
        let prefix = documentPrefix, wiki = self.wiki
        return try bulk.run(sourceName: sourceName, totalBytes: totalBytes, progress: progress) { sink in
            var reader = MediaWikiReader(fd: fd, ledger: ledger, documentPrefix: prefix, wiki: wiki, sink: sink)
            return reader.run()
        }
    }
}

/// The state machine over the XML events of an export.
private struct MediaWikiReader: ~Copyable {
    var xml: XMLReader
    let ledger: Ledger
    let documentPrefix: String
    let wikiOption: String?
    let sink: ImportSink

    var path: [String] = []
    var captured: [UInt8] = []
    var capturing = false
    var wiki: String?
    var baseHost: String?
    var page = Page()
    var revision = Revision()
    var passedOver: [String: Int] = [:]

    struct Page {
        var title: String?
        var id: String?
        var revisions = 0
        var lastText: String?
        var existedBefore = false
    }

    struct Revision {
        var id: String?
        var parentID: String?
        var timestamp: String?
        var username: String?
        var ip: String?
        var contributorID: String?
        var contributorHidden = false
        var minor = false
        var comment: String?
        var commentHidden = false
        var text: String?
        var textHidden = false
        var sha1: String?
        var model: String?
        var format: String?
        var line = 0
    }

    init(fd: Int32, ledger: Ledger, documentPrefix: String, wiki: String?, sink: ImportSink) {
        xml = XMLReader(fd: fd)
        self.ledger = ledger
        self.documentPrefix = documentPrefix
        wikiOption = wiki
        self.sink = sink
    }

    /// Leaf elements whose character data is kept, by their parent.
    static let leaves: [String: Set<String>] = [
        "siteinfo": ["sitename", "dbname", "base"],
        "page": ["title", "id"],
        "revision": ["id", "parentid", "timestamp", "comment", "text", "sha1", "model", "format"],
        "contributor": ["username", "ip", "id"],
    ]

    mutating func run() -> ProducerReport {
        do {
            while !sink.isCancelled {
                let event = try xml.next()
                switch event {
                case .endOfInput:
                    return ProducerReport(inputBytes: xml.offset, passedOver: passedOver)
                case .start(let name, let attributes, let isEmpty):
                    try start(name, attributes, isEmpty: isEmpty)
                    if isEmpty { try end(name) }
                case .end(let name):
                    try end(name)
                case .text(let bytes):
                    if capturing { captured.append(contentsOf: bytes) }
                }
                sink.read(upTo: xml.offset)
            }
            return ProducerReport(inputBytes: xml.offset, passedOver: passedOver)
        } catch let failure as XMLReader.Failure {
            return ProducerReport(inputBytes: xml.offset, passedOver: passedOver, error: LedgerError(.invalidInput, "byte \(failure.offset + 1) (line \(failure.line)): \(failure.message)"))
        } catch let error as LedgerError {
            return ProducerReport(inputBytes: xml.offset, passedOver: passedOver, error: error)
        } catch {
            return ProducerReport(inputBytes: xml.offset, passedOver: passedOver, error: LedgerError(.invalidInput, "\(error)"))
        }
    }

    mutating func start(_ name: String, _ attributes: [String: String], isEmpty: Bool) throws {
        if path.isEmpty, name != "mediawiki" {
            throw LedgerError(.invalidInput, "byte \(xml.offset) (line \(xml.line)): the root element is <\(name)>, not <mediawiki>: this is not a MediaWiki export")
        }
        let parent = path.last
        path.append(name)
        switch (parent, name) {
        case ("mediawiki", "page"):
            page = Page()
        case ("page", "revision"):
            revision = Revision()
            revision.line = xml.line
        case ("revision", "contributor"):
            revision.contributorHidden = attributes["deleted"] != nil
        case ("revision", "minor"):
            revision.minor = true
        case ("revision", "comment"):
            revision.commentHidden = attributes["deleted"] != nil
        case ("revision", "text"):
            revision.textHidden = attributes["deleted"] != nil
        default: break
        }
        capturing = parent.map { Self.leaves[$0]?.contains(name) ?? false } ?? false
        captured.removeAll(keepingCapacity: true)
    }

    mutating func end(_ name: String) throws {
        path.removeLast()
        let parent = path.last
        if capturing {
            capturing = false
            let where_ = "line \(xml.line)"
            guard let value = String(validating: captured, as: UTF8.self) else {
                throw LedgerError(.invalidInput, "\(where_): the <\(name)> of \(describeRevision()) is not valid UTF-8")
            }
            switch (parent, name) {
            case ("siteinfo", "dbname"): wiki = value
            case ("siteinfo", "base"): baseHost = URL(string: value)?.host
            case ("page", "title"): page.title = value
            case ("page", "id"): page.id = value
            case ("revision", "id"): revision.id = value
            case ("revision", "parentid"): revision.parentID = value
            case ("revision", "timestamp"): revision.timestamp = value
            case ("revision", "comment"): revision.comment = value
            case ("revision", "text"): revision.text = value
            case ("revision", "sha1"): revision.sha1 = value.isEmpty ? nil : value
            case ("revision", "model"): revision.model = value
            case ("revision", "format"): revision.format = value
            case ("contributor", "username"): revision.username = value
            case ("contributor", "ip"): revision.ip = value
            case ("contributor", "id"): revision.contributorID = value
            default: break
            }
        }
        if parent == "page", name == "revision" { try emitRevision() }
    }

    func describeRevision() -> String {
        "revision \(revision.id ?? "(no id)") of \"\(page.title ?? "(untitled page)")\""
    }

    mutating func emitRevision() throws {
        let location = "revision \(revision.id ?? "?") (line \(revision.line))"
        guard let title = page.title else {
            throw LedgerError(.invalidInput, "\(location): the page has no <title> before its revisions")
        }
        guard let revisionID = revision.id else {
            throw LedgerError(.invalidInput, "line \(revision.line): a revision of \"\(title)\" has no <id>")
        }
        guard let stamp = revision.timestamp else {
            throw LedgerError(.invalidInput, "\(location): the revision of \"\(title)\" has no <timestamp>")
        }
        guard let at = Timestamp(iso8601: stamp) else {
            throw LedgerError(.invalidInput, "\(location): the timestamp \"\(stamp)\" of \"\(title)\" is not an ISO 8601 time")
        }
        let document = documentPrefix + title
        let wikiName = wiki ?? wikiOption ?? baseHost ?? "wiki"
        let actor: String
        if revision.contributorHidden {
            actor = "(hidden)"
        } else if let name = revision.username, !name.isEmpty {
            actor = name
        } else if let ip = revision.ip, !ip.isEmpty {
            actor = ip
        } else {
            actor = "unknown"
        }
        var metadata: [String: String] = ["revisionId": revisionID]
        if let id = page.id { metadata["pageId"] = id }
        if let parent = revision.parentID { metadata["parentId"] = parent }
        if revision.minor { metadata["minor"] = "true" }
        if let sha1 = revision.sha1 { metadata["sha1"] = sha1 }
        if let model = revision.model { metadata["model"] = model }
        if let format = revision.format { metadata["format"] = format }
        if let id = revision.contributorID { metadata["contributorId"] = id }
        if revision.contributorHidden { metadata["contributorHidden"] = "true" }
        if revision.commentHidden { metadata["commentHidden"] = "true" }

        let text: String
        if revision.textHidden || revision.text == nil {
            metadata["textHidden"] = "true"
            text = page.lastText ?? ""
            passedOver["revisions with hidden text (recorded, text carried over)", default: 0] += 1
        } else {
            text = revision.text!
        }
        if page.revisions == 0 {
            page.existedBefore = (try? ledger.document(document)) != nil
        }
        let change: Change = page.revisions == 0 && !page.existedBefore ? .publish(text: text) : .edit(text: text)
        var event = NewEvent(
            document: document, change: change, at: at, actor: actor, source: "\(wikiName) rev \(revisionID)",
            message: revision.commentHidden ? nil : revision.comment, metadata: metadata,
            eventID: Self.eventID(wiki: wikiName, document: document, page: page.id ?? "", revision: revisionID))
        event.allowBackdated = true
        sink.emit(event, location: location)
        page.revisions += 1
        page.lastText = text
    }

    /// A stable event ID for a revision: UUID (version 8) from SHA-256 of "mediawiki", the wiki, the
    /// document ID (so that the same export imported under another prefix is another history), the
    /// page ID and the revision ID, one a line.
    static func eventID(wiki: String, document: String, page: String, revision: String) -> UUID {
        var b = Digest.sha256("mediawiki\n\(wiki)\n\(document)\n\(page)\n\(revision)").bytes
        b[6] = (b[6] & 0x0F) | 0x80
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
