/// Splits a text into paragraphs and a paragraph's tokens into sentences, the units that word-level
/// provenance matches before it diffs tokens (the approach of WikiWho, Flöck & Acosta, WWW 2014).
///
/// Boundaries follow WikiWho's so that both agree on what a unit is: a paragraph ends at a blank
/// line and wiki or HTML table rows are paragraphs of their own; a sentence ends after ". " (when the
/// three characters before the dot are not spaces, dots or "="), "; ", "? ", "! ", ": ", a line break
/// or a tab, and comments, references and URLs are sentences of their own. Every boundary falls between
/// two tokens, so the tokens of the units, in order, are the tokens of the whole text.
public enum Segmenter {
    /// The non-blank paragraphs of `text`, as ranges with whitespace trimmed, in order.
    public static func paragraphs(of text: String) -> [Range<String.Index>] {
        var text = text
        let cuts = text.withUTF8 { paragraphCuts($0) }
        var result: [Range<String.Index>] = []
        let base = text.utf8.startIndex
        for (lo, hi) in cuts {
            result.append(text.utf8.index(base, offsetBy: lo)..<text.utf8.index(base, offsetBy: hi))
        }
        return result
    }

    /// Paragraphs as trimmed byte ranges. `skippingPlainRuns: false` looks at every byte (the
    /// reference the tests hold the fast scan to).
    static func paragraphCuts(_ utf8: UnsafeBufferPointer<UInt8>, skippingPlainRuns: Bool = true) -> [(Int, Int)] {
        var cuts: [Int] = [0]
        var i = 0
        let n = utf8.count
        func starts(_ pattern: StaticString, at offset: Int) -> Bool {
            let count = pattern.utf8CodeUnitCount
            guard offset + count <= n else { return false }
            return pattern.withUTF8Buffer { p in
                for k in 0..<count where utf8[offset + k] != p[k] { return false }
                return true
            }
        }
        // Sixteen bytes at a time while none of them can start a cut: most of a text is words.
        let newline = SIMD16<UInt8>(repeating: UInt8(ascii: "\n")), brace = SIMD16<UInt8>(repeating: UInt8(ascii: "{"))
        let bar = SIMD16<UInt8>(repeating: UInt8(ascii: "|")), angle = SIMD16<UInt8>(repeating: UInt8(ascii: "<"))
        let raw = UnsafeRawBufferPointer(utf8)
        var plainUntil = 0  // bytes before this offset were checked and hold none of the four
        while i < n {
            if skippingPlainRuns, i >= plainUntil, i + 16 <= n {
                let chunk = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                if !any((chunk .== newline) .| (chunk .== brace) .| (chunk .== bar) .| (chunk .== angle)) {
                    i += 16
                    plainUntil = i
                    continue
                }
                plainUntil = i + 16
            }
            switch utf8[i] {
            case UInt8(ascii: "\n"):
                // A blank line ("\n", optional carriage returns, "\n").
                var j = i + 1
                while j < n, utf8[j] == UInt8(ascii: "\r") { j += 1 }
                if j < n, utf8[j] == UInt8(ascii: "\n") { cuts.append(i); cuts.append(j + 1); i = j; continue }
                if j < n, utf8[j] == UInt8(ascii: "|"), starts("|-", at: j), j + 2 < n, utf8[j + 2] == UInt8(ascii: "\n") || utf8[j + 2] == UInt8(ascii: "\r") {
                    cuts.append(j)
                }
            case UInt8(ascii: "{"):
                if starts("{|", at: i) { cuts.append(i) }
            case UInt8(ascii: "|"):
                if starts("|}", at: i) { cuts.append(i + 2) }
            case UInt8(ascii: "<"):
                if starts("<table>", at: i) || starts("<tr>", at: i) { cuts.append(i) }
                if starts("</table>", at: i) { cuts.append(i + 8) }
                if starts("</tr>", at: i) { cuts.append(i + 5) }
            default: break
            }
            i += 1
        }
        cuts.append(n)
        cuts.sort()
        var result: [(Int, Int)] = []
        for k in 0..<(cuts.count - 1) {
            var lo = cuts[k], hi = cuts[k + 1]
            while lo < hi, isASCIIWhitespace(utf8[lo]) { lo += 1 }
            while hi > lo, isASCIIWhitespace(utf8[hi - 1]) { hi -= 1 }
            guard lo < hi else { continue }
            result.append((lo, hi))
        }
        return result
    }

