import Foundation
import Palimpsest
import PalimpsestText

/// The phrase index's reference: every version of every document read back and tokenised, and each
/// phrase's count compared version to version (DESIGN.md §6), with none of the index's machinery.
/// Versions are streamed, one at a time, so a history of any length fits in memory.
public enum BruteForce {
    /// Calls `body` with each version's position and words, document by document, in version order.
    static func forEachVersion(_ ledger: Ledger, _ body: (UInt64, [String]) throws -> Void, document done: () -> Void = {}) throws {
        for info in try ledger.documents() {
            for e in try ledger.events(of: info.id) ?? [] {
                var words: [String] = []
                if e.type != .retracted, let state = try ledger.state(of: info.id, asOf: .version(e.version)) {
                    words = Tokenizer.tokens(of: state.text).filter { $0.kind != .whitespace }.map { String($0.text) }
                }
                try body(e.position, words)
            }
            done()
        }
    }

    /// Phrases chosen by a fixed rule, not by hand: from every 7th version, runs of 1, 2, 3, 4 and 6
    /// words at offsets that move with the version — so many were added, removed and added back.
    public static func phrases(_ ledger: Ledger, limit: Int) throws -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        var k = 0
        try forEachVersion(ledger) { _, words in
            defer { k += 1 }
            guard k % 7 == 0, !words.isEmpty, result.count < limit else { return }
            for (length, offset) in [(1, 13), (2, 101), (3, 257), (4, 509), (6, 1021)] where result.count < limit {
                let start = (offset * (k + 1)) % words.count
                let phrase = words[start..<min(words.count, start + length)].joined(separator: " ")
                if seen.insert(phrase).inserted { result.append(phrase) }
            }
        }
        return result
    }

    /// For each phrase, "position:added" / "position:removed" for every event that changed its
    /// count, in log order. `ignoringCase[i]` folds case for phrase i.
    public static func changes(_ ledger: Ledger, phrases: [String], ignoringCase: [Bool]) throws -> [[String]] {
        let targets = phrases.map { Tokenizer.tokens(of: $0).filter { $0.kind != .whitespace }.map { String($0.text) } }
        var previous = [Int](repeating: 0, count: phrases.count)
        var found: [[(UInt64, String)]] = Array(repeating: [], count: phrases.count)
        try forEachVersion(ledger, { position, words in
            var starts: [String: [Int]] = [:]
            for (i, w) in words.enumerated() { starts[w.lowercased(), default: []].append(i) }
            let folded = words.map { $0.lowercased() }
            for (p, target) in targets.enumerated() {
                let c = count(target, words, folded, starts, folding: ignoringCase[p])
                if c != previous[p] { found[p].append((position, c < previous[p] ? "removed" : "added")) }
                previous[p] = c
            }
        }, document: { previous = [Int](repeating: 0, count: phrases.count) })
        return found.map { $0.sorted { $0.0 < $1.0 }.map { "\($0.0):\($0.1)" } }
    }

    /// Non-overlapping occurrences, left to right.
    static func count(_ phrase: [String], _ words: [String], _ folded: [String], _ starts: [String: [Int]], folding: Bool) -> Int {
        guard let first = phrase.first else { return 0 }
        let target = folding ? phrase.map { $0.lowercased() } : phrase
        let source = folding ? folded : words
        var n = 0, next = 0
        for i in starts[first.lowercased()] ?? [] where i >= next && i + phrase.count <= words.count {
            var same = true
            for k in 0..<phrase.count where source[i + k] != target[k] { same = false; break }
            if same { n += 1; next = i + phrase.count }
        }
        return n
    }
}
