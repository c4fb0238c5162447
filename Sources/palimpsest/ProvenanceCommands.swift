import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation
import PalimpsestText

struct Blame: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blame",
        abstract: "Who wrote each word of a document, and when (default: its latest version).",
        discussion: """
            Plain output prints one line per run of words with the same origin: version, time, actor, then the
            words (↵ marks a line break). --json gives every token with its origin and the events that removed
            and restored it, written as it is computed; --json --runs gives runs of words with the same origin,
            without those histories.
            """)

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document ID.") var document: String
    @Option(help: "The version to blame (1 is the first).") var version: UInt64?
    @Option(help: ArgumentHelp("Blame the latest version in effect at this time.", valueName: "time")) var at: String?
    @Flag(help: "With --json: consecutive words with the same origin as one run, without removal and restoration histories.")
    var runs = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if version != nil, at != nil { throw ValidationError("give --version or --at, not both") }
        if version == 0 { throw ValidationError("--version counts from 1") }
        if runs, !output.json { throw ValidationError("--runs shapes the JSON output; give it with --json") }
        if let at { _ = try parseTime(at, option: "--at") }
    }

    func run() throws {
        let ledger = try location.openForReading()
        let asOf: AsOf = try version.map(AsOf.version) ?? at.map { .time(try parseTime($0, option: "--at")) } ?? .latest
        let state = try Answers.state(ledger, document, asOf, said: at ?? "")
        if output.json {
            try writeJSON(ledger, version: state.version)
            return
        }
        let runs = try Answers.blameRuns(ledger, document, version: state.version)
        let lines = runs.map { ($0.origin.line, oneLine($0.text)) }
        let width = lines.map { $0.0.count }.max() ?? 0
        let out = StreamedOutput()
        for (origin, text) in lines {
            out.append(origin + String(repeating: " ", count: width - origin.count) + "  │ " + text + "\n")
        }
    }

    /// The JSON answer, written token by token (or run by run) as the ledger yields them; each event's
    /// JSON is encoded once, however many tokens cite it. Keys in canonical order, as `printJSON` writes.
    private func writeJSON(_ ledger: Ledger, version: UInt64) throws {
        let out = StreamedOutput()
        var encoded: [UInt64: [UInt8]] = [:]
        func reference(_ r: EventReference, into buffer: inout [UInt8]) {
            if let bytes = encoded[r.position] {
                buffer.append(contentsOf: bytes)
            } else {
                let bytes = CanonicalJSON.encode(r.json)
                encoded[r.position] = bytes
                buffer.append(contentsOf: bytes)
            }
        }
        out.append { b in
            b.append(contentsOf: Array(#"{"document":"#.utf8))
            CanonicalJSON.writeString(document, into: &b)
            b.append(contentsOf: Array((runs ? #","runs":["# : #","tokens":["#).utf8))
        }
        var first = true
        if runs {
            var current: (origin: EventReference, text: String)? = nil
            func emit(_ run: (origin: EventReference, text: String)) {
                out.append { b in
                    if !first { b.append(UInt8(ascii: ",")) }
                    first = false
                    b.append(contentsOf: Array(#"{"origin":"#.utf8))
                    reference(run.origin, into: &b)
                    b.append(contentsOf: Array(#","text":"#.utf8))
                    CanonicalJSON.writeString(run.text, into: &b)
                    b.append(UInt8(ascii: "}"))
                }
            }
            _ = try ledger.blame(document, asOf: .version(version), history: false) { token in
                if let c = current, c.origin.position == token.origin.position {
                    current!.text += token.text
                } else {
                    if let c = current { emit(c) }
                    current = (token.origin, token.text)
                }
            }
            if let c = current { emit(c) }
        } else {
            _ = try ledger.blame(document, asOf: .version(version)) { token in
                out.append { b in
                    if !first { b.append(UInt8(ascii: ",")) }
                    first = false
                    b.append(contentsOf: Array(#"{"origin":"#.utf8))
                    reference(token.origin, into: &b)
                    for (key, list) in [(#","removedBy":["#, token.removedBy), (#"],"restoredBy":["#, token.restoredBy)] {
                        b.append(contentsOf: Array(key.utf8))
                        for (i, r) in list.enumerated() {
                            if i > 0 { b.append(UInt8(ascii: ",")) }
                            reference(r, into: &b)
                        }
                    }
                    b.append(contentsOf: Array(#"],"text":"#.utf8))
                    CanonicalJSON.writeString(token.text, into: &b)
                    b.append(UInt8(ascii: "}"))
                }
            }
        }
        out.append("],\"version\":\(version)}\n")
    }
}

/// The options `removed` and `trace` share.
struct PhraseOptions: ParsableArguments {
    @Argument(help: "The phrase: words and punctuation, matched whole-token; whitespace differences are ignored.") var phrase: String
    @Option(help: ArgumentHelp("Only this document.", valueName: "doc")) var doc: String?
    @Flag(name: .customLong("ignore-case"), help: "Fold case when matching.") var ignoreCase = false
    @Option(help: ArgumentHelp("Only changes in effect at or after this time.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only changes in effect at or before this time.", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("List at most this many changes; the answer then names the cursor for the next page.", valueName: "n")) var limit: Int?
    @Option(help: ArgumentHelp("Start after this cursor (the position a previous page named as next).", valueName: "cursor")) var after: UInt64?

    func validate() throws {
        if let since { _ = try parseTime(since, option: "--since") }
        if let until { _ = try parseTime(until, option: "--until") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, not \(limit)") }
    }

    /// Prints the changes of `kinds`, as JSON under `key` or one block per change, each as soon as it
    /// is described.
    func report(_ ledger: Ledger, json: Bool, listedAs key: String, kinds: Set<PhraseChange.Kind>) throws {
        let query = PhraseQuery(
            phrase, document: doc, ignoringCase: ignoreCase,
            since: try since.map { try parseTime($0, option: "--since") }, until: try until.map { try parseTime($0, option: "--until") })
        let page = try ledger.phraseChanges(query, kinds: kinds, after: after, limit: limit)
        if !page.usedIndex {
            let why = PhraseMatcher(phrase, ignoringCase: ignoreCase).map { $0.words.count > PhraseIndexProjection.maximumWords } ?? false
                ? "the phrase has more than \(PhraseIndexProjection.maximumWords) words, more than the phrase index holds"
                : "the phrase can overlap itself, which the phrase index cannot count"
            writeToStandardError("note: \(why); every version was scanned instead (slower, same answer)\n")
        }
        let out = StreamedOutput()
        if json {
            // Keys in canonical order, as printJSON writes them: next, phrase, then the list.
            out.append { b in
                b.append(contentsOf: Array(#"{"next":"#.utf8))
                b.append(contentsOf: Array((page.next.map { String($0) } ?? "null").utf8))
                b.append(contentsOf: Array(#","phrase":"#.utf8))
                CanonicalJSON.writeString(phrase, into: &b)
                b.append(contentsOf: Array(",\"\(key)\":[".utf8))
            }
            var first = true
            try page.forEach { change in
                out.append { b in
                    if !first { b.append(UInt8(ascii: ",")) }
                    first = false
                    CanonicalJSON.write(change.json, into: &b)
                }
                out.flush()
            }
            out.append("]}\n")
            return
        }
        try page.forEach { change in
            out.append(change.plain)
            out.flush()
        }
        if let next = page.next { out.append("more: continue with --after \(next)\n") }
    }
}

struct Removed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "removed",
        abstract: "Every event that removed a phrase, oldest first: document, version, actor, time, the last version that had it, context, who first wrote it, and later restorations.",
        discussion: "An event removed the phrase when the phrase occurs fewer times after it than before it (the rule of git log -S). Prints nothing, and exits 0, when no event removed it.")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var phrase: PhraseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try phrase.report(try location.openForReading(), json: output.json, listedAs: "removals", kinds: [.removed])
    }
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "The whole life of a phrase: every event that added or removed it, across documents, oldest first.")

    @OptionGroup var location: LedgerOptions
    @OptionGroup var phrase: PhraseOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try phrase.report(try location.openForReading(), json: output.json, listedAs: "changes", kinds: [.added, .removed])
    }
}

