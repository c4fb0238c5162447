/// A word diff between two texts for people to read: unchanged, removed and added runs of tokens,
/// and runs that moved — a sentence or paragraph deleted in one place and inserted unchanged
/// (whitespace aside) in another is reported as a move, not as a removal and an addition.
///
/// The pieces round-trip both ways: the old text is the concatenation of `.same`, `.removed` and
/// `.movedAway` pieces, and the new text of `.same`, `.added` and `.movedHere` pieces.
public enum TextDiff {
    public enum Kind: String, Sendable, Equatable {
        case same, removed, added, movedAway, movedHere
    }

    public struct Piece: Sendable, Equatable {
        public var kind: Kind
        public var text: String
        /// For moves: the same number on the piece where the text left and where it arrived.
        public var move: Int?
        public init(kind: Kind, text: String, move: Int? = nil) { (self.kind, self.text, self.move) = (kind, text, move) }
    }

    /// A moved unit must hold at least this many words (shorter runs — "the", "and" — move by chance).
    public static let minimumMoveWords = 3

    public static func diff(old: String, new: String) -> [Piece] {
        let a = Tokenizer.tokens(of: old), b = Tokenizer.tokens(of: new)
        let unitsA = units(a), unitsB = units(b)
        // Sentences and paragraphs first, by their words (whitespace aside).
        let ops = TokenDiff.diff(unitsA.map(\.key), unitsB.map(\.key))

        // Units removed in one place and added in another, word for word, are moves.
        var moveOfRemoved: [Int: Int] = [:], moveOfAdded: [Int: Int] = [:]
        var waiting: [[Substring]: [Int]] = [:]
        for op in ops {
            if case .delete(let x) = op { for u in x where unitsA[u].key.count >= minimumMoveWords { waiting[unitsA[u].key, default: []].append(u) } }
        }
        var moves = 0
        for op in ops {
            guard case .insert(let y) = op else { continue }
            for u in y where unitsB[u].key.count >= minimumMoveWords {
                if var list = waiting[unitsB[u].key], !list.isEmpty {
                    moves += 1
                    moveOfRemoved[list.removeFirst()] = moves
                    waiting[unitsB[u].key] = list
                    moveOfAdded[u] = moves
                }
            }
        }

        var pieces: [Piece] = []
        func emit(_ kind: Kind, _ text: String, move: Int? = nil) {
            guard !text.isEmpty else { return }
            if move == nil, let last = pieces.last, last.kind == kind, last.move == nil {
                pieces[pieces.count - 1].text += text
            } else {
                pieces.append(Piece(kind: kind, text: text, move: move))
            }
        }
        func text(_ tokens: [Tokenizer.Token], _ range: Range<Int>) -> String { tokens[range].map(\.text).joined() }
        /// Token by token, for what units could not match.
        func words(_ x: Range<Int>, _ y: Range<Int>) {
            let ta = Array(a[x]), tb = Array(b[y])
            for op in TokenDiff.diff(ta.map(\.text), tb.map(\.text)) {
                switch op {
                case .equal(let i, _): emit(.same, text(ta, i))
                case .delete(let i): emit(.removed, text(ta, i))
                case .insert(let j): emit(.added, text(tb, j))
                }
            }
        }
        // A change region: the units removed and added between two unchanged ones.
        var removed: [Int] = [], added: [Int] = []
        func flushRegion() {
            if removed.contains(where: { moveOfRemoved[$0] != nil }) || added.contains(where: { moveOfAdded[$0] != nil }) {
                for u in removed { emit(moveOfRemoved[u] == nil ? .removed : .movedAway, text(a, unitsA[u].range), move: moveOfRemoved[u]) }
                for u in added { emit(moveOfAdded[u] == nil ? .added : .movedHere, text(b, unitsB[u].range), move: moveOfAdded[u]) }
            } else if !removed.isEmpty || !added.isEmpty {
                let x = removed.isEmpty ? 0..<0 : unitsA[removed.first!].range.lowerBound..<unitsA[removed.last!].range.upperBound
                let y = added.isEmpty ? 0..<0 : unitsB[added.first!].range.lowerBound..<unitsB[added.last!].range.upperBound
                words(x, y)
            }
            removed.removeAll()
            added.removeAll()
        }
        for op in ops {
            switch op {
            case .equal(let x, let y):
                flushRegion()
                for (u, v) in zip(x, y) {
                    let (ra, rb) = (unitsA[u].range, unitsB[v].range)
                    if text(a, ra) == text(b, rb) { emit(.same, text(a, ra)) } else { words(ra, rb) }  // whitespace changed
                }
            case .delete(let x): removed += Array(x)
            case .insert(let y): added += Array(y)
            }
        }
        flushRegion()
        return pieces
    }

    /// Sentence units covering every token: each sentence with the whitespace that follows it.
    struct Unit { var range: Range<Int>; var key: [Substring] }

    static func units(_ tokens: [Tokenizer.Token]) -> [Unit] {
        var result: [Unit] = []
        for s in Segmenter.sentences(of: tokens) {
            let start = result.last?.range.upperBound ?? 0
            let key = tokens[s].filter { $0.kind != .whitespace }.map(\.text)
            if key.isEmpty, !result.isEmpty { result[result.count - 1].range = result[result.count - 1].range.lowerBound..<s.upperBound; continue }
            result.append(Unit(range: start..<s.upperBound, key: key))
        }
        if let last = result.last, last.range.upperBound < tokens.count {
            result[result.count - 1].range = last.range.lowerBound..<tokens.count
        } else if result.isEmpty, !tokens.isEmpty {
            result.append(Unit(range: 0..<tokens.count, key: []))
        }
        return result
    }

    /// The old text, rebuilt from the pieces.
    public static func oldText(_ pieces: [Piece]) -> String {
        pieces.filter { [.same, .removed, .movedAway].contains($0.kind) }.map(\.text).joined()
    }

    /// The new text, rebuilt from the pieces.
    public static func newText(_ pieces: [Piece]) -> String {
        pieces.filter { [.same, .added, .movedHere].contains($0.kind) }.map(\.text).joined()
    }
}
