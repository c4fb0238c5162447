/// Phrases as DESIGN.md §6 defines them: a sequence of non-whitespace tokens, matched whole-token,
/// ignoring differences in whitespace, case-sensitive unless asked otherwise.
public struct PhraseMatcher: Sendable {
    /// The phrase's non-whitespace tokens (folded when ignoring case).
    public let words: [String]
    public let ignoresCase: Bool

    /// Nil when the phrase holds nothing but whitespace.
    public init?(_ phrase: String, ignoringCase: Bool = false) {
        let words = Tokenizer.tokens(of: phrase).filter { $0.kind != .whitespace }.map { ignoringCase ? $0.text.lowercased() : String($0.text) }
        guard !words.isEmpty else { return nil }
        (self.words, self.ignoresCase) = (words, ignoringCase)
    }

    /// The non-whitespace tokens of a text, as the matcher compares them.
    public func comparable(_ words: [Substring]) -> [String] {
        words.map { ignoresCase ? $0.lowercased() : String($0) }
    }

    /// How many times the phrase occurs in a sequence of words: non-overlapping occurrences, left to
    /// right, the way `git log -S` counts.
    public func count(in sequence: [String]) -> Int {
        occurrences(in: sequence).count
    }

    /// Start indexes of the occurrences, non-overlapping, left to right (git's rule).
    public func occurrences(in sequence: [String]) -> [Int] {
        let n = words.count
        guard sequence.count >= n else { return [] }
        var result: [Int] = []
        var i = 0
        let first = words[0]
        while i <= sequence.count - n {
            if sequence[i] == first {
                var k = 1
                while k < n, sequence[i + k] == words[k] { k += 1 }
                if k == n { result.append(i); i += n; continue }
            }
            i += 1
        }
        return result
    }

    /// The non-whitespace tokens of a text, with their ranges.
    public static func words(of text: String) -> [Tokenizer.Token] {
        Tokenizer.tokens(of: text).filter { $0.kind != .whitespace }
    }
}
