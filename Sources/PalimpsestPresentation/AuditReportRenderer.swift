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

    // MARK: HTML

    public func html() -> String {
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

            """
        let checkpoint = report.checkpoint
        out += """
            <p class="meta">Palimpsest audit report generated \(report.generatedAt.iso8601) from ledger <code>\(report.ledgerID.uuidString.lowercased())</code>.
            It cites \(report.events.count) events; each is proved to be in checkpoint \(checkpoint.number): the first \(checkpoint.treeSize) events of the ledger,
            Merkle root <code>\(checkpoint.rootHash.hex)</code>, signed \(checkpoint.time.iso8601) by the Ed25519 key <code>\(Hex.encode(report.publicKey))</code>.</p>
            <p class="meta">This page is a reading of the JSON report. To check the evidence without the ledger:
            <code>python3 tools/verify-report.py REPORT.json --public-key \(Hex.encode(report.publicKey))</code>
            (with the key obtained from the ledger's owner, not from the report).</p>
            <p class="legend">Legend: <del>removed text</del> <ins>added text</ins> <del class="moved">moved away</del> <ins class="moved">moved here</ins> <span class="elided">[… unchanged text not shown …]</span> <span class="ctl">[U+202E]</span> an invisible or control character, shown instead of obeyed.</p>
            </header>

            """
        if let history = report.phraseHistory { out += htmlFindings(history) }
        if case .document = report.subject {
            out += htmlVersions()
            out += htmlRemovalsByActor()
        }
        out += "<section>\n<h2>Changes</h2>\n"
        for change in report.changes { out += htmlChange(change) }
        out += "</section>\n"
        if let blame = report.blame { out += htmlBlame(blame) }
        out += htmlEvidence()
        out += "</body>\n</html>\n"
        return out
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
            out += "<tr class=\"\(change.kind.rawValue)\"><td><strong>\(removed ? "removed" : "added")</strong><br><small>position \(change.event.position)</small></td>"
                + "<td>\(Self.escapeHTML(change.event.document))</td><td>\(change.event.version)</td><td>\(change.event.at.iso8601)</td><td>\(who)</td>"
                + "<td>\(change.occurrencesBefore) → \(change.occurrencesAfter)</td><td class=\"text\">\(occurrence)</td></tr>\n"
        }
        return out + "</tbody>\n</table>\n</section>\n"
    }

    private func htmlVersions() -> String {
        var out = "<section>\n<h2>Versions</h2>\n<table>\n<thead><tr><th>Version</th><th>Position</th><th>Event</th><th>When</th><th>Recorded</th><th>Who</th><th>Words −/+</th><th>Message</th></tr></thead>\n<tbody>\n"
        for change in report.changes {
            let e = change.event
            let (removed, added) = Self.wordsChanged(change.pieces)
            out += "<tr><td>\(e.version)</td><td>\(e.position)</td><td>\(e.type.rawValue)</td><td>\(e.at.iso8601)</td><td>\(e.recordedAt.iso8601)</td>"
                + "<td>\(Self.escapeHTML(e.actor))</td><td>−\(removed) / +\(added)</td><td class=\"text\">\(Self.escapeHTML(e.message ?? e.reason ?? ""))</td></tr>\n"
        }
        return out + "</tbody>\n</table>\n</section>\n"
    }

    private func htmlRemovalsByActor() -> String {
        let removals = removalsByActor()
        guard !removals.isEmpty else { return "" }
        var out = "<section>\n<h2>Removed text, by who removed it</h2>\n"
        for (actor, items) in removals {
            let words = items.reduce(0) { $0 + $1.words }
            out += "<h3>\(Self.escapeHTML(actor)) — \(words) word\(words == 1 ? "" : "s") in \(Set(items.map(\.position)).count) event\(Set(items.map(\.position)).count == 1 ? "" : "s")</h3>\n<ul>\n"
            for item in items {
                out += "<li><small>position \(item.position), \(item.at.iso8601)</small> <del>\(Self.escapeHTML(Self.shortened(item.text, limit: 600)))</del></li>\n"
            }
            out += "</ul>\n"
        }
        return out + "</section>\n"
    }

    private func htmlChange(_ change: AuditReport.Change) -> String {
        let e = change.event
        var out = "<article class=\"change\" id=\"p\(e.position)\">\n<h3>Position \(e.position): \(Self.escapeHTML(e.document)) version \(e.version), \(e.type.rawValue) \(e.at.iso8601) by \(Self.escapeHTML(e.actor))</h3>\n"
        var facts: [String] = []
        if let message = e.message { facts.append("Message: “\(Self.escapeHTML(message))”") }
        if let reason = e.reason { facts.append("Reason (\(e.kind?.rawValue ?? "other")): “\(Self.escapeHTML(reason))”") }
        if let source = e.source { facts.append("Source: <span class=\"text\">\(Self.escapeHTML(source))</span>") }
        if let variant = e.variantOf { facts.append("A version of \(Self.escapeHTML(variant))") }
        if let record = e.metadata[Ledger.citedRecordKey], let file = e.metadata[Ledger.citedFileKey] {
            let status = e.metadata["http.status"].map { "HTTP \(Self.escapeHTML($0)), " } ?? ""
            facts.append("Raw capture: \(status)WARC record <code>\(Self.escapeHTML(record))</code> in <code>warc/\(Self.escapeHTML(file))</code>, block digest <code>\(Self.escapeHTML(e.metadata[Ledger.citedDigestKey] ?? ""))</code>")
        }
        facts.append("Recorded \(e.recordedAt.iso8601); event hash <code>\(e.hash.hex)</code>")
        out += "<p class=\"meta\">\(facts.joined(separator: " · "))</p>\n"
        if e.type == .retracted {
            out += "<p>The document was withdrawn; its text stays on record.</p>\n"
        } else if change.pieces.allSatisfy({ $0.kind == .same }) {
            out += "<p>The text is unchanged.</p>\n"
        } else {
            out += "<div class=\"diff text\">\(htmlPieces(change.pieces))</div>\n"
        }
        return out + "</article>\n"
    }

    func htmlPieces(_ pieces: [AuditReport.Piece]) -> String { Self.htmlPieces(pieces) }

    /// A word diff as HTML: removed runs in `<del>`, added in `<ins>`, moves marked, long
    /// unchanged runs shortened to their ends (the reports and the Atom feeds show diffs so).
    static func htmlPieces(_ pieces: [AuditReport.Piece]) -> String {
        var out = ""
        for (k, piece) in pieces.enumerated() {
            switch piece.kind {
            case .same:
                if let (head, omitted, tail) = Self.shortened(piece, first: k == 0, last: k == pieces.count - 1) {
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

    private func htmlEvidence() -> String {
        var out = "<section class=\"evidence\">\n<h2>Evidence</h2>\n<p>Every cited event, its hash (SHA-256 of its RFC 8785 canonical JSON) and the length of its inclusion proof in checkpoint \(report.checkpoint.number) (signature <code>\(Hex.encode(report.checkpoint.signature))</code>).</p>\n"
        out += "<table>\n<thead><tr><th>Position</th><th>Document</th><th>Version</th><th>Type</th><th>Hash</th><th>Proof</th></tr></thead>\n<tbody>\n"
        for event in report.events {
            out += "<tr><td>\(event.position)</td><td>\(Self.escapeHTML(event.document))</td><td>\(event.version)</td><td>\(event.type.rawValue)</td><td><code>\(event.hash.hex)</code></td><td>\(report.proofs[event.position]?.path.count ?? 0) hashes</td></tr>\n"
        }
        return out + "</tbody>\n</table>\n</section>\n"
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
            .change{border-top:1px dotted #aaa;padding-top:.4rem}.aother{background:#eee}
            @media print{body{max-width:none;margin:0;font-size:11pt}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}.change{break-inside:avoid-page}a{color:inherit}}

            """
        for (k, colour) in palette.enumerated() { css += ".a\(k){background:\(colour)}" }
        return css
    }

    // MARK: Markdown

    public func markdown() -> String {
        var out = "# \(Self.escapeMarkdown(title))\n\n"
        out += "Palimpsest audit report generated \(report.generatedAt.iso8601) from ledger `\(report.ledgerID.uuidString.lowercased())`. "
        out += "It cites \(report.events.count) events, each proved to be in checkpoint \(report.checkpoint.number) (the first \(report.checkpoint.treeSize) events, Merkle root `\(report.checkpoint.rootHash.hex)`, signed \(report.checkpoint.time.iso8601) by the Ed25519 key `\(Hex.encode(report.publicKey))`). "
        out += "The evidence is the JSON report: `python3 tools/verify-report.py REPORT.json --public-key KEY` checks it offline.\n\n"
        out += "Removed text is shown <del>struck through</del>, added text <ins>underlined</ins>; invisible and control characters as `[U+XXXX]`.\n\n"
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
        if case .document = report.subject {
            out += "## Versions\n\n| Version | Position | Event | When | Who | Words −/+ | Message |\n|---|---|---|---|---|---|---|\n"
            for change in report.changes {
                let e = change.event
                let (removed, added) = Self.wordsChanged(change.pieces)
                out += "| \(e.version) | \(e.position) | \(e.type.rawValue) | \(e.at.iso8601) | \(Self.escapeMarkdown(e.actor)) | −\(removed) / +\(added) | \(Self.escapeMarkdown(e.message ?? e.reason ?? "")) |\n"
            }
            out += "\n"
            let removals = removalsByActor()
            if !removals.isEmpty {
                out += "## Removed text, by who removed it\n\n"
                for (actor, items) in removals {
                    out += "### \(Self.escapeMarkdown(actor))\n\n"
                    for item in items { out += "- position \(item.position), \(item.at.iso8601): <del>\(Self.escapeMarkdown(Self.shortened(item.text, limit: 600)))</del>\n" }
                    out += "\n"
                }
            }
        }
        out += "## Changes\n\n"
        for change in report.changes {
            let e = change.event
            out += "### Position \(e.position): \(Self.escapeMarkdown(e.document)) version \(e.version), \(e.type.rawValue) \(e.at.iso8601) by \(Self.escapeMarkdown(e.actor))\n\n"
            if let message = e.message { out += "Message: “\(Self.escapeMarkdown(message))”. " }
            out += "Event hash `\(e.hash.hex)`.\n\n"
            if e.type == .retracted { out += "The document was withdrawn; its text stays on record.\n\n"; continue }
            guard change.pieces.contains(where: { $0.kind != .same }) else { out += "The text is unchanged.\n\n"; continue }
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
            out += line + "\n\n"
        }
        if let blame = report.blame {
            out += "## Who wrote the text of version \(blame.version)\n\n| Words | Author |\n|---|---|\n"
            var words: [String: Int] = [:]
            for token in blame.tokens { words[token.origin.actor, default: 0] += 1 }
            for (author, count) in words.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                out += "| \(count) | \(Self.escapeMarkdown(author)) |\n"
            }
            out += "\n"
        }
        return out
    }

    // MARK: CSV

    /// RFC 4180 CSV: for a document one row per event, for a phrase one row per finding. Cells that a
    /// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) are prefixed with `'`.
    public func csv() -> String {
        var rows: [[String]]
        if let history = report.phraseHistory {
            rows = [["kind", "document", "version", "position", "at", "recordedAt", "actor", "countBefore", "countAfter", "lastSeenVersion", "context", "originallyBy", "restoredBy", "hash"]]
            for change in history.changes {
                let e = eventsByPosition[change.event.position]
                rows.append([
                    change.kind.rawValue, change.event.document, String(change.event.version), String(change.event.position), change.event.at.iso8601,
                    change.event.recordedAt.iso8601, change.event.actor, String(change.occurrencesBefore), String(change.occurrencesAfter),
                    change.lastSeen.map { String($0.version) } ?? "", change.context.before + change.context.phrase + change.context.after,
                    change.originallyBy.map { String($0.position) } ?? "", change.restoredBy.map { String($0.position) }.joined(separator: " "), e?.hash.hex ?? "",
                ])
            }
        } else {
            rows = [["position", "version", "type", "at", "recordedAt", "actor", "source", "message", "wordsRemoved", "wordsAdded", "removed", "added", "contentHash", "hash"]]
            for change in report.changes {
                let e = change.event
                let (removed, added) = Self.wordsChanged(change.pieces)
                let removedText = change.pieces.filter { $0.kind == .removed }.map(\.text).joined(separator: " … ")
                let addedText = change.pieces.filter { $0.kind == .added }.map(\.text).joined(separator: " … ")
                rows.append([
                    String(e.position), String(e.version), e.type.rawValue, e.at.iso8601, e.recordedAt.iso8601, e.actor, e.source ?? "", e.message ?? e.reason ?? "",
                    String(removed), String(added), Self.shortened(removedText, limit: 30_000), Self.shortened(addedText, limit: 30_000), e.contentHash?.hex ?? "", e.hash.hex,
                ])
            }
        }
        return rows.map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    public static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Int(value) == nil { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Shared

    struct Removal {
        var position: UInt64
        var at: Timestamp
        var text: String
        var words: Int
    }

    /// Removed runs of text grouped by who removed them, most words first.
    func removalsByActor() -> [(String, [Removal])] {
        var byActor: [String: [Removal]] = [:]
        for change in report.changes {
            for piece in change.pieces where piece.kind == .removed {
                let words = Tokenizer.wordRanges(of: piece.text).count
                guard words > 0 else { continue }
                byActor[change.event.actor, default: []].append(Removal(position: change.event.position, at: change.event.at, text: piece.text, words: words))
            }
        }
        return byActor.map { ($0.key, $0.value) }.sorted { a, b in
            let (wa, wb) = (a.1.reduce(0) { $0 + $1.words }, b.1.reduce(0) { $0 + $1.words })
            return wa != wb ? wa > wb : a.0 < b.0
        }
    }

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
    static func shortened(_ piece: AuditReport.Piece, first: Bool, last: Bool) -> (String, Int, String)? {
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
