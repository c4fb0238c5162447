import PalimpsestText
import PalimpsestTestSupport
import Testing


/// Rebuilds `new` from `old` and the operations, checking that they cover both exactly.
func apply(_ ops: [TokenDiff.Operation], _ old: [Int], _ new: [Int]) -> [Int]? {
    var out: [Int] = []
    var i = 0, j = 0
    for op in ops {
        switch op {
        case .equal(let a, let b):
            guard a.lowerBound == i, b.lowerBound == j, a.count == b.count, Array(old[a]) == Array(new[b]) else { return nil }
            out += old[a]; i = a.upperBound; j = b.upperBound
        case .delete(let a):
            guard a.lowerBound == i else { return nil }
            i = a.upperBound
        case .insert(let b):
            guard b.lowerBound == j else { return nil }
            out += new[b]; j = b.upperBound
        }
    }
    return i == old.count && j == new.count ? out : nil
}

@Suite struct TokenDiffTests {
    @Test(arguments: 0..<300)
    func theOperationsTurnOldIntoNew(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let old = (0..<Int.random(in: 0...200, using: &rng)).map { _ in Int.random(in: 0..<12, using: &rng) }
        var new = old
        for _ in 0..<Int.random(in: 0...8, using: &rng) {
            let at = Int.random(in: 0...new.count, using: &rng)
            if Bool.random(using: &rng), at < new.count {
                new.removeSubrange(at..<min(new.count, at + Int.random(in: 1...10, using: &rng)))
            } else {
                new.insert(contentsOf: (0..<Int.random(in: 1...10, using: &rng)).map { _ in Int.random(in: 0..<12, using: &rng) }, at: at)
            }
        }
        let ops = TokenDiff.diff(old, new)
        #expect(apply(ops, old, new) == new)
    }

    @Test func findsAShortestScriptForSmallCases() {
        // "abcabba" → "cbabac": the classic Myers example has edit distance 5.
        let old = Array("abcabba").map { String($0) }, new = Array("cbabac").map { String($0) }
        let ops = TokenDiff.diff(old, new)
        let edits = ops.reduce(0) { n, op in
            switch op {
            case .equal: n
            case .delete(let r), .insert(let r): n + r.count
            }
        }
        #expect(edits == 5)
    }

    @Test func aRewriteBeyondTheLimitIsAReplacement() {
        let old = Array(0..<5000), new = Array(5000..<10000)
        #expect(TokenDiff.diff(old, new) == [.delete(0..<5000), .insert(0..<5000)])
    }
}

@Suite struct TokenizerTests {
    @Test func splitsWordsWhitespaceAndPunctuationAndRoundTrips() {
        let text = "López Obrador and Bárcena: \"democratic decline\" — anarcho-capitalism, don't!\n\n  1,024"
        let tokens = Tokenizer.tokens(of: text)
        #expect(tokens.map(\.text).joined() == text)
        #expect(tokens.filter { $0.kind == .word }.map { String($0.text) } == ["López", "Obrador", "and", "Bárcena", "democratic", "decline", "anarcho-capitalism", "don't", "1", "024"])
        #expect(tokens.first { $0.text == "\n\n  " }?.kind == .whitespace)
    }

    @Test func roundTripsRandomText() {
        var rng = SeededGenerator(seed: 5)
        let alphabet = Array("ab é—-'\n\t,.😀1\u{301}")
        for _ in 0..<500 {
            let text = String((0..<Int.random(in: 0...60, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            #expect(Tokenizer.tokens(of: text).map(\.text).joined() == text)
        }
    }
}
