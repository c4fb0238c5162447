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
        let ops = TokenDiff.diff(a.map(\.text), b.map(\.text))

        // Raw runs in order; removals before additions at each change.
        enum Run { case same(Range<Int>), removed(Range<Int>), added(Range<Int>) }
        var runs: [Run] = []
        for op in ops {
            switch op {
            case .equal(let x, _): runs.append(.same(x))
            case .delete(let x): runs.append(.removed(x))
            case .insert(let y): runs.append(.added(y))
            }
        }

        // Split removed and added runs into sentences; a sentence removed in one place and added
        // in another, word for word, is a move.
        struct Unit { var run: Int; var range: Range<Int>; var key: [Substring]; var move: Int? = nil }
        func units(_ tokens: [Tokenizer.Token], _ range: Range<Int>, run: Int) -> [Unit] {
            let slice = Array(tokens[range])
            var result: [Unit] = []
            var covered = 0
            for s in Segmenter.sentences(of: slice) {
                if s.lowerBound > covered { result.append(Unit(run: run, range: (range.lowerBound + covered)..<(range.lowerBound + s.lowerBound), key: [])) }
                let key = slice[s].filter { $0.kind != .whitespace }.map(\.text)
                result.append(Unit(run: run, range: (range.lowerBound + s.lowerBound)..<(range.lowerBound + s.upperBound), key: key))
                covered = s.upperBound
            }
            if covered < slice.count { result.append(Unit(run: run, range: (range.lowerBound + covered)..<range.upperBound, key: [])) }
            return result
        }
        var removedUnits: [[Unit]] = Array(repeating: [], count: runs.count)
        var addedUnits: [[Unit]] = Array(repeating: [], count: runs.count)
        var waiting: [[Substring]: [(Int, Int)]] = [:]
        for (k, run) in runs.enumerated() {
            if case .removed(let x) = run {
                removedUnits[k] = units(a, x, run: k)
                for (u, unit) in removedUnits[k].enumerated() where unit.key.count >= minimumMoveWords {
                    waiting[unit.key, default: []].append((k, u))
                }
            }
        }
        var moves = 0
        for (k, run) in runs.enumerated() {
            if case .added(let y) = run {
                addedUnits[k] = units(b, y, run: k)
                for u in addedUnits[k].indices where addedUnits[k][u].key.count >= minimumMoveWords {
                    if var list = waiting[addedUnits[k][u].key], !list.isEmpty {
                        let (rk, ru) = list.removeFirst()
                        waiting[addedUnits[k][u].key] = list
                        moves += 1
                        removedUnits[rk][ru].move = moves
                        addedUnits[k][u].move = moves
                    }
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
        for (k, run) in runs.enumerated() {
            switch run {
            case .same(let x): emit(.same, text(a, x))
            case .removed:
                for unit in removedUnits[k] { emit(unit.move == nil ? .removed : .movedAway, text(a, unit.range), move: unit.move) }
            case .added:
                for unit in addedUnits[k] { emit(unit.move == nil ? .added : .movedHere, text(b, unit.range), move: unit.move) }
            }
        }
        return pieces
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
