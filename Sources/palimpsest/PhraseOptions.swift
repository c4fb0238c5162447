import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation
import PalimpsestText
import PalimpsestText

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
