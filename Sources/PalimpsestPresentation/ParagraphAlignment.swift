import Foundation
import Palimpsest
import PalimpsestText

/// One row of two texts aligned by paragraph: a paragraph of each side that say much the same thing
/// (with their word diff), or a paragraph only one side has.
public struct AlignedRow: Sendable, Equatable {
    public var first: String?
    public var second: String?
    /// The word diff from `first` to `second` (every piece removed or added when one side is missing).
    public var pieces: [TextDiff.Piece]

    public var isSame: Bool { first == second }
}

/// Aligns two texts paragraph by paragraph (lines that are not blank), as a reader lays two
/// publishers' versions side by side: an order-keeping alignment that maximises the summed word
/// overlap (Jaccard) of the paired paragraphs, pairing only paragraphs that share at least a fifth of
/// their words. A word diff over the whole texts would instead match stray "the"s across unrelated
/// paragraphs and print them as noise.
public enum ParagraphAlignment {
    static let threshold = 0.2

    public static func paragraphs(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    static func wordSet(_ paragraph: String) -> Set<Substring> {
        Set(PhraseMatcher.words(of: paragraph.lowercased()).map(\.text))
    }

    public static func align(_ first: String, _ second: String) -> [AlignedRow] {
        let a = paragraphs(first), b = paragraphs(second)
        let wordsA = a.map(wordSet), wordsB = b.map(wordSet)
        func similarity(_ i: Int, _ j: Int) -> Double {
            if a[i] == b[j] { return 1 }
            let union = wordsA[i].union(wordsB[j]).count
            return union == 0 ? 0 : Double(wordsA[i].intersection(wordsB[j]).count) / Double(union)
        }
        // best[i][j]: the best score aligning a[i...] with b[j...].
        let n = a.count, m = b.count
        var best = [[Double]](repeating: [Double](repeating: 0, count: m + 1), count: n + 1)
        var score = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                let s = similarity(i, j)
                score[i][j] = s
                best[i][j] = max(best[i + 1][j], best[i][j + 1], s >= threshold ? best[i + 1][j + 1] + s : 0)
            }
        }
        var rows: [AlignedRow] = []
        var (i, j) = (0, 0)
        while i < n || j < m {
            if i < n, j < m, score[i][j] >= threshold, best[i][j] == best[i + 1][j + 1] + score[i][j] {
                rows.append(AlignedRow(first: a[i], second: b[j], pieces: TextDiff.diff(old: a[i], new: b[j])))
                i += 1
                j += 1
            } else if i < n, j == m || best[i][j] == best[i + 1][j] {
                rows.append(AlignedRow(first: a[i], second: nil, pieces: [TextDiff.Piece(kind: .removed, text: a[i])]))
                i += 1
            } else {
                rows.append(AlignedRow(first: nil, second: b[j], pieces: [TextDiff.Piece(kind: .added, text: b[j])]))
                j += 1
            }
        }
        return rows
    }
}

/// A word diff cut into lines and grouped into hunks — the changed lines with a little unchanged
/// context around them — as `git diff` prints a long file.
public struct DiffHunk: Sendable, Equatable {
    /// The line of the newer text where the hunk starts, from 1.
    public var newLine: Int
    /// The hunk's lines, each as its pieces.
    public var lines: [[TextDiff.Piece]]

    public static func hunks(_ pieces: [TextDiff.Piece], context: Int = 1) -> [DiffHunk] {
        // Cut every piece at its line breaks; a line ends after its "\n".
        var lines: [(newLine: Int, pieces: [TextDiff.Piece], changed: Bool)] = [(1, [], false)]
        var newLine = 1
        for piece in pieces {
            var rest = Substring(piece.text)
            while !rest.isEmpty {
                let cut = rest.firstIndex(of: "\n").map { rest.index(after: $0) } ?? rest.endIndex
                let fragment = TextDiff.Piece(kind: piece.kind, text: String(rest[..<cut]), move: piece.move)
                lines[lines.count - 1].pieces.append(fragment)
                if piece.kind != .same, !fragment.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    lines[lines.count - 1].changed = true
                }
                rest = rest[cut...]
                if fragment.text.hasSuffix("\n") {
                    if piece.kind != .removed && piece.kind != .movedAway { newLine += 1 }
                    lines.append((newLine, [], false))
                }
            }
        }
        if lines.last?.pieces.isEmpty == true { lines.removeLast() }
        // Context counts lines with words: the blank lines between paragraphs come along free.
        func blank(_ k: Int) -> Bool { lines[k].pieces.allSatisfy { $0.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } }
        var hunks: [DiffHunk] = []
        var shownUpTo = -1
        for (index, line) in lines.enumerated() where line.changed {
            var start = index, end = index, found = 0
            while start > 0, found < context || blank(start - 1) {
                start -= 1
                if !blank(start) { found += 1 }
                if found == context, start > 0, !blank(start - 1) { break }
            }
            found = 0
            while end < lines.count - 1, found < context {
                end += 1
                if !blank(end) { found += 1 }
            }
            start = max(start, shownUpTo + 1)
            while start < index, blank(start) { start += 1 }
            if start <= end {
                if let last = hunks.indices.last, start == shownUpTo + 1 {
                    hunks[last].lines += lines[start...end].map(\.pieces)
                } else {
                    hunks.append(DiffHunk(newLine: lines[start].newLine, lines: lines[start...end].map(\.pieces)))
                }
                shownUpTo = end
            }
        }
        return hunks
    }
}
