import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestText

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Show the history event by event: who did what, when, and the words each event changed.",
        discussion: """
            On a terminal removed words are red and struck through and added words green; in a pipe they
            are marked [-removed-] and {+added+}. --json prints one object a line
            (Schemas/replay-line.schema.json). --follow keeps printing events that other processes
            append, until interrupted (Ctrl-C ends it cleanly).
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "Only this document's events (with --rebuild: what to rebuild, \"indexes\" or a projection's name; everything when absent).") var document: String?
    @Flag(help: "Rebuild the indexes (catalogue, streams) and projections from the log instead of showing events.") var rebuild = false
    @Option(help: ArgumentHelp("Start at this position of the log.", valueName: "position")) var from: UInt64 = 1
    @Option(help: ArgumentHelp("Only events in effect at or before this time.", valueName: "time")) var until: String?
    @Flag(help: "Keep printing new events as they are recorded, until interrupted.") var follow = false
    @Option(help: ArgumentHelp("Words of unchanged text shown around each change.", valueName: "n")) var context: Int = 6
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let until { _ = try parseTime(until, option: "--until") }
        if from == 0 { throw ValidationError("--from counts positions from 1") }
        if context < 0 { throw ValidationError("--context must be 0 or more") }
    }

    func run() throws {
        if rebuild {
            let ledger = try location.open()
            if document == nil || document == "indexes" {
                try ledger.rebuildIndexes()
                print("Rebuilt the catalogue, the document streams and the ID indexes from the log (\(try ledger.head().position) events).")
                if document != nil { return }
            }
            let names = document.map { [$0] } ?? ledger.projectionNames
            try ledger.rebuildProjections(named: names)
            for name in names {
                print("Rebuilt the projection \"\(name)\" from position 1 to \(try ledger.checkpoint(of: name)?.position ?? 0).")
            }
            return
        }
        let ledger = try location.open(readOnly: true)
        let untilTime = try until.map { try parseTime($0, option: "--until") }
        if let document, try ledger.document(document) == nil {
            throw LedgerError(.notFound, "there is no document \"\(document)\" in the ledger")
        }
        let head = try ledger.head().position
        if from > head + 1 || (from > head && !follow) {
            throw LedgerError(.notFound, "position \(from) is beyond the end of the log (\(head) events)\(follow ? "" : "; use --follow to wait for it")")
        }
        if let untilTime, !follow {
            let first = try ledger.events(from: 1, matching: EventFilter(document: document), limit: 1).first
            if let first, first.at > untilTime {
                throw LedgerError(.notFound, "nothing happened at or before \(untilTime.iso8601): the first event is from \(first.at.iso8601)")
            }
        }
        let renderer = ReplayRenderer(ledger: ledger, style: output.json ? .json : isatty(1) != 0 ? .terminal : .plain, context: context)
        let sink = FileSink(fd: 1)
        let filter = EventFilter(document: document, until: untilTime)
        var next = from
        var printed = 0
        try ledger.forEachEvent(from: next, matching: filter) { event in
            try sink.write(renderer.render(event))
            try sink.flush()
            printed += 1
            next = event.position + 1
            return true
        }
        next = max(next, head + 1)
        if !follow {
            if printed == 0, !output.json { try sink.write("No events match.\n"); try sink.flush() }
            return
        }
        // Ctrl-C ends a follow: everything printed was flushed already. A parent that blocked these
        // signals (as thread pools do) passes its mask on to the processes it starts: unblock them.
        signal(SIGINT) { _ in _exit(0) }
        signal(SIGTERM) { _ in _exit(0) }
        var endSignals = sigset_t()
        sigemptyset(&endSignals)
        sigaddset(&endSignals, SIGINT)
        sigaddset(&endSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &endSignals, nil)
        let dataFile = (location.path as NSString).appendingPathComponent("data.mdb")
        while true {
            usleep(200_000)
            guard FileManager.default.fileExists(atPath: dataFile) else {
                throw LedgerError(.storage, "the ledger at \(location.path) disappeared while it was followed")
            }
            let now = try ledger.head().position
            guard now >= next else { continue }
            try ledger.forEachEvent(from: next, matching: filter) { event in
                guard event.position <= now else { return false }
                try sink.write(renderer.render(event))
                try sink.flush()
                return true
            }
            next = now + 1
        }
    }
}

/// Renders one event: a header and the words it changed.
final class ReplayRenderer {
    enum Style { case terminal, plain, json }

    let ledger: Ledger
    let style: Style
    let context: Int
    /// The last text seen per document, so that replaying in order reads each text once.
    private var lastText: [String: (version: UInt64, text: String)] = [:]
    private let texts: SequentialTextReader

    init(ledger: Ledger, style: Style, context: Int) {
        (self.ledger, self.style, self.context) = (ledger, style, context)
        texts = ledger.sequentialTextReader()
    }

    /// One change: the words removed and added, with unchanged words around them.
    struct Hunk {
        var before: String, removed: String, added: String, after: String
    }

    func render(_ event: RecordedEvent) throws -> String {
        let previous = try text(of: event.document, version: event.version - 1)
        var current: String? = nil
        if let hash = event.contentHash {
            current = try texts.text(hash: hash)
        }
        let hunks = current.map { hunksBetween(previous ?? "", $0) } ?? []
        if let current { lastText[event.document] = (event.version, current) }
        switch style {
        case .json:
            var object: [String: JSONValue] = ["event": event.json()]
            object["changes"] = .array(hunks.map { ["before": .string($0.before), "removed": .string($0.removed), "added": .string($0.added), "after": .string($0.after)] })
            return CanonicalJSON.string(.object(object)) + "\n"
        case .terminal, .plain:
            var out = "#\(event.position)  \(event.at.iso8601)  \(event.document) v\(event.version)  \(event.type.rawValue)  by \(event.actor)  (recorded \(event.recordedAt.iso8601))\n"
            if let message = event.message, !message.isEmpty { out += "    \(message.replacingOccurrences(of: "\n", with: "\n    "))\n" }
            switch event.type {
            case .redacted:
                let what = event.redacts.map { r in r.isWhole ? "v\(r.version) whole" : "v\(r.version) \(r.tokens.count) span\(r.tokens.count == 1 ? "" : "s")" }
                out += "    (texts withheld: \(what.joined(separator: ", ")); reason: \(event.reason ?? "")\(event.authority.map { "; authority: \($0)" } ?? ""))\n"
            case .retracted:
                out += "    (withdrawn: \(event.kind?.rawValue ?? "withdrawn")\(event.reason.map { ", \($0)" } ?? ""))\n"
            case .published where previous == nil:
                let words = Tokenizer.tokens(of: current ?? "").filter { $0.kind == .word }.count
                out += "    (first version: \(words) words)\n"
            default:
                if hunks.isEmpty { out += "    (no change to the text)\n" }
                for hunk in hunks { out += "    " + line(hunk) + "\n" }
            }
            return out + "\n"
        }
    }

    private func line(_ h: Hunk) -> String {
        let flat = { (s: String) in s.replacingOccurrences(of: "\n", with: "⏎") }
        let removed = h.removed.isEmpty ? "" : style == .terminal ? "\u{1B}[31;9m\(flat(h.removed))\u{1B}[0m" : "[-\(flat(h.removed))-]"
        let added = h.added.isEmpty ? "" : style == .terminal ? "\u{1B}[32m\(flat(h.added))\u{1B}[0m" : "{+\(flat(h.added))+}"
        return "…" + flat(h.before) + removed + added + flat(h.after) + "…"
    }

    private func text(of document: String, version: UInt64) throws -> String? {
        guard version >= 1 else { return nil }
        if let cached = lastText[document], cached.version == version { return cached.text }
        return try ledger.state(of: document, asOf: .version(version))?.text
    }

    /// The changed regions between two texts, each with `context` words around it.
    func hunksBetween(_ old: String, _ new: String) -> [Hunk] {
        let a = Tokenizer.tokens(of: old).map { String($0.text) }, b = Tokenizer.tokens(of: new).map { String($0.text) }
        let ops = TokenDiff.diff(a, b)
        var hunks: [Hunk] = []
        var index = 0
        while index < ops.count {
            guard case .equal = ops[index] else {
                var removed = "", added = ""
                var before = ""
                if index > 0, case .equal(let range, _) = ops[index - 1] {
                    before = a[max(range.lowerBound, range.upperBound - contextTokens)..<range.upperBound].joined()
                }
                while index < ops.count {
                    switch ops[index] {
                    case .delete(let r): removed += a[r].joined()
                    case .insert(let r): added += b[r].joined()
                    case .equal(let r, _) where r.count <= 2 && index + 1 < ops.count:
                        // A word or a space between two changes reads better inside one change.
                        removed += a[r].joined()
                        added += a[r].joined()
                    default:
                        break
                    }
                    if case .equal(let r, _) = ops[index], r.count > 2 || index + 1 == ops.count { break }
                    index += 1
                }
                var after = ""
                if index < ops.count, case .equal(let range, _) = ops[index] {
                    after = a[range.lowerBound..<min(range.upperBound, range.lowerBound + contextTokens)].joined()
                }
                hunks.append(Hunk(before: before, removed: removed, added: added, after: after))
                continue
            }
            index += 1
        }
        return hunks
    }

    /// Context is counted in words; whitespace between them are tokens too.
    private var contextTokens: Int { context * 2 }
}
