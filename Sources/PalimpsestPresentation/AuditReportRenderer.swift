import Foundation
import Palimpsest
import PalimpsestText

/// Renders an `AuditReport` for people: one self-contained HTML file, Markdown, or CSV. The JSON
/// form (`AuditReport.json`) is the evidence; these quote it, shortening long unchanged or changed
/// runs (the HTML says by how much), and never let document text act as markup.
public struct AuditReportRenderer {
    public let report: AuditReport
    let eventsByPosition: [UInt64: RecordedEvent]

    public init(_ report: AuditReport) {
        self.report = report
        eventsByPosition = Dictionary(uniqueKeysWithValues: report.events.map { ($0.position, $0) })
    }

    /// Unchanged text shown around a change, in characters, on each side.
    static let context = AuditReport.keptContext
    /// Changed text longer than this is shown by its beginning and end.
    static let longPiece = 4000

    var title: String {
        switch report.subject {
        case .document(let document): "The life of \(document)"
        case .phrase(let phrase, _, let document): "The life of the phrase “\(phrase)”" + (document.map { " in \($0)" } ?? "")
        }
    }

    public enum Format: Sendable { case html, markdown, csv }

    /// Hands a report's changes, in order, one at a time to its argument: `Ledger.forEachChange(in:)`
    /// for a report being written, or a held report's `changes`.
    public typealias Changes = ((AuditReport.Change) throws(LedgerError) -> Void) throws(LedgerError) -> Void

    public func html() -> String { rendered(.html) }
    public func markdown() -> String { rendered(.markdown) }
    public func csv() -> String { rendered(.csv) }

