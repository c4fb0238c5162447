/// Splits text into tokens: words (letters, digits and combining marks, so "López" and "Bárcena"
/// are one word each; an apostrophe or hyphen between letters stays inside the word), runs of
/// whitespace, and single punctuation or symbol characters. Joining the tokens gives the text back,
/// byte for byte.
public enum Tokenizer {
    public enum Kind: Sendable, Equatable {
        case word, whitespace, punctuation
    }

    public struct Token: Sendable, Equatable {
        public let text: Substring
        public let kind: Kind
    }

    public static func tokens(of text: String) -> [Token] {
        // Scan the UTF-8 bytes: an ASCII byte not followed by a non-ASCII one (which could be a
        // combining mark) is a whole character; anything else is read as a Character.
        let scanned = text.utf8.withContiguousStorageIfAvailable { bytes in scan(text, bytes) }
        return scanned ?? scanCharacters(text)
    }

    private static let asciiKinds: [Kind] = (0..<128).map { byte in
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: .word
        case 0x09...0x0D, 0x20: .whitespace
        default: .punctuation
        }
    }

    private static func scan(_ text: String, _ bytes: UnsafeBufferPointer<UInt8>) -> [Token] {
        var result: [Token] = []
        result.reserveCapacity(bytes.count / 3)
        let utf8 = text.utf8
        scan(text, bytes) { kind, offsets in
            let range = utf8.index(utf8.startIndex, offsetBy: offsets.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: offsets.upperBound)
            result.append(Token(text: text[range], kind: kind))
        }
        return result
    }

    /// The byte ranges (UTF-8 offsets) of the non-whitespace tokens: what phrase counting needs,
    /// without a `Substring` per token.
    public static func wordRanges(of text: String) -> [Range<Int>] {
        let scanned = text.utf8.withContiguousStorageIfAvailable { bytes in
            var result: [Range<Int>] = []
            result.reserveCapacity(bytes.count / 3)  // wiki markup: a token every ~4 bytes
            scan(text, bytes) { kind, offsets in if kind != .whitespace { result.append(offsets) } }
            return result
        }
        if let scanned { return scanned }
        let base = text.utf8.startIndex
        return scanCharacters(text).filter { $0.kind != .whitespace }.map {
            text.utf8.distance(from: base, to: $0.text.startIndex)..<text.utf8.distance(from: base, to: $0.text.endIndex)
        }
    }

    /// Emits each token's kind and byte range. ASCII is classified byte by byte; a `Character` (and
    /// the `String.Index` to read it at: O(1) from an offset in native UTF-8) only where a non-ASCII
    /// byte starts or follows, since a combining mark joins the character before it.
    private static func scan(_ text: String, _ bytes: UnsafeBufferPointer<UInt8>, _ emit: (Kind, Range<Int>) -> Void) {
        let n = bytes.count
        let utf8 = text.utf8
        var offset = 0, startOffset = 0
        var currentKind: Kind? = nil
        let asciiKinds = Self.asciiKinds  // once, not a lazy global's check per byte

        /// The character at byte `at`: its kind and byte length, and whether it can join two words.
        @inline(__always) func character(at: Int) -> (kind: Kind, length: Int, joiner: Bool) {
            let b = bytes[at]
            if b < 0x80, at + 1 == n || bytes[at + 1] < 0x80 { return (asciiKinds[Int(b)], 1, b == 0x27 || b == 0x2D) }
            let c = text[utf8.index(utf8.startIndex, offsetBy: at)]
            return (kind(of: c), c.utf8.count, isJoiner(c))
        }
        while offset < n {
            // Inside a word or a run of whitespace, ASCII bytes of the same kind extend the token as
            // they come (the rules below would do the same, a byte at a time): a byte is taken here
            // only when the next one is ASCII too, since a non-ASCII byte after it could start a
            // combining mark that joins them into one character. Most of a text goes through here.
            if let k = currentKind, k != .punctuation {
                while offset + 1 < n, bytes[offset + 1] < 0x80, bytes[offset] < 0x80, asciiKinds[Int(bytes[offset])] == k {
                    offset += 1
                }
            }
            let c = character(at: offset)
            var kind = c.kind
            // "don't", "anarcho-capitalism": a joiner between two word characters stays in the word.
            if kind == .punctuation, currentKind == .word, c.joiner, offset + c.length < n, character(at: offset + c.length).kind == .word {
                kind = .word
            }
            if kind != currentKind || kind == .punctuation {
                if let k = currentKind, startOffset < offset { emit(k, startOffset..<offset) }
                startOffset = offset
                currentKind = kind
            }
            offset += c.length
        }
        if let k = currentKind, startOffset < offset { emit(k, startOffset..<offset) }
    }

    /// The same, a Character at a time (for strings without contiguous UTF-8 storage).
    static func scanCharacters(_ text: String) -> [Token] {
        var result: [Token] = []
        var start = text.startIndex
        var currentKind: Kind? = nil
        var index = text.startIndex
        func flush(upTo end: String.Index) {
            if let kind = currentKind, start < end { result.append(Token(text: text[start..<end], kind: kind)) }
        }
        while index < text.endIndex {
            let character = text[index]
            var kind = self.kind(of: character)
            // "don't", "anarcho-capitalism": a joiner between two word characters stays in the word.
            if kind == .punctuation, currentKind == .word, isJoiner(character) {
                let next = text.index(after: index)
                if next < text.endIndex, self.kind(of: text[next]) == .word { kind = .word }
            }
            if kind != currentKind || kind == .punctuation {
                flush(upTo: index)
                start = index
                currentKind = kind
            }
            index = text.index(after: index)
        }
        flush(upTo: text.endIndex)
        return result
    }

    static func kind(of character: Character) -> Kind {
        // ASCII first: Unicode property lookups are slow, and most text is ASCII.
        if let ascii = character.asciiValue {
            switch ascii {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return .word
            case 0x09...0x0D, 0x20: return .whitespace
            default: return .punctuation
            }
        }
        if character.isWhitespace { return .whitespace }
        if character.isLetter || character.isNumber { return .word }
        if let scalar = character.unicodeScalars.first, scalar.properties.generalCategory == .nonspacingMark { return .word }
        return .punctuation
    }

    static func isJoiner(_ character: Character) -> Bool {
        character == "'" || character == "’" || character == "-"
    }
}
