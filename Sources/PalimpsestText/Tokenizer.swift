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