    /// A held report, rendered whole in memory.
    func rendered(_ format: Format) -> String {
        var bytes: [UInt8] = []
        let changes = report.changes
        do {
            try write(format, changeCount: changes.count, changes: { each throws(LedgerError) in for change in changes { try each(change) } }, spoolLimit: nil) { bytes += $0 }
        } catch {
            // Nothing but the sink and a spool can fail, and neither does in memory.
            preconditionFailure("rendering a report in memory failed: \(error)")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the report in `format` to `sink` while its changes arrive: CSV row by row; HTML and
    /// Markdown with their summary first, so the changes are set aside (in a temporary file past
    /// `spoolLimit` bytes) while the summary is gathered. Memory does not grow with the history.
    public func write(
        _ format: Format, changeCount: Int, changes: Changes, spoolLimit: Int? = 8 << 20, to sink: (ArraySlice<UInt8>) throws(LedgerError) -> Void
    ) throws(LedgerError) {
        func emit(_ text: String) throws(LedgerError) { try sink(Array(text.utf8)[...]) }
        if format == .csv { return try writeCSV(changes: changes, emit) }
        var summary = ReportSummary()
        let body = Spool(limit: spoolLimit)
        // Short reports show every change; long ones fold them by year and month.
        let open = changeCount <= Self.openLimit
        var year: (key: String, tally: ReportSummary.Tally, months: String)? = nil
        var month: (key: String, tally: ReportSummary.Tally, html: String)? = nil
        func closeMonth() {
            guard let m = month else { return }
            year?.months += "<details class=\"month\"\(open ? " open" : "")><summary>\(ReportSummary.monthName(m.key)) — \(Self.changesTally(m.tally))</summary>\n\(m.html)</details>\n"
            month = nil
        }
        func closeYear() throws(LedgerError) {
            closeMonth()
            guard let y = year else { return }
            try body.append("<details class=\"year\"\(open ? " open" : "")><summary>\(y.key) — \(Self.changesTally(y.tally))</summary>\n\(y.months)</details>\n")
            year = nil
        }
        var shown = Set<UInt64>()
        try changes { change throws(LedgerError) in
            let facts = summary.add(change)
            shown.insert(change.event.position)
            guard format == .html else { return try body.append(markdownChange(change, facts)) }
            let key = ReportSummary.month(change.event.at)
            if year?.key != String(key.prefix(4)) { try closeYear(); year = (String(key.prefix(4)), .init(), "") }
            if month?.key != key { closeMonth(); month = (key, .init(), "") }
            var tally = ReportSummary.Tally(changes: 1)
            if facts.blanking { tally.blankings = 1 }
            if facts.restores != nil { tally.reverts = 1 }
            month!.tally.add(tally)
            year!.tally.add(tally)
            month!.html += htmlChange(change, facts)
        }
        if format == .html {
            try closeYear()
            try emit(htmlHead(summary))
            try body.replay(into: sink)
            try emit("</section>\n")
            if let blame = report.blame { try emit(htmlBlame(blame)) }
            try emit(htmlEvidence(shown: shown) + "</body>\n</html>\n")
        } else {
            try emit(markdownHead(summary))
            try body.replay(into: sink)
            try emit(markdownTail())
        }
    }

    /// Reports showing at most this many changes show them all open.
    static let openLimit = 100
    /// People named in the summary's table.
    static let leadingActors = 15

    static func changesTally(_ tally: ReportSummary.Tally) -> String {
        var parts = [plural(tally.changes, "change")]
        if tally.blankings > 0 { parts.append(plural(tally.blankings, "blanking")) }
        if tally.reverts > 0 { parts.append(plural(tally.reverts, "revert")) }
        return parts.joined(separator: ", ")
    }

    static func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// "versions 3 to 40 of", "the period after … and up to …": what a scoped report covers, or nil.
    var scopeSentence: String? {
        guard !report.scope.isWhole else { return nil }
        var parts: [String] = []
        if let range = report.range {
            parts.append("the changes that made versions \(range.first) to \(range.last)" + (range.base.map { ", starting from version \($0), the version in force before them" } ?? ""))
        } else if let versions = report.scope.versions {
            parts.append("versions \(versions.lowerBound) to \(versions.upperBound)")
        }
        if let since = report.scope.since { parts.append("from \(since.iso8601)") }
        if let until = report.scope.until { parts.append("up to \(until.iso8601)") }
        return "This report is scoped: it covers " + parts.joined(separator: ", ") + "."
    }

    // MARK: HTML

    private func htmlHead(_ summary: ReportSummary) -> String {
        let checkpoint = report.checkpoint
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escapeHTML(title)) — Palimpsest audit report</title>
            <style>\(Self.css)</style>
            </head>
            <body>
            <header>
            <h1>\(Self.escapeHTML(title))</h1>
            <p class="meta">Palimpsest audit report generated \(report.generatedAt.iso8601) from ledger <code>\(report.ledgerID.uuidString.lowercased())</code>.
            It cites \(report.events.count) events; each is proved to be in checkpoint \(checkpoint.number): the first \(checkpoint.treeSize) events of the ledger,
            Merkle root <code>\(checkpoint.rootHash.hex)</code>, signed \(checkpoint.time.iso8601) by the Ed25519 key <code>\(Hex.encode(report.publicKey))</code>.</p>

            """
        if let scope = scopeSentence { out += "<p class=\"meta\"><strong>\(Self.escapeHTML(scope))</strong></p>\n" }
        out += """
            <p class="meta">This page is a reading of the JSON report. To check the evidence without the ledger:
            <code>python3 tools/verify-report.py REPORT.json --public-key \(Hex.encode(report.publicKey))</code>
            (with the key obtained from the ledger's owner, not from the report).</p>
            <p class="legend">Legend: <del>removed text</del> <ins>added text</ins> <del class="moved">moved away</del> <ins class="moved">moved here</ins> <span class="elided">[… unchanged text not shown …]</span> <span class="ctl">[U+202E]</span> an invisible or control character, shown instead of obeyed.</p>
            </header>

            """
        // A phrase report answers its question first: where the phrase came and went.
        if let history = report.phraseHistory { out += htmlFindings(history) }
        out += htmlSummary(summary)
        out += "<section class=\"changes\">\n<h2>Changes</h2>\n"
        if summary.total.changes > Self.openLimit {
            out += "<p class=\"meta\">Grouped by year and month: open one to read its changes (printing prints what is open).</p>\n"
        }
        return out
    }

    private func htmlSummary(_ summary: ReportSummary) -> String {
        let total = summary.total
        var out = "<section class=\"summary\">\n<h2>Summary</h2>\n"
        guard let first = summary.first, let last = summary.last else { return out + "<p>The report shows no change.</p>\n</section>\n" }
        let people = summary.actors.count
        out += "<p>\(Self.plural(total.changes, "change")) from \(first.iso8601.prefix(10)) to \(last.iso8601.prefix(10)) by \(people) \(people == 1 ? "person" : "people")"
        out += ": \(total.wordsRemoved) words removed and \(total.wordsAdded) added; \(Self.plural(total.blankings, "blanking")) (nine tenths of the text gone at once), \(Self.plural(total.reverts, "revert")) (a return to an earlier version's exact text), \(Self.plural(total.retractions, "withdrawal")).</p>\n"

        // Changes per month: one bar a month, its blankings and reverts in red at the foot.
        let months = summary.monthsInOrder()
        let busiest = max(1, months.map(\.tally.changes).max() ?? 1)
        out += "<h3>Changes per month</h3>\n<div class=\"timeline\" role=\"img\" aria-label=\"changes per month from \(months.first!.month) to \(months.last!.month)\">"
        for (key, tally) in months {
            let height = tally.changes == 0 ? 0 : max(1, tally.changes * 80 / busiest)
            let marked = tally.changes == 0 ? 0 : min(height, (tally.blankings + tally.reverts) * 80 / busiest)
            out += "<span title=\"\(ReportSummary.monthName(key)): \(Self.changesTally(tally))\" style=\"height:\(height)px\">\(marked > 0 ? "<i style=\"height:\(marked)px\"></i>" : "")</span>"
        }
        out += "</div>\n<p class=\"axis\"><span>\(ReportSummary.monthName(months.first!.month))</span><span>\(ReportSummary.monthName(months.last!.month))</span></p>\n"
        out += "<table class=\"years\">\n<thead><tr><th>Year</th><th>Changes</th><th>Blankings</th><th>Reverts</th><th>Withdrawals</th><th>Words removed</th><th>Words added</th></tr></thead>\n<tbody>\n"
        for (year, tally) in summary.yearsInOrder() {
            out += "<tr><td>\(year)</td><td>\(tally.changes)</td><td>\(tally.blankings)</td><td>\(tally.reverts)</td><td>\(tally.retractions)</td><td>\(tally.wordsRemoved)</td><td>\(tally.wordsAdded)</td></tr>\n"
        }
        out += "</tbody>\n</table>\n"

        out += "<h3>Who changed it most</h3>\n<table>\n<thead><tr><th>Who</th><th>Changes</th><th>Words removed</th><th>Words added</th><th>Reverts</th><th>Blankings</th></tr></thead>\n<tbody>\n"
        for (actor, tally) in summary.leadingActors(Self.leadingActors) {
            out += "<tr><td>\(Self.escapeHTML(actor))</td><td>\(tally.changes)</td><td>\(tally.wordsRemoved)</td><td>\(tally.wordsAdded)</td><td>\(tally.reverts)</td><td>\(tally.blankings)</td></tr>\n"
        }
        out += "</tbody>\n</table>\n"
        if people > Self.leadingActors { out += "<p class=\"meta\">and \(people - Self.leadingActors) more.</p>\n" }

        if !summary.largest.isEmpty {
            out += "<h3>The largest removals</h3>\n<ol class=\"removals\">\n"
            for removal in summary.largest {
                out += "<li><a href=\"#p\(removal.position)\">\(Self.escapeHTML(removal.document)) version \(removal.version)</a>, \(removal.at.iso8601) by \(Self.escapeHTML(removal.actor)): \(Self.plural(removal.words, "word")) removed<br><del class=\"text\">\(Self.escapeHTML(removal.excerpt))</del></li>\n"
            }
            out += "</ol>\n"
        }
        if !summary.retractions.isEmpty {
            out += "<h3>Withdrawals</h3>\n<ul>\n"
            for r in summary.retractions {
                out += "<li><a href=\"#p\(r.position)\">\(Self.escapeHTML(r.document)) version \(r.version)</a>, \(r.at.iso8601) by \(Self.escapeHTML(r.actor))\(r.reason.map { ": “\(Self.escapeHTML($0))”" } ?? "")</li>\n"
            }
            if total.retractions > summary.retractions.count { out += "<li>and \(total.retractions - summary.retractions.count) more (see the changes).</li>\n" }
            out += "</ul>\n"
        }
        return out + "</section>\n"
    }

    private func htmlFindings(_ history: PhraseHistory) -> String {
        let removals = history.removals.count, additions = history.changes.count - removals
        var out = "<section>\n<h2>Findings</h2>\n<p>The phrase was added by \(additions) event\(additions == 1 ? "" : "s") and removed by \(removals).</p>\n"
        out += "<table>\n<thead><tr><th>What</th><th>Document</th><th>Version</th><th>When</th><th>Who</th><th>Occurrences</th><th>Where</th></tr></thead>\n<tbody>\n"
        for change in history.changes {
            let removed = change.kind == .removed
            let occurrence = "<span class=\"ctx\">…\(Self.escapeHTML(change.context.before))</span>" + (removed ? "<del>" : "<ins>")
                + Self.escapeHTML(change.context.phrase) + (removed ? "</del>" : "</ins>") + "<span class=\"ctx\">\(Self.escapeHTML(change.context.after))…</span>"
            var who = Self.escapeHTML(change.event.actor)
            if let origin = change.originallyBy, removed { who += "<br><small>first written by \(Self.escapeHTML(origin.actor)) (position \(origin.position))</small>" }
            if !change.restoredBy.isEmpty { who += "<br><small>put back at position\(change.restoredBy.count == 1 ? "" : "s") \(change.restoredBy.map { String($0.position) }.joined(separator: ", "))</small>" }
            out += "<tr class=\"\(change.kind.rawValue)\"><td><strong><a href=\"#p\(change.event.position)\">\(removed ? "removed" : "added")</a></strong><br><small>position \(change.event.position)</small></td>"
                + "<td>\(Self.escapeHTML(change.event.document))</td><td>\(change.event.version)</td><td>\(change.event.at.iso8601)</td><td>\(who)</td>"
                + "<td>\(change.occurrencesBefore) → \(change.occurrencesAfter)</td><td class=\"text\">\(occurrence)</td></tr>\n"
        }
        return out + "</tbody>\n</table>\n</section>\n"
    }

    private func htmlChange(_ change: AuditReport.Change, _ facts: ReportSummary.Facts) -> String {
        let e = change.event
        var out = "<article class=\"change\" id=\"p\(e.position)\">\n<h4>\(Self.escapeHTML(e.document)) version \(e.version): \(e.type.rawValue) \(e.at.iso8601) by \(Self.escapeHTML(e.actor))"
        if !facts.unchanged, e.type != .retracted { out += " <small>−\(facts.wordsRemoved) / +\(facts.wordsAdded) words</small>" }
        out += "</h4>\n"
        var meta: [String] = []
        if let message = e.message { meta.append("Message: “\(Self.escapeHTML(message))”") }
        if let reason = e.reason { meta.append("Reason (\(e.kind?.rawValue ?? "other")): “\(Self.escapeHTML(reason))”") }
        if let source = e.source { meta.append("Source: <span class=\"text\">\(Self.escapeHTML(source))</span>") }
        if let variant = e.variantOf { meta.append("A version of \(Self.escapeHTML(variant))") }
        if let record = e.metadata[Ledger.citedRecordKey], let file = e.metadata[Ledger.citedFileKey] {
            let status = e.metadata["http.status"].map { "HTTP \(Self.escapeHTML($0)), " } ?? ""
            meta.append("Raw capture: \(status)WARC record <code>\(Self.escapeHTML(record))</code> in <code>warc/\(Self.escapeHTML(file))</code>, block digest <code>\(Self.escapeHTML(e.metadata[Ledger.citedDigestKey] ?? ""))</code>")
        }
        meta.append("Position \(e.position), recorded \(e.recordedAt.iso8601); event hash <code>\(e.hash.hex)</code>")
        out += "<p class=\"meta\">\(meta.joined(separator: " · "))</p>\n"
        if e.type == .retracted {
            out += "<p>The document was withdrawn; its text stays on record.</p>\n"
        } else if facts.unchanged {
            out += "<p>The text is unchanged.</p>\n"
        } else if let restores = facts.restores {
            out += "<p class=\"revert\">Restores the exact text of <a href=\"#p\(restores.position)\">version \(restores.version)</a> (\(facts.charactersAfter) characters; the JSON report holds the diff).</p>\n"
        } else if facts.blanking {
            let kept = change.pieces.filter { $0.kind == .added || $0.kind == .movedHere }.map(\.text).joined()
            out += "<p class=\"revert\">Blanking: \(facts.charactersBefore - facts.charactersAfter) of \(facts.charactersBefore) characters removed (\(facts.wordsRemoved) words); the text left reads: "
                + "<ins class=\"text\">\(Self.escapeHTML(Self.shortened(kept, limit: 600)))</ins></p>\n"
        } else {
            // A long report shows less around each change: it has thousands.
            let long = report.events.count > Self.openLimit
            out += "<div class=\"diff text\">\(Self.htmlPieces(change.pieces, budget: long ? Self.diffBudget : .max, context: long ? Self.context / 2 : Self.context))</div>\n"
        }
        return out + "</article>\n"
    }

    /// Bytes of HTML a report shows of one change's diff before it stops and counts what is left.
    static let diffBudget = 3000

    /// A word diff as HTML: removed runs in `<del>`, added in `<ins>`, moves marked, long
    /// unchanged runs shortened to their ends (the reports and the Atom feeds show diffs so). Past
    /// `budget` bytes, the rest of the diff is counted rather than shown.
    static func htmlPieces(_ pieces: [AuditReport.Piece], budget: Int = .max, context: Int = context) -> String {
        var out = ""
        for (k, piece) in pieces.enumerated() {
            if out.utf8.count > budget {
                let rest = pieces[k...].filter { $0.kind != .same }
                let words = rest.reduce(0) { $0 + Tokenizer.wordRanges(of: $1.text).count }
                out += "<span class=\"elided\">[… and \(plural(rest.count, "more changed passage")) (\(plural(words, "word"))) in this version, not shown: the JSON report has them all …]</span>"
                break
            }
            switch piece.kind {
            case .same:
                if let (head, omitted, tail) = Self.shortened(piece, first: k == 0, last: k == pieces.count - 1, context: context) {
                    out += Self.escapeHTML(head) + "<span class=\"elided\">[… \(omitted) characters unchanged …]</span>" + Self.escapeHTML(tail)
                } else {
                    out += Self.escapeHTML(piece.text)
                }
            case .removed: out += "<del>\(Self.escapeHTML(Self.shortened(piece.text, limit: Self.longPiece)))</del>"
            case .added: out += "<ins>\(Self.escapeHTML(Self.shortened(piece.text, limit: Self.longPiece)))</ins>"
            case .movedAway: out += "<del class=\"moved\" title=\"moved\">\(Self.escapeHTML(Self.shortened(piece.text, limit: Self.longPiece)))</del>"
            case .movedHere: out += "<ins class=\"moved\" title=\"moved\">\(Self.escapeHTML(Self.shortened(piece.text, limit: Self.longPiece)))</ins>"
            }
        }
        return out
    }

    private func htmlBlame(_ blame: Blame) -> String {
        let runs = AuditReport.blameRuns(blame)
        // Authors by how much of the text they wrote; the first colours go to the largest shares.
        var words: [String: Int] = [:]
        for token in blame.tokens { words[token.origin.actor, default: 0] += 1 }
        let authors = words.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map(\.key)
        let colourOf = Dictionary(uniqueKeysWithValues: authors.prefix(Self.palette.count).enumerated().map { ($1, $0) })
        var out = "<section>\n<h2>Who wrote the text of version \(blame.version)</h2>\n<p class=\"legend\">"
        for author in authors.prefix(Self.palette.count) {
            out += "<span class=\"a\(colourOf[author]!)\">\(Self.escapeHTML(author))</span> \(words[author]!) words · "
        }
        if authors.count > Self.palette.count {
            let rest = authors.dropFirst(Self.palette.count)
            out += "<span class=\"aother\">\(rest.count) other authors</span> \(rest.reduce(0) { $0 + words[$1]! }) words"
        }
        out += "</p>\n<div class=\"blame text\">"
        for run in runs {
            guard let origin = eventsByPosition[run.origin] else { out += Self.escapeHTML(run.text); continue }
            let cls = colourOf[origin.actor].map { "a\($0)" } ?? "aother"
            out += "<span class=\"\(cls)\" title=\"\(Self.escapeHTML(origin.actor)), position \(origin.position), \(origin.at.iso8601)\">\(Self.escapeHTML(run.text))</span>"
        }
        return out + "</div>\n</section>\n"
    }

    private func htmlEvidence(shown: Set<UInt64>) -> String {
        let others = report.events.filter { !shown.contains($0.position) }
        var out = "<section class=\"evidence\">\n<h2>Evidence</h2>\n<p>Each change above names its event's hash (SHA-256 of its RFC 8785 canonical JSON); the JSON report carries every cited event with its inclusion proof in checkpoint \(report.checkpoint.number) (signature <code>\(Hex.encode(report.checkpoint.signature))</code>), about \(Self.proofLength(size: report.checkpoint.treeSize)) hashes each.</p>\n"
        guard !others.isEmpty else { return out + "</section>\n" }
        out += "<p>The report also cites these events, whose changes it does not show:</p>\n<table>\n<thead><tr><th>Position</th><th>Document</th><th>Version</th><th>Type</th><th>Hash</th></tr></thead>\n<tbody>\n"
        for event in others {
            out += "<tr><td>\(event.position)</td><td>\(Self.escapeHTML(event.document))</td><td>\(event.version)</td><td>\(event.type.rawValue)</td><td><code>\(event.hash.hex)</code></td></tr>\n"
        }
        return out + "</tbody>\n</table>\n</section>\n"
    }

    /// The number of hashes in an inclusion proof in a tree of `size` leaves: about log2(size).
    static func proofLength(size: UInt64) -> Int {
        size <= 1 ? 0 : 64 - (size - 1).leadingZeroBitCount
    }

    // MARK: Markdown

    private func markdownHead(_ summary: ReportSummary) -> String {
        var out = "# \(Self.escapeMarkdown(title))\n\n"
        out += "Palimpsest audit report generated \(report.generatedAt.iso8601) from ledger `\(report.ledgerID.uuidString.lowercased())`. "
        out += "It cites \(report.events.count) events, each proved to be in checkpoint \(report.checkpoint.number) (the first \(report.checkpoint.treeSize) events, Merkle root `\(report.checkpoint.rootHash.hex)`, signed \(report.checkpoint.time.iso8601) by the Ed25519 key `\(Hex.encode(report.publicKey))`). "
        out += "The evidence is the JSON report: `python3 tools/verify-report.py REPORT.json --public-key KEY` checks it offline.\n\n"
        if let scope = scopeSentence { out += "**\(Self.escapeMarkdown(scope))**\n\n" }
        out += "Removed text is shown <del>struck through</del>, added text <ins>underlined</ins>; invisible and control characters as `[U+XXXX]`.\n\n"
        out += "## Summary\n\n"
        let total = summary.total
        if let first = summary.first, let last = summary.last {
            out += "\(Self.plural(total.changes, "change")) from \(first.iso8601.prefix(10)) to \(last.iso8601.prefix(10)): \(total.wordsRemoved) words removed and \(total.wordsAdded) added; \(Self.plural(total.blankings, "blanking")), \(Self.plural(total.reverts, "revert")), \(Self.plural(total.retractions, "withdrawal")).\n\n"
            out += "| Year | Changes | Blankings | Reverts | Withdrawals | Words removed | Words added |\n|---|---|---|---|---|---|---|\n"
            for (year, t) in summary.yearsInOrder() { out += "| \(year) | \(t.changes) | \(t.blankings) | \(t.reverts) | \(t.retractions) | \(t.wordsRemoved) | \(t.wordsAdded) |\n" }
            out += "\n### Who changed it most\n\n| Who | Changes | Words removed | Words added |\n|---|---|---|---|\n"
            for (actor, t) in summary.leadingActors(Self.leadingActors) { out += "| \(Self.escapeMarkdown(actor)) | \(t.changes) | \(t.wordsRemoved) | \(t.wordsAdded) |\n" }
            if !summary.largest.isEmpty {
                out += "\n### The largest removals\n\n"
                for r in summary.largest {
                    out += "- \(Self.escapeMarkdown(r.document)) version \(r.version) (position \(r.position)), \(r.at.iso8601) by \(Self.escapeMarkdown(r.actor)), \(Self.plural(r.words, "word")): <del>\(Self.escapeMarkdown(r.excerpt))</del>\n"
                }
            }
            out += "\n"
        } else {
            out += "The report shows no change.\n\n"
        }
        if let history = report.phraseHistory {
            out += "## Findings\n\n| What | Document | Version | When | Who | Occurrences | Where |\n|---|---|---|---|---|---|---|\n"
            for change in history.changes {
                let removed = change.kind == .removed
                let occurrence = "…" + Self.escapeMarkdown(change.context.before) + (removed ? "<del>" : "<ins>") + Self.escapeMarkdown(change.context.phrase)
                    + (removed ? "</del>" : "</ins>") + Self.escapeMarkdown(change.context.after) + "…"
                out += "| **\(change.kind.rawValue)** (position \(change.event.position)) | \(Self.escapeMarkdown(change.event.document)) | \(change.event.version) | \(change.event.at.iso8601) | \(Self.escapeMarkdown(change.event.actor)) | \(change.occurrencesBefore) → \(change.occurrencesAfter) | \(occurrence) |\n"
            }
            out += "\n"
        }
        return out + "## Changes\n\n"
    }

    private func markdownChange(_ change: AuditReport.Change, _ facts: ReportSummary.Facts) -> String {
        let e = change.event
        var out = "### Position \(e.position): \(Self.escapeMarkdown(e.document)) version \(e.version), \(e.type.rawValue) \(e.at.iso8601) by \(Self.escapeMarkdown(e.actor))\n\n"
        if let message = e.message { out += "Message: “\(Self.escapeMarkdown(message))”. " }
        out += "Event hash `\(e.hash.hex)`.\n\n"
        if e.type == .retracted { return out + "The document was withdrawn; its text stays on record.\n\n" }
        if facts.unchanged { return out + "The text is unchanged.\n\n" }
        if let restores = facts.restores { return out + "Restores the exact text of version \(restores.version) (position \(restores.position)).\n\n" }
        if facts.blanking {
            let kept = change.pieces.filter { $0.kind == .added || $0.kind == .movedHere }.map(\.text).joined()
            return out + "Blanking: \(facts.charactersBefore - facts.charactersAfter) of \(facts.charactersBefore) characters removed (\(facts.wordsRemoved) words); the text left reads: <ins>\(Self.escapeMarkdown(Self.shortened(kept, limit: 600)))</ins>\n\n"
        }
        var line = "> "
        for (k, piece) in change.pieces.enumerated() {
            switch piece.kind {
            case .same:
                if let (head, omitted, tail) = Self.shortened(piece, first: k == 0, last: k == change.pieces.count - 1) {
                    line += Self.escapeMarkdown(head) + " *[… \(omitted) characters unchanged …]* " + Self.escapeMarkdown(tail)
                } else {
                    line += Self.escapeMarkdown(piece.text)
                }
            case .removed, .movedAway: line += "<del>\(Self.escapeMarkdown(Self.shortened(piece.text, limit: Self.longPiece)))</del>" + (piece.kind == .movedAway ? " *(moved)*" : "")
            case .added, .movedHere: line += "<ins>\(Self.escapeMarkdown(Self.shortened(piece.text, limit: Self.longPiece)))</ins>" + (piece.kind == .movedHere ? " *(moved)*" : "")
            }
        }
        return out + line + "\n\n"
    }

    private func markdownTail() -> String {
        guard let blame = report.blame else { return "" }
        var out = "## Who wrote the text of version \(blame.version)\n\n| Words | Author |\n|---|---|\n"
        var words: [String: Int] = [:]
        for token in blame.tokens { words[token.origin.actor, default: 0] += 1 }
        for (author, count) in words.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            out += "| \(count) | \(Self.escapeMarkdown(author)) |\n"
        }
        return out + "\n"
    }

    // MARK: CSV rows

    /// RFC 4180 CSV: for a document one row per event, for a phrase one row per finding. Cells that a
    /// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) are prefixed with `'`.
    private func writeCSV(changes: Changes, _ emitting: (String) throws(LedgerError) -> Void) throws(LedgerError) {
        try withoutActuallyEscaping(emitting) { emit throws(LedgerError) in try writeCSV(changes: changes, escaping: emit) }
    }

    private func writeCSV(changes: Changes, escaping emit: @escaping (String) throws(LedgerError) -> Void) throws(LedgerError) {
        func row(_ cells: [String]) throws(LedgerError) { try emit(cells.map(Self.csvField).joined(separator: ",") + "\r\n") }
        if let history = report.phraseHistory {
            try row(["kind", "document", "version", "position", "at", "recordedAt", "actor", "countBefore", "countAfter", "lastSeenVersion", "context", "originallyBy", "restoredBy", "hash"])
            for change in history.changes {
                let e = eventsByPosition[change.event.position]
                try row([
                    change.kind.rawValue, change.event.document, String(change.event.version), String(change.event.position), change.event.at.iso8601,
                    change.event.recordedAt.iso8601, change.event.actor, String(change.occurrencesBefore), String(change.occurrencesAfter),
                    change.lastSeen.map { String($0.version) } ?? "", change.context.before + change.context.phrase + change.context.after,
                    change.originallyBy.map { String($0.position) } ?? "", change.restoredBy.map { String($0.position) }.joined(separator: " "), e?.hash.hex ?? "",
                ])
            }
            return
        }
        try row(["position", "version", "type", "at", "recordedAt", "actor", "source", "message", "wordsRemoved", "wordsAdded", "removed", "added", "contentHash", "hash"])
        try changes { change throws(LedgerError) in
            let e = change.event
            let (removed, added) = Self.wordsChanged(change.pieces)
            let removedText = change.pieces.filter { $0.kind == .removed }.map(\.text).joined(separator: " … ")
            let addedText = change.pieces.filter { $0.kind == .added }.map(\.text).joined(separator: " … ")
            try row([
                String(e.position), String(e.version), e.type.rawValue, e.at.iso8601, e.recordedAt.iso8601, e.actor, e.source ?? "", e.message ?? e.reason ?? "",
                String(removed), String(added), Self.shortened(removedText, limit: 30_000), Self.shortened(addedText, limit: 30_000), e.contentHash?.hex ?? "", e.hash.hex,
            ])
        }
    }

    static let palette = ["#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad", "#d0f4de", "#e4c1f9", "#fcf6bd", "#b9fbc0"]

    static var css: String {
        var css = """
            body{font:16px/1.5 Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;background:#fff}
            h1{font-size:1.6rem}h2{border-bottom:1px solid #999;margin-top:2rem}h3{font-size:1rem}
            .meta,.legend{font-size:.9rem;color:#333}code{font-size:.8rem;word-break:break-all}
            table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .4rem;vertical-align:top;text-align:left}
            .text{white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate}
            .diff,.blame{border:1px solid #ccc;padding:.6rem;background:#fcfcfc}
            del{background:#ffd7d5;color:#82071e;text-decoration:line-through;text-decoration-thickness:2px}
            ins{background:#ccffd8;color:#055d20;text-decoration:underline}
            del.moved,ins.moved{background:#e6e6fa;color:#333}
            .elided{color:#666;font-style:italic;font-size:.85rem}.ctx{color:#555}
            .ctl{font:bold .75rem monospace;color:#fff;background:#b00;border-radius:2px;padding:0 2px}
            tr.removed td:first-child{color:#82071e}tr.added td:first-child{color:#055d20}
            .change{border-top:1px dotted #aaa;padding-top:.4rem}.aother{background:#eee}h4{font-size:.95rem;margin:.6rem 0 .2rem}
            .timeline{display:flex;align-items:flex-end;gap:1px;height:82px;border-bottom:1px solid #999}
            .timeline span{flex:1 1 0;min-width:1px;background:#7a8fb8;display:flex;flex-direction:column;justify-content:flex-end}
            .timeline i{display:block;background:#c0392b}.axis{display:flex;justify-content:space-between;font-size:.8rem;color:#555;margin:.1rem 0 1rem}
            details{margin:.3rem 0}details>summary{cursor:pointer;font-weight:bold}details.month{margin-left:1rem}details.month>summary{font-weight:normal}
            .revert{color:#444;font-style:italic}.removals li{margin-bottom:.4rem}
            @media print{body{max-width:none;margin:0;font-size:11pt}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}.change{break-inside:avoid-page}a{color:inherit}}

            """
        for (k, colour) in palette.enumerated() { css += ".a\(k){background:\(colour)}" }
        return css
    }

    // MARK: CSV

    public static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Int(value) == nil { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Shared

    static func wordsChanged(_ pieces: [AuditReport.Piece]) -> (removed: Int, added: Int) {
        var removed = 0, added = 0
        for piece in pieces {
            switch piece.kind {
            case .removed: removed += Tokenizer.wordRanges(of: piece.text).count
            case .added: added += Tokenizer.wordRanges(of: piece.text).count
            default: break
            }
        }
        return (removed, added)
    }

    /// An unchanged run to show only by its ends: the context kept before the next change (unless it
    /// is the last run), how many characters are left out, and the context after the previous change
    /// (unless it is the first run). Nil when the run is short enough to show whole.
    static func shortened(_ piece: AuditReport.Piece, first: Bool, last: Bool, context: Int = context) -> (String, Int, String)? {
        let keepHead = first ? 0 : context, keepTail = last ? 0 : context
        // A run stored shortened is longer than this whatever the ends wanted, so nil means whole.
        guard piece.length > keepHead + keepTail + 40 else { return nil }
        let scalars = piece.text.unicodeScalars, tailScalars = (piece.tail ?? piece.text).unicodeScalars
        return (String(String.UnicodeScalarView(scalars.prefix(keepHead))), piece.length - keepHead - keepTail,
                String(String.UnicodeScalarView(tailScalars.suffix(keepTail))))
    }

    /// The beginning and end of a long text, with how much was left out.
    static func shortened(_ text: String, limit: Int) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > limit else { return text }
        let half = limit / 2
        return String(String.UnicodeScalarView(scalars[..<half])) + " [… \(scalars.count - 2 * half) characters …] "
            + String(String.UnicodeScalarView(scalars[(scalars.count - half)...]))
    }

    /// Characters that change how text around them displays without being seen: controls, the
    /// bidirectional embeddings, overrides and isolates, zero-width space and the byte-order mark.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: false
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200B, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF: true
        default: false
        }
    }

    /// `U+202E`: at least four hex digits, as Unicode writes code points.
    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    public static func escapeHTML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if isInvisible(scalar) {
                    out += "<span class=\"ctl\">[\(Self.codePoint(scalar))]</span>"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    static func escapeMarkdown(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\n": out += " ¶ "
            case "\r": break
            case "\\", "`", "*", "_", "[", "]", "#", "|", "~", "!", "{", "}": out += "\\" + String(scalar)
            default:
                if isInvisible(scalar) && scalar != "\t" {
                    out += "[\(Self.codePoint(scalar))]"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
