import Foundation
import Palimpsest
import PalimpsestText

/// The phrase index's reference: every version of every document read back as words, and a phrase's
/// count compared version to version (DESIGN.md §6), with none of the index's machinery.
public struct BruteForce {
    struct Version {
        var position: UInt64
        var words: [String]
        /// Positions of each word, folded, to find candidate starts quickly.
        var starts: [String: [Int]]
    }
    var documents: [[Version]] = []

    public init(_ ledger: Ledger) throws {
        for info in try ledger.documents() {
            var versions: [Version] = []
            for e in try ledger.events(of: info.id) ?? [] {
                var words: [String] = []
                if e.type != .retracted, let state = try ledger.state(of: info.id, asOf: .version(e.version)) {
                    words = Tokenizer.tokens(of: state.text).filter { $0.kind != .whitespace }.map { String($0.text) }
                }
                var starts: [String: [Int]] = [:]
                for (i, w) in words.enumerated() { starts[w.lowercased(), default: []].append(i) }
                versions.append(Version(position: e.position, words: words, starts: starts))
            }
            documents.append(versions)
        }
    }

    /// Non-overlapping occurrences, left to right.
    static func count(_ phrase: [String], in v: Version, folding: Bool) -> Int {
        guard let first = phrase.first else { return 0 }
        var n = 0, next = 0
        for i in v.starts[first.lowercased()] ?? [] where i >= next && i + phrase.count <= v.words.count {
            var same = true
            for k in 0..<phrase.count {
                let a = v.words[i + k], b = phrase[k]
                if folding ? a.lowercased() != b.lowercased() : a != b { same = false; break }
            }
            if same { n += 1; next = i + phrase.count }
        }
        return n
    }

    /// "position:added" / "position:removed" for every event that changed the phrase's count, in log order.
    public func changes(of phrase: String, ignoringCase: Bool) -> [String] {
        let words = Tokenizer.tokens(of: phrase).filter { $0.kind != .whitespace }.map { String($0.text) }
        var result: [(UInt64, String)] = []
        for versions in documents {
            var previous = 0
            for v in versions {
                let c = Self.count(words, in: v, folding: ignoringCase)
                if c != previous { result.append((v.position, c < previous ? "removed" : "added")) }
                previous = c
            }
        }
        return result.sorted { $0.0 < $1.0 }.map { "\($0.0):\($0.1)" }
    }

    /// Phrases chosen by a fixed rule, not by hand: from every 7th version, runs of 1, 2, 3, 4 and 6
    /// words at offsets that move with the version — so many were added, removed and added back.
    public func phrases(limit: Int) -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        var k = 0
        for versions in documents {
            for v in versions {
                defer { k += 1 }
                guard k % 7 == 0, !v.words.isEmpty else { continue }
                for (length, offset) in [(1, 13), (2, 101), (3, 257), (4, 509), (6, 1021)] {
                    let start = (offset * (k + 1)) % v.words.count
                    let phrase = v.words[start..<min(v.words.count, start + length)].joined(separator: " ")
                    if seen.insert(phrase).inserted { result.append(phrase) }
                    if result.count >= limit { return result }
                }
            }
        }
        return result
    }
}
