/// Phrases as DESIGN.md §6 defines them: a sequence of non-whitespace tokens, matched whole-token,
/// ignoring differences in whitespace, case-sensitive unless asked otherwise.
public struct PhraseMatcher: Sendable, Equatable {
    /// The phrase's non-whitespace tokens (folded when ignoring case).
    public let words: [String]
    public let ignoresCase: Bool
    /// The words as UTF-8.
    public let phraseBytes: [[UInt8]]

    /// Nil when the phrase holds nothing but whitespace.
    public init?(_ phrase: String, ignoringCase: Bool = false) {
        let words = Tokenizer.tokens(of: phrase).filter { $0.kind != .whitespace }.map { ignoringCase ? $0.text.lowercased() : String($0.text) }
        guard !words.isEmpty else { return nil }
        (self.words, self.ignoresCase, self.phraseBytes) = (words, ignoringCase, words.map { Array($0.utf8) })
    }

    /// Whether two occurrences can overlap ("la la" in "la la la"). Counting such a phrase git's way
    /// (non-overlapping, left to right) is not local: an edit far away can shift which occurrences
    /// count, so the phrase index cannot answer for it and the versions are scanned instead.
    public var canOverlapItself: Bool {
        let n = words.count
        guard n > 1 else { return false }
        for shift in 1..<n where Array(words[shift...]) == Array(words[..<(n - shift)]) { return true }
        return false
    }

    /// How many times the phrase occurs in a text: non-overlapping occurrences, left to right, the
    /// way `git log -S` counts.
    public func count(in text: String) -> Int {
        var text = text
        let words = Tokenizer.wordRanges(of: text)
        return text.withUTF8 { occurrences(inWords: words, of: UnsafeRawBufferPointer($0)).count }
    }

    /// Occurrences (start indexes, non-overlapping, left to right) among words given as byte ranges
    /// of `bytes`, compared byte for byte — ASCII case folded when ignoring case, other letters
    /// through `lowercased()`. No string is built for a word that cannot match.
    public func occurrences(inWords words: some RandomAccessCollection<Range<Int>>, of bytes: UnsafeRawBufferPointer) -> [Int] {
        let n = phraseBytes.count
        guard n > 0, words.count >= n else { return [] }
        let words = words as? [Range<Int>] ?? Array(words)
        func same(_ k: Int, _ w: Range<Int>) -> Bool {
            let p = phraseBytes[k]
            if !ignoresCase {
                guard p.count == w.count else { return false }
                for (i, b) in zip(w, p) where bytes[i] != b { return false }
                return true
            }
            var ascii = true
            for i in w where bytes[i] >= 0x80 { ascii = false; break }
            if ascii {
                guard p.count == w.count else { return false }
                for (i, b) in zip(w, p) {
                    let c = bytes[i]
                    if (c >= 65 && c <= 90 ? c | 0x20 : c) != b { return false }
                }
                return true
            }
            return Array(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[w]), as: UTF8.self).lowercased().utf8) == p
        }
        var result: [Int] = []
        var i = 0
        while i <= words.count - n {
            var k = 0
            while k < n, same(k, words[i + k]) { k += 1 }
            if k == n { result.append(i); i += n } else { i += 1 }
        }
        return result
    }

    /// False only when the phrase cannot occur in `bytes`: a check that reads bytes, never
    /// tokenises, for what a query would otherwise tokenise just to count nothing. Case-sensitive
    /// phrases only (it answers true when ignoring case): the words' bytes must follow one another
    /// with nothing but ASCII whitespace between them; where the gap holds a non-ASCII byte (which
    /// may be whitespace too) it answers true. Where a word's bytes stand is not checked against
    /// token boundaries, so true may still mean no occurrence.
    public func mayOccur(in bytes: UnsafeRawBufferPointer) -> Bool {
        guard !ignoresCase, let first = phraseBytes.first, let lead = first.first else { return true }
        let n = bytes.count
        var start = 0
        while start + first.count <= n {
            guard bytes[start] == lead else {
                start += 1
                continue
            }
            var at = start
            var matched = true
            for (k, word) in phraseBytes.enumerated() {
                if k > 0 { while at < n, bytes[at] == 0x20 || (bytes[at] >= 0x09 && bytes[at] <= 0x0D) { at += 1 } }
                guard at + word.count <= n, word.indices.allSatisfy({ bytes[at + $0] == word[$0] }) else {
                    // Not here — unless the gap goes on with a non-ASCII byte (whitespace, maybe).
                    if k > 0, at < n, bytes[at] >= 0x80 { return true }
                    matched = false
                    break
                }
                at += word.count
            }
            if matched { return true }
            start += 1
        }
        return false
    }

    /// The non-whitespace tokens of a text, with their ranges.
    public static func words(of text: String) -> [Tokenizer.Token] {
        Tokenizer.tokens(of: text).filter { $0.kind != .whitespace }
    }
}
