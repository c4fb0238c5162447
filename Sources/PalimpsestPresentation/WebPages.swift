import Foundation
import Palimpsest
import PalimpsestText

/// The pages `palimpsest serve` shows: server-rendered HTML with no external assets and no script,
/// every character of a document escaped by the report renderer's rules (`AuditReportRenderer.escapeHTML`:
/// markup characters as entities, invisible and bidirectional controls shown as [U+202E] instead of
/// obeyed). Each page renders values the answers already computed — no ledger access here.
public enum WebPages {
    static func esc(_ text: String) -> String { AuditReportRenderer.escapeHTML(text) }

    /// A document ID as one path segment: everything but unreserved characters percent-encoded, so
    /// `/` becomes `%2F` and `../..` stays a name.
    public static func segment(_ text: String) -> String {
        // "." and ".." would be read as path steps by browsers and proxies: encode their dots too.
        if text == "." || text == ".." { return String(repeating: "%2E", count: text.count) }
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// A query value.
    public static func query(_ text: String) -> String { segment(text) }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func documentPath(_ id: String) -> String { "/documents/" + segment(id) }

    static let css = AuditReportRenderer.css + """
        nav.top{font:14px sans-serif;border-bottom:1px solid #ccc;padding-bottom:.4rem;margin-bottom:1rem}nav.top a{margin-right:1rem}
        .day{display:inline-block;width:7px;height:12px;margin:0 1px 1px 0;background:#eee;vertical-align:middle}
        .s1{background:#c6e48b}.s2{background:#7bc96f}.s3{background:#f3a712}.s4{background:#d7263d}
        .year{font:12px monospace;white-space:nowrap;overflow-x:auto}.year b{display:inline-block;width:3rem}
        .side{display:grid;grid-template-columns:1fr 1fr;gap:.6rem}.side>div{border:1px solid #ccc;padding:.4rem;overflow-wrap:anywhere}
        .blame span[data-origin]{position:relative;cursor:help}
        .blame span[data-origin]:hover::after,.blame span[data-origin]:focus::after{content:attr(data-origin);position:absolute;left:0;top:1.4em;z-index:2;background:#222;color:#fff;font:12px sans-serif;padding:2px 4px;white-space:nowrap}
        form.inline{display:inline}input[type=text],input[type=search]{width:20rem}
        .row-only{background:#fff8e1}.status-retracted{color:#82071e}

        """

    /// The common frame of every page.
    public static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(esc(title)) — Palimpsest</title>
        <style>\(css)</style>
        </head>
        <body>
        <nav class="top"><a href="/">Documents</a><a href="/phrase">Phrases</a><a href="/compare">Compare</a><a href="/checkpoint">Checkpoint</a><a href="/feed">Feed</a><a href="/api/v1/openapi.json">API</a></nav>
        \(body)
        </body>
        </html>

        """
    }

    public static func error(status: Int, message: String) -> String {
        page(title: "Error \(status)", body: "<h1>Error \(status)</h1>\n<p>\(esc(message))</p>")
    }

    // MARK: Catalogue

    public enum CatalogueOrder: String, Sendable, CaseIterable {
        case updated, document, versions, created
    }

    public static func catalogue(_ docs: [DocumentInfo], search: String, order: CatalogueOrder) -> String {
        let needle = search.lowercased()
        var shown = needle.isEmpty ? docs : docs.filter { $0.id.lowercased().contains(needle) || ($0.title?.lowercased().contains(needle) ?? false) }
        switch order {
        case .updated: shown.sort { $0.lastAt != $1.lastAt ? $0.lastAt > $1.lastAt : $0.id < $1.id }
        case .document: shown.sort { $0.id < $1.id }
        case .versions: shown.sort { $0.version != $1.version ? $0.version > $1.version : $0.id < $1.id }
        case .created: shown.sort { $0.createdAt != $1.createdAt ? $0.createdAt < $1.createdAt : $0.id < $1.id }
        }
        var body = "<h1>Documents</h1>\n"
        body += "<form method=\"get\" action=\"/\"><input type=\"search\" name=\"q\" value=\"\(esc(search))\" aria-label=\"Search documents\"> <button>Search</button></form>\n"
        body += "<p class=\"meta\">\(shown.count) of \(docs.count) document\(docs.count == 1 ? "" : "s"). Sort by: "
        body += CatalogueOrder.allCases.map { o in
            o == order ? "<b>\(o.rawValue)</b>" : "<a href=\"/?sort=\(o.rawValue)\(needle.isEmpty ? "" : "&amp;q=" + query(search))\">\(o.rawValue)</a>"
        }.joined(separator: " · ") + "</p>\n"
        body += "<table id=\"documents\">\n<thead><tr><th>Document</th><th>Title</th><th>Versions</th><th>Status</th><th>Created</th><th>Updated</th><th>Last by</th></tr></thead>\n<tbody>\n"
        for d in shown {
            body += "<tr><td><a href=\"\(documentPath(d.id))\">\(esc(d.id))</a></td><td>\(esc(d.title ?? ""))</td><td>\(d.version)</td>"
                + "<td class=\"status-\(d.status.rawValue)\">\(d.status.rawValue)</td><td>\(d.createdAt.iso8601)</td><td>\(d.lastAt.iso8601)</td><td>\(esc(d.lastActor))</td></tr>\n"
        }
        body += "</tbody>\n</table>\n"
        return page(title: "Documents", body: body)
    }

    // MARK: History

    /// One version in a document's history, with the size of its text (for colouring the timeline).
    public struct HistoryEntry: Sendable {
        public var event: RecordedEvent
        /// Bytes of text after the event; nil for a retraction.
        public var textBytes: Int?
        public init(event: RecordedEvent, textBytes: Int?) { (self.event, self.textBytes) = (event, textBytes) }
    }

    /// The size class of a change: 1 small … 4 a blanking or a rewrite.
    static func sizeClass(_ change: Int, of size: Int) -> Int {
        let share = Double(change) / Double(max(size, 1))
        if share >= 0.5 { return 4 }
        if share >= 0.1 || change >= 2000 { return 3 }
        if change >= 100 { return 2 }
        return 1
    }

    public static let historyPageSize = 500

    public static func history(_ info: DocumentInfo, entries: [HistoryEntry], page pageNumber: Int) -> String {
        let path = documentPath(info.id)
        var body = "<h1>\(esc(info.id))</h1>\n"
        if let title = info.title { body += "<p><i>\(esc(title))</i></p>\n" }
        body += "<p class=\"meta\">\(info.version) version\(info.version == 1 ? "" : "s") from \(info.createdAt.iso8601) to \(info.lastAt.iso8601); now <span class=\"status-\(info.status.rawValue)\">\(info.status.rawValue)</span>"
        if let variantOf = info.variantOf { body += "; a variant of <a href=\"\(documentPath(variantOf))\">\(esc(variantOf))</a>" }
        body += ". <a href=\"\(path)/versions/\(info.version)\">Latest version</a> · <a href=\"\(path)/diff\">Last change</a> · <a href=\"\(path)/blame\">Who wrote it</a> · <a href=\"/feed/\(segment(info.id))\">Atom feed</a> · <a href=\"/api/v1\(path)\">JSON</a></p>\n"

        // The timeline: one cell per day that saw changes, coloured by the largest change that day.
        var days: [String: (count: Int, size: Int)] = [:]
        var previous = 0
        for entry in entries {
            let size = entry.textBytes ?? 0
            let change = entry.event.type == .retracted ? max(previous, 1) : abs(size - previous)
            let day = String(entry.event.at.iso8601.prefix(10))
            let cls = entry.event.type == .retracted ? 4 : sizeClass(change, of: max(size, previous))
            days[day] = (days[day, default: (0, 0)].count + 1, max(days[day, default: (0, 0)].size, cls))
            if entry.event.type.carriesText { previous = size }
        }
        body += "<h2>Changes per day</h2>\n<p class=\"legend\">Each mark is a day with changes (hover for the count): <span class=\"day s1\"></span> small <span class=\"day s2\"></span> medium <span class=\"day s3\"></span> large <span class=\"day s4\"></span> a blanking, rewrite or retraction.</p>\n"
        let byYear = Dictionary(grouping: days.keys, by: { String($0.prefix(4)) })
        for year in byYear.keys.sorted() {
            body += "<div class=\"year\"><b>\(year)</b>"
            for day in byYear[year]!.sorted() {
                let d = days[day]!
                body += "<span class=\"day s\(d.size)\" title=\"\(day): \(d.count) change\(d.count == 1 ? "" : "s")\"></span>"
            }
            body += " \(byYear[year]!.count) days</div>\n"
        }

        let pages = max(1, (entries.count + historyPageSize - 1) / historyPageSize)
        let current = min(max(pageNumber, 1), pages)
        body += "<h2>Versions</h2>\n"
        if pages > 1 {
            body += "<p class=\"meta\">Newest first, \(historyPageSize) per page. Page: "
                + (1...pages).map { $0 == current ? "<b>\($0)</b>" : "<a href=\"\(path)?page=\($0)\">\($0)</a>" }.joined(separator: " ") + "</p>\n"
        }
        body += "<table id=\"versions\">\n<thead><tr><th>Version</th><th>Event</th><th>Effective</th><th>By</th><th>Bytes</th><th>Note</th><th></th></tr></thead>\n<tbody>\n"
        let newestFirst = Array(entries.reversed())
        let slice = newestFirst[min((current - 1) * historyPageSize, newestFirst.count)..<min(current * historyPageSize, newestFirst.count)]
        for entry in slice {
            let e = entry.event
            var note = e.message ?? ""
            if e.type == .retracted { note = "withdrawn (\(e.kind?.rawValue ?? "other"))" + (e.reason.map { ": \($0)" } ?? "") }
            body += "<tr><td><a href=\"\(path)/versions/\(e.version)\">v\(e.version)</a></td><td><a href=\"/events/\(e.position)\">\(e.type.rawValue) #\(e.position)</a></td>"
                + "<td>\(e.at.iso8601)</td><td>\(esc(e.actor))</td><td>\(entry.textBytes.map(String.init) ?? "")</td><td>\(esc(note))</td>"
                + "<td>\(e.version > 1 ? "<a href=\"\(path)/diff?from=\(e.version - 1)&amp;to=\(e.version)\">diff</a>" : "")</td></tr>\n"
        }
        body += "</tbody>\n</table>\n"
        return page(title: info.id, body: body)
    }

    // MARK: A version

    /// A version's page depends on nothing but the version (the server caches it): links to the
    /// history for newer versions and to the event's page for its proof in the latest checkpoint.
    public static func version(_ state: DocumentState) -> String {
        let e = state.event, path = documentPath(state.document)
        var body = "<h1><a href=\"\(path)\">\(esc(state.document))</a>, version \(state.version)</h1>\n"
        if let title = state.title { body += "<p><i>\(esc(title))</i></p>\n" }
        body += "<p class=\"meta\">\(e.type.rawValue) \(e.at.iso8601) by \(esc(e.actor)); recorded \(e.recordedAt.iso8601) at position <a href=\"/events/\(e.position)\">\(e.position)</a>.\n"
        body += "Text hash <code>\((e.committedHash ?? state.contentHash).hex)</code>; event hash <code>\(e.hash.hex)</code>.\n"
        body += "<a href=\"/events/\(e.position)#proof\">Its inclusion proof</a> in the latest signed checkpoint.\n"
        if let source = e.source { body += "Source: \(esc(source)).\n" }
        body += "</p>\n<p>"
        if state.version > 1 { body += "<a href=\"\(path)/versions/\(state.version - 1)\">← v\(state.version - 1)</a> · <a href=\"\(path)/diff?from=\(state.version - 1)&amp;to=\(state.version)\">what changed</a> · " }
        body += "<a href=\"\(path)\">all versions</a> · "
        body += "<a href=\"\(path)/blame?version=\(state.version)\">who wrote it</a> · <a href=\"/api/v1\(path)/versions/\(state.version)\">JSON</a></p>\n"
        if state.status == .retracted {
            body += "<p class=\"status-retracted\">Retracted at this version (\(esc(e.kind?.rawValue ?? "withdrawn"))\(e.reason.map { ": " + esc($0) } ?? "")); the text below is what it had then.</p>\n"
        }
        body += "<div class=\"text\" id=\"text\">\(esc(state.text))</div>\n"
        return page(title: "\(state.document) v\(state.version)", body: body)
    }

    // MARK: Diff

    public enum DiffView: String, Sendable { case inline, side }

    static func pieceHTML(_ p: TextDiff.Piece) -> String {
        switch p.kind {
        case .same: esc(p.text)
        case .removed: "<del>\(esc(p.text))</del>"
        case .added: "<ins>\(esc(p.text))</ins>"
        case .movedAway: "<del class=\"moved\" title=\"moved (\(p.move ?? 0))\">\(esc(p.text))</del>"
        case .movedHere: "<ins class=\"moved\" title=\"moved (\(p.move ?? 0))\">\(esc(p.text))</ins>"
        }
    }

    public static func diff(_ answer: DiffAnswer, view: DiffView, full: Bool) -> String {
        let path = documentPath(answer.document)
        let (old, new) = (answer.from, answer.to)
        var body = "<h1>What changed in <a href=\"\(path)\">\(esc(answer.document))</a></h1>\n"
        body += "<p class=\"meta\">From <a href=\"\(path)/versions/\(old.version)\">v\(old.version)</a> (\(old.event.at.iso8601), \(esc(old.event.actor))) to <a href=\"\(path)/versions/\(new.version)\">v\(new.version)</a> (\(new.event.at.iso8601), \(esc(new.event.actor))): "
        body += "\(Answers.wordCount(answer.pieces, [.removed])) words removed, \(Answers.wordCount(answer.pieces, [.added])) added, \(Answers.wordCount(answer.pieces, [.movedHere])) moved.</p>\n"
        let here = "\(path)/diff?from=\(old.version)&amp;to=\(new.version)"
        body += "<p>View: " + (view == .inline ? "<b>inline</b> · <a href=\"\(here)&amp;view=side\(full ? "&amp;full=1" : "")\">side by side</a>" : "<a href=\"\(here)\(full ? "&amp;full=1" : "")\">inline</a> · <b>side by side</b>")
        body += " — " + (full ? "<a href=\"\(here)\(view == .side ? "&amp;view=side" : "")\">changed lines only</a>" : "<a href=\"\(here)\(view == .side ? "&amp;view=side" : "")&amp;full=1\">whole text</a>") + "</p>\n"
        body += "<form method=\"get\" action=\"\(path)/diff\">From <input name=\"from\" size=\"6\" value=\"\(old.version)\"> to <input name=\"to\" size=\"6\" value=\"\(new.version)\"> <button>Compare versions</button></form>\n"
        body += "<p class=\"legend\">Legend: <del>removed</del> <ins>added</ins> <del class=\"moved\">moved away</del> <ins class=\"moved\">moved here</ins></p>\n"
        let hunks: [DiffHunk] = full ? [DiffHunk(newLine: 1, lines: [answer.pieces])] : DiffHunk.hunks(answer.pieces)
        if hunks.isEmpty { body += "<p>The two versions say the same.</p>\n" }
        for hunk in hunks {
            if !full { body += "<h3>Line \(hunk.newLine)</h3>\n" }
            if view == .inline {
                body += "<div class=\"diff text\">" + hunk.lines.joined().map(pieceHTML).joined() + "</div>\n"
            } else {
                let left = hunk.lines.joined().filter { $0.kind != .added && $0.kind != .movedHere }.map(pieceHTML).joined()
                let right = hunk.lines.joined().filter { $0.kind != .removed && $0.kind != .movedAway }.map(pieceHTML).joined()
                body += "<div class=\"side\"><div class=\"text\">\(left)</div><div class=\"text\">\(right)</div></div>\n"
            }
        }
        return page(title: "\(answer.document): v\(old.version) → v\(new.version)", body: body)
    }

    // MARK: Blame

    public static func blame(document: String, version: UInt64, latest: UInt64, runs: [BlameRun]) -> String {
        let path = documentPath(document)
        var words: [String: Int] = [:]
        for run in runs { words[run.origin.actor, default: 0] += PhraseMatcher.words(of: run.text).count }
        let authors = words.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        let palette = AuditReportRenderer.palette
        let colourOf = Dictionary(uniqueKeysWithValues: authors.prefix(palette.count).enumerated().map { ($1, $0) })
        var body = "<h1>Who wrote <a href=\"\(path)\">\(esc(document))</a>, version \(version)</h1>\n"
        body += "<p class=\"meta\">Each word is coloured by the author of the version that first wrote it; hover over a word, or focus it with the keyboard, for its origin. "
        if version < latest { body += "<a href=\"\(path)/blame\">Blame the latest version (v\(latest))</a>. " }
        body += "<a href=\"/api/v1\(path)/blame?version=\(version)&amp;runs=true\">JSON</a></p>\n<p class=\"legend\" id=\"legend\">"
        var legend = authors.prefix(palette.count).map { author in
            "<span class=\"a\(colourOf[author]!)\">\(esc(author))</span> \(words[author]!) words"
        }
        if authors.count > palette.count {
            let rest = authors.dropFirst(palette.count)
            legend.append("<span class=\"aother\">\(rest.count) other authors</span> \(rest.reduce(0) { $0 + words[$1]! }) words")
        }
        body += legend.joined(separator: " · ")
        body += "</p>\n<div class=\"blame text\" id=\"blame\">"
        for run in runs {
            let o = run.origin
            let cls = colourOf[o.actor].map { "a\($0)" } ?? "aother"
            body += "<span class=\"\(cls)\" tabindex=\"0\" data-origin=\"v\(o.version) · \(o.at.iso8601) · \(esc(o.actor))\">\(esc(run.text))</span>"
        }
        body += "</div>\n"
        return page(title: "Blame: \(document) v\(version)", body: body)
    }

    // MARK: Phrase

    public static func phrase(_ phrase: String, document: String?, trace: Bool, changes: [PhraseChange], next: UInt64?) -> String {
        var body = "<h1>The life of a phrase</h1>\n"
        body += "<form method=\"get\" action=\"/phrase\"><input type=\"text\" name=\"q\" value=\"\(esc(phrase))\" aria-label=\"Phrase\"> in <input type=\"text\" name=\"doc\" value=\"\(esc(document ?? ""))\" placeholder=\"every document\" aria-label=\"Document\"> "
            + "<label><input type=\"checkbox\" name=\"trace\" value=\"1\"\(trace ? " checked" : "")> additions too</label> <button>Search</button></form>\n"
        guard !phrase.isEmpty else { return page(title: "Phrases", body: body) }
        body += "<p class=\"meta\">\(changes.count) event\(changes.count == 1 ? "" : "s") \(trace ? "added or removed" : "removed") “\(esc(phrase))”\(document.map { " in " + esc($0) } ?? ""), oldest first. "
        body += "<a href=\"/api/v1/\(trace ? "trace" : "removed")?phrase=\(query(phrase))\(document.map { "&amp;doc=" + query($0) } ?? "")\">JSON</a></p>\n"
        for change in changes {
            let e = change.event, path = documentPath(e.document)
            body += "<article class=\"change\"><h3>\(change.kind == .removed ? "Removed" : "Added") in <a href=\"\(path)\">\(esc(e.document))</a> "
                + "<a href=\"\(path)/versions/\(e.version)\">v\(e.version)</a> by \(esc(e.actor)), \(e.at.iso8601)</h3>\n"
            body += "<p class=\"meta\">Occurrences \(change.occurrencesBefore) → \(change.occurrencesAfter). "
            if e.version > 1 { body += "<a href=\"\(path)/diff?from=\(e.version - 1)&amp;to=\(e.version)\">See the change</a>. " }
            if let lastSeen = change.lastSeen { body += "Last seen in <a href=\"\(path)/versions/\(lastSeen.version)\">v\(lastSeen.version)</a> (\(lastSeen.at.iso8601)). " }
            if let by = change.originallyBy { body += "First written by \(esc(by.actor)) in <a href=\"\(documentPath(by.document))/versions/\(by.version)\">v\(by.version)</a> (\(by.at.iso8601)). " }
            if !change.restoredBy.isEmpty {
                body += "Put back by " + change.restoredBy.map { "\(esc($0.actor)) in <a href=\"\(documentPath($0.document))/versions/\($0.version)\">v\($0.version)</a>" }.joined(separator: ", ") + ". "
            }
            let mark = change.kind == .removed ? "del" : "ins"
            body += "</p>\n<div class=\"diff text\"><span class=\"ctx\">…\(esc(change.context.before))</span><\(mark)>\(esc(change.context.phrase))</\(mark)><span class=\"ctx\">\(esc(change.context.after))…</span></div></article>\n"
        }
        if let next {
            body += "<p><a href=\"/phrase?q=\(query(phrase))\(document.map { "&amp;doc=" + query($0) } ?? "")\(trace ? "&amp;trace=1" : "")&amp;after=\(next)\">More →</a></p>\n"
        }
        return page(title: "“\(phrase)”", body: body)
    }

    // MARK: Comparison

    public static func compareForm(first: String, second: String) -> String {
        "<form method=\"get\" action=\"/compare\"><input type=\"text\" name=\"a\" value=\"\(esc(first))\" aria-label=\"First document\"> ↔ <input type=\"text\" name=\"b\" value=\"\(esc(second))\" aria-label=\"Second document\"> <button>Compare</button></form>\n"
    }

    public static func compare(_ answer: CompareAnswer, first: String, second: String) -> String {
        let (a, b) = (answer.first, answer.second)
        let rows = answer.rows
        var body = "<h1>Two documents side by side</h1>\n" + compareForm(first: first, second: second)
        body += "<p class=\"meta\"><a href=\"\(documentPath(a.document))/versions/\(a.version)\">\(esc(a.document)) v\(a.version)</a> (\(esc(a.event.actor))) ↔ "
            + "<a href=\"\(documentPath(b.document))/versions/\(b.version)\">\(esc(b.document)) v\(b.version)</a> (\(esc(b.event.actor))): "
            + "\(esc(answer.summary))</p>\n"
        body += "<p class=\"legend\">In each pair, <del>struck</del> is what only the first says and <ins>marked</ins> what only the second says.</p>\n"
        body += "<table id=\"comparison\">\n<thead><tr><th>\(esc(a.document))</th><th>\(esc(b.document))</th></tr></thead>\n<tbody>\n"
        for row in rows {
            let left = row.first == nil ? "" : row.pieces.filter { $0.kind != .added && $0.kind != .movedHere }.map(pieceHTML).joined()
            let right = row.second == nil ? "" : row.pieces.filter { $0.kind != .removed && $0.kind != .movedAway }.map(pieceHTML).joined()
            body += "<tr\(row.first == nil || row.second == nil ? " class=\"row-only\"" : "")><td class=\"text\">\(left)</td><td class=\"text\">\(right)</td></tr>\n"
        }
        body += "</tbody>\n</table>\n"
        return page(title: "\(a.document) ↔ \(b.document)", body: body)
    }

    // MARK: Event

    public static func event(_ event: RecordedEvent, canonicalJSON: String, proof: InclusionProof?, checkpoint: SignedCheckpoint?) -> String {
        let path = documentPath(event.document)
        var body = "<h1>Event \(event.position)</h1>\n"
        body += "<p class=\"meta\">\(event.type.rawValue) of <a href=\"\(path)\">\(esc(event.document))</a> <a href=\"\(path)/versions/\(event.version)\">v\(event.version)</a> by \(esc(event.actor)), effective \(event.at.iso8601), recorded \(event.recordedAt.iso8601). "
        body += "<a href=\"/api/v1/events/\(event.position)\">JSON</a></p>\n"
        body += "<h2>Hash</h2>\n<p>SHA-256 of the RFC 8785 canonical JSON below: <code id=\"hash\">\(event.hash.hex)</code>. Previous event's hash: <code>\(event.previousHash.hex)</code>.</p>\n"
        body += "<h2>Canonical JSON</h2>\n<pre class=\"text\" id=\"canonical\">\(esc(canonicalJSON))</pre>\n"
        body += "<h2 id=\"proof\">Inclusion proof</h2>\n"
        if let proof, let checkpoint {
            body += "<p>Leaf \(proof.position - 1) of the Merkle tree of checkpoint \(checkpoint.number) (\(checkpoint.treeSize) events, root <code>\(checkpoint.rootHash.hex)</code>, signed \(checkpoint.time.iso8601)). "
                + "The proof is \(proof.isValid ? "valid" : "INVALID") (checked as this page was made). Audit path, nearest sibling first:</p>\n<ol>"
            for hash in proof.path { body += "<li><code>\(hash.hex)</code></li>" }
            body += "</ol>\n"
        } else {
            body += "<p>No signed checkpoint covers this event yet; `palimpsest checkpoint` signs one.</p>\n"
        }
        return page(title: "Event \(event.position)", body: body)
    }
}