    /// The hash that identifies a paragraph: its exact bytes, eight at a time (a paragraph whose case
    /// alone changed falls through to the sentence level, which folds case).
    /// `seed` varies the hash for in-memory tables (stored hashes use 0).
    static func paragraphHash(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt64 = 0) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count) ^ seed
        let raw = UnsafeRawBufferPointer(bytes)
        var i = 0
        while i + 8 <= raw.count {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < raw.count { tail |= UInt64(raw[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        return h ^ (h >> 29)
    }

    /// What the provenance engine needs from a whole text in one pass over its bytes: the paragraphs
    /// (trimmed byte ranges) with their hashes, the hash of the whole text and its length in Unicode
    /// scalars.
    public struct Survey: Sendable {
        public var paragraphs: [(range: Range<Int>, hash: UInt64)]
        public var textHash: UInt64
        public var scalarCount: Int
    }

    public static func survey(_ text: String) -> Survey {
        var text = text
        return text.withUTF8 { bytes in
            let scalars = bytes.count - continuationBytes(bytes)
            let paragraphs = paragraphCuts(bytes).map { cut in
                (range: cut.0..<cut.1, hash: paragraphHash(UnsafeBufferPointer(rebasing: bytes[cut.0..<cut.1])))
            }
            return Survey(paragraphs: paragraphs, textHash: paragraphHash(bytes), scalarCount: scalars)
        }
    }

    /// UTF-8 continuation bytes (10xxxxxx) in `bytes`: what a byte count exceeds a scalar count by.
    static func continuationBytes(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let raw = UnsafeRawBufferPointer(bytes)
        let high = SIMD16<UInt8>(repeating: 0xC0), continuation = SIMD16<UInt8>(repeating: 0x80)
        var count = 0
        var i = 0
        while i + 16 <= raw.count {
            // Per lane counts in a byte each, summed before they could wrap (255 rounds at most).
            var lanes = SIMD16<UInt8>()
            let rounds = min(255, (raw.count - i) / 16)
            for _ in 0..<rounds {
                let chunk = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                lanes &+= SIMD16<UInt8>(repeating: 1).replacing(with: 0, where: (chunk & high) .!= continuation)
                i += 16
            }
            count += Int(SIMD16<UInt16>(truncatingIfNeeded: lanes).wrappedSum())  // widened: 16 × 255 fits
        }
        while i < raw.count {
            if raw[i] & 0xC0 == 0x80 { count += 1 }
            i += 1
        }
        return count
    }

    /// The sentences of a paragraph's tokens, as ranges of token indexes. Ranges that hold only
    /// whitespace are left out.
    public static func sentences(of tokens: [Tokenizer.Token]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        func cut(after index: Int) {
            let end = index + 1
            if end > start {
                if tokens[start..<end].contains(where: { $0.kind != .whitespace }) { result.append(start..<end) }
                start = end
            }
        }
        func cut(before index: Int) { if index > start { cut(after: index - 1) } }
        func text(_ k: Int) -> Substring? { k >= 0 && k < tokens.count ? tokens[k].text : nil }
        // Tokens are compared as `Substring ==` compares them (canonical equivalence: U+037E is ";"),
        // through their bytes wherever the bytes decide (see `asciiCharacter`).
        func character(_ k: Int) -> UInt8? { k >= 0 && k < tokens.count ? asciiCharacter(tokens[k].text) : nil }
        var inURL = false
        for (k, token) in tokens.enumerated() {
            let t = token.text
            if inURL {
                if token.kind == .whitespace { inURL = false; cut(after: k); continue }
                switch asciiCharacter(t) {
                case UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"): inURL = false; cut(after: k)
                default: break
                }
                continue
            }
            switch token.kind {
            case .whitespace:
                if holdsLineBreakOrTab(t) { cut(after: k) }
            case .word:
                if startsWithHTTP(t), character(k + 1) == UInt8(ascii: ":"), character(k + 2) == UInt8(ascii: "/"), character(k + 3) == UInt8(ascii: "/") {
                    cut(before: k)
                    inURL = true
                }
            case .punctuation:
                let nextIsSpace = k + 1 < tokens.count && startsWithSpace(tokens[k + 1].text)
                switch asciiCharacter(t) {
                case UInt8(ascii: "."):
                    if nextIsSpace, dotEndsSentence(tokens, at: k) { cut(after: k) }
                case UInt8(ascii: ";"), UInt8(ascii: "?"), UInt8(ascii: "!"), UInt8(ascii: ":"):
                    if nextIsSpace { cut(after: k) }
                case UInt8(ascii: "<"):
                    if character(k + 1) == UInt8(ascii: "!"), character(k + 2) == UInt8(ascii: "-"), character(k + 3) == UInt8(ascii: "-") { cut(before: k) }
                    if let next = text(k + 1), next.lowercased().hasPrefix("ref") { cut(before: k) }
                case UInt8(ascii: ">"):
                    if character(k - 1) == UInt8(ascii: "-"), character(k - 2) == UInt8(ascii: "-") { cut(after: k) }
                    if text(k - 1)?.lowercased() == "ref", character(k - 2) == UInt8(ascii: "/") { cut(after: k) }
                default: break
                }
            }
        }
        cut(after: tokens.count - 1)
        return result
    }

    /// The ASCII character that `token ==`, for comparing with the characters the rules name
    /// (`.;?!:<>|-/`), or nil. A one-byte token is its byte; a longer ASCII token equals no single
    /// character; only a token with non-ASCII bytes is compared as a string, with the rules'
    /// characters (a canonical equivalent, U+037E for ";", is equal). Comparing every token as a
    /// `Substring` was a third of `sentences`.
    static func asciiCharacter(_ token: Substring) -> UInt8? {
        let utf8 = token.utf8
        if utf8.count == 1, let byte = utf8.first, byte < 0x80 { return byte }
        guard utf8.contains(where: { $0 >= 0x80 }) else { return nil }
        for byte in ".;?!:<>|-/".utf8 where token == Substring(String(UnicodeScalar(byte))) { return byte }
        return nil
    }

    /// `token.contains("\n") || token.contains("\t")`, compared as characters: in ASCII, "\r\n" is
    /// one character and holds no "\n"; other bytes stand for themselves.
    static func holdsLineBreakOrTab(_ token: Substring) -> Bool {
        var previous: UInt8 = 0
        for byte in token.utf8 {
            if byte >= 0x80 { return token.contains("\n") || token.contains("\t") }
            if byte == 0x09 || (byte == 0x0A && previous != 0x0D) { return true }
            previous = byte
        }
        return false
    }

    /// `token.first == " "`: a space followed by an ASCII byte (or nothing) is a whole character;
    /// a non-ASCII byte after it could be a combining mark on it, so that case compares characters.
    static func startsWithSpace(_ token: Substring) -> Bool {
        var bytes = token.utf8.makeIterator()
        guard bytes.next() == 0x20 else { return false }
        if let next = bytes.next(), next >= 0x80 { return token.first == " " }
        return true
    }

    /// The hash that identifies a sentence: its non-whitespace tokens, folded, joined by one space
    /// (so a sentence whose spacing alone changed is the same sentence).
    public static func sentenceHash(_ values: some Sequence<String>) -> UInt64 {
        var hash = StableHash()
        var first = true
        for value in values {
            if !first { hash.add(0x20) }
            first = false
            for byte in value.utf8 { hash.add(byte) }
        }
        return hash.value
    }

    /// Whether a word begins with "http" in any case, as `lowercased().hasPrefix("http")` says, without
    /// building the lowercased string for every word of a text (no non-ASCII letter lowercases to h, t
    /// or p; a non-ASCII byte right after the prefix may be a combining mark on the "p", so that case
    /// asks the slow way).
    static func startsWithHTTP(_ word: Substring) -> Bool {
        var bytes = word.utf8.makeIterator()
        for expected in "http".utf8 {
            guard let byte = bytes.next(), byte | 0x20 == expected else { return false }
        }
        if let next = bytes.next(), next >= 0x80 { return word.lowercased().hasPrefix("http") }
        return true
    }

    /// WikiWho's rule: the three characters before the dot are neither whitespace, a dot nor "=".
    static func dotEndsSentence(_ tokens: [Tokenizer.Token], at index: Int) -> Bool {
        var needed = 3
        var k = index - 1
        while needed > 0, k >= 0 {
            let token = tokens[k]
            if token.kind == .whitespace { return false }
            for character in token.text.reversed() {
                if character == "." || character == "=" || character.isWhitespace { return false }
                needed -= 1
                if needed == 0 { break }
            }
            k -= 1
        }
        return needed == 0
    }

    static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 || byte == 0x0B || byte == 0x0C
    }
}

/// FNV-1a, 64 bits: stable across processes and machines, so hashes can be stored.
public struct StableHash {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    @inline(__always) public mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }
    public mutating func add(_ string: some StringProtocol) { for byte in string.utf8 { add(byte) } }
}
