import Foundation
import PalimpsestTestSupport
import Testing

@testable import PalimpsestText

/// Random text from a mixed alphabet: every script the issue names, combining marks, emoji with
/// joiners, markup that the segmenter cares about, and the whitespace it splits on.
func randomText(_ rng: inout SeededGenerator, words: ClosedRange<Int>) -> String {
    let vocabulary = [
        "López", "Obrador", "Bárcena", "democratic", "decline", "the", "of", "and", "root", "causes", "migration",
        "移民", "民主", "の", "衰退", "ديمقراطي", "تراجع", "שלום", "😀", "👩‍👩‍👧", "e\u{301}", "naïve", "don't", "anarcho-capitalism",
        "1,024", "[[link]]", "{{cite", "}}", "<ref>", "</ref>", "http://example.org/a", "==", "|", "{|", "|}", "|-",
    ]
    let separators = [" ", " ", " ", "  ", "\n", "\n\n", ". ", ", ", "; ", ": ", "! ", "? ", "\t", "\r\n", "\u{00A0}"]
    var text = ""
    for _ in 0..<Int.random(in: words, using: &rng) {
        text += vocabulary.randomElement(using: &rng)!
        text += separators.randomElement(using: &rng)!
    }
    return text
}

@Suite struct TokenizerScriptsTests {
    @Test(arguments: [
        ("accents", "López Obrador y Alicia Bárcena: «déclin démocratique»", ["López", "Obrador", "y", "Alicia", "Bárcena", "déclin", "démocratique"]),
        ("CJK", "民主主義の衰退 移民", ["民主主義の衰退", "移民"]),
        ("right-to-left", "تراجع الديمقراطية \u{202E}abc", ["تراجع", "الديمقراطية", "abc"]),
        ("emoji", "root 😀 causes 👩‍👩‍👧!", ["root", "causes"]),
    ])
    func tokenisesAndRoundTrips(_ script: String, _ text: String, _ words: [String]) {
        let tokens = Tokenizer.tokens(of: text)
        #expect(tokens.map(\.text).joined() == text, "\(script)")
        #expect(tokens.filter { $0.kind == .word }.map { String($0.text) } == words, "\(script)")
        // Each emoji (a whole grapheme cluster, joiners included) is one token.
        if script == "emoji" { #expect(tokens.contains { $0.text == "👩‍👩‍👧" }) }
    }

    @Test func byteScanAgreesWithCharacterScan() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<400 {
            let text = randomText(&rng, words: 0...40)
            let fast = Tokenizer.tokens(of: text), slow = Tokenizer.scanCharacters(text)
            #expect(fast.map(\.text) == slow.map(\.text) && fast.map(\.kind) == slow.map(\.kind), "\(text.debugDescription)")
            // The phrase index's byte ranges are the non-whitespace tokens, as UTF-8 offsets.
            let base = text.utf8.startIndex
            let ranges = slow.filter { $0.kind != .whitespace }.map {
                text.utf8.distance(from: base, to: $0.text.startIndex)..<text.utf8.distance(from: base, to: $0.text.endIndex)
            }
            #expect(Tokenizer.wordRanges(of: text) == ranges, "\(text.debugDescription)")
        }
    }
}

@Suite struct SegmenterTests {
    @Test func paragraphsEndAtBlankLinesAndTableRows() {
        let text = "First para.\nsame para\n\n  Second  \n\n{|\n| cell\n|-\n| next\n|}\nafter"
        let paragraphs = Segmenter.paragraphs(of: text).map { String(text[$0]) }
        #expect(paragraphs == ["First para.\nsame para", "Second", "{|\n| cell", "|-\n| next\n|}", "after"])
    }

    @Test func sentencesFollowWikiWhosBoundaries() {
        let text = "The cat sat. It was e.g. fine; really? Yes! Note: http://x.org/a b <!-- c --> end"
        let tokens = Tokenizer.tokens(of: text)
        let sentences = Segmenter.sentences(of: tokens).map { tokens[$0].map(\.text).joined() }
        #expect(sentences == ["The cat sat.", " It was e.g. fine;", " really?", " Yes!", " Note:", " ", "http://x.org/a ", "b ", "<!-- c -->", " end"].filter { !$0.allSatisfy(\.isWhitespace) })
    }

    /// The URL rule's byte check says what `lowercased().hasPrefix("http")` says, for any word.
    @Test func urlCheckAgreesWithLowercasing() {
        var words: [Substring] = ["http", "HTTP", "Https", "hTtPs", "htt", "h", "", "xhttp", "http\u{301}", "HTTP\u{301}s", "h\u{301}ttp",
                                  "ĥttp", "\u{130}http", "ｈｔｔｐ", "httpé", "http😀", "Http://"]
        var rng = SeededGenerator(seed: 31)
        for _ in 0..<200 { words += Tokenizer.tokens(of: randomText(&rng, words: 0...20)).map(\.text) }
        for word in words { #expect(Segmenter.startsWithHTTP(word) == word.lowercased().hasPrefix("http"), "\(word.debugDescription)") }
    }

    /// The sentence rules' byte checks say what the `Substring` and `Character` comparisons they
    /// replaced say, for any token: canonical equivalents (U+037E is ";"), "\r\n" as one character,
    /// combining marks on a space or a punctuation mark, and the tokens of random texts.
    @Test func sentenceRuleByteChecksAgreeWithStringComparison() {
        var tokens: [Substring] = [
            ".", ";", "\u{037E}", "?", "!", ":", "<", ">", "|", "-", "/", "..", ";;", "\u{037E}\u{301}", ".\u{301}", "<\u{301}",
            "\n", "\t", "\r\n", "\r", " \r\n", "\r\n\r\n", "\n\r", " \t ", "\u{00A0}\n", "\u{2028}", "\u{00A0}", "  ",
            " ", " x", " \u{301}", " é", "\u{00A0} ", "", "x", "é",
        ]
        var rng = SeededGenerator(seed: 33)
        for _ in 0..<200 { tokens += Tokenizer.tokens(of: randomText(&rng, words: 0...20)).map(\.text) }
        for token in tokens {
            for character in ".;?!:<>|-/".utf8 {
                let equal = token == Substring(String(UnicodeScalar(character)))
                #expect((Segmenter.asciiCharacter(token) == character) == equal, "\(token.debugDescription)")
            }
            #expect(Segmenter.holdsLineBreakOrTab(token) == (token.contains(Character("\n")) || token.contains(Character("\t"))), "\(token.debugDescription)")
            #expect(Segmenter.startsWithSpace(token) == (token.first == " "), "\(token.debugDescription)")
            #expect(ProvenanceEngine.folded(token) == token.lowercased(), "\(token.debugDescription)")
        }
        #expect(Segmenter.asciiCharacter("\u{037E}") == UInt8(ascii: ";"))
        #expect(!Segmenter.holdsLineBreakOrTab("\r\n"))
    }

    /// The survey's fast paths (sixteen bytes at a time) say what a byte-at-a-time scan says, on
    /// texts long enough to cross many chunks and the continuation counter's 255-round limit.
    @Test func surveyAgreesWithByteByByteScan() {
        var rng = SeededGenerator(seed: 13)
        for k in 0..<150 {
            var text = randomText(&rng, words: k < 100 ? 0...80 : 800...2500)
            if k % 3 == 0 { text = text.replacingOccurrences(of: " ", with: String(repeating: "x", count: Int.random(in: 1...40, using: &rng))) }
            var copy = text
            let (fast, slow) = copy.withUTF8 { (Segmenter.paragraphCuts($0), Segmenter.paragraphCuts($0, skippingPlainRuns: false)) }
            #expect(fast.map(\.0) == slow.map(\.0) && fast.map(\.1) == slow.map(\.1), "\(text.debugDescription)")
            let survey = Segmenter.survey(text)
            #expect(survey.scalarCount == text.unicodeScalars.count)
            #expect(survey.paragraphs.map(\.range.lowerBound) == fast.map(\.0))
        }
    }

    @Test func unitsCoverEveryTokenInOrder() {
        var rng = SeededGenerator(seed: 12)
        for _ in 0..<200 {
            let text = randomText(&rng, words: 0...60)
            var fromUnits: [Substring] = []
            for range in Segmenter.paragraphs(of: text) {
                let tokens = Tokenizer.tokens(of: String(text[range]))
                for s in Segmenter.sentences(of: tokens) { fromUnits += tokens[s].filter { $0.kind != .whitespace }.map(\.text) }
            }
            let whole = Tokenizer.tokens(of: text).filter { $0.kind != .whitespace }.map(\.text)
            #expect(fromUnits.map(String.init) == whole.map(String.init), "\(text.debugDescription)")
        }
    }
}

@Suite struct ProvenanceEngineTests {
    /// Origins of the latest version's tokens, as (text, origin event).
    func blame(_ engine: ProvenanceEngine) -> [(String, UInt64)] {
        engine.currentTokenIDs.map { (engine.tokens[Int($0)].value, engine.tokens[Int($0)].origin) }
    }

    @Test func newWordsAreCreditedToTheirEventAndRemovalsRecorded() {
        var engine = ProvenanceEngine()
        engine.apply(text: "Root causes include democratic decline and poverty.", event: 1)
        let change = engine.apply(text: "Root causes include poverty and corruption.", event: 2)
        #expect(blame(engine).map(\.0) == ["root", "causes", "include", "poverty", "and", "corruption", "."])
        #expect(blame(engine).first { $0.0 == "corruption" }?.1 == 2)
        #expect(blame(engine).first { $0.0 == "root" }?.1 == 1)
        let removed = change.removed.map { engine.tokens[Int($0)].value }.sorted()
        #expect(removed.contains("democratic") && removed.contains("decline"))
        #expect(engine.tokens.filter { $0.value == "democratic" }.allSatisfy { $0.removedBy == [2] })
    }

    @Test func textPutBackKeepsItsAuthor() {
        var engine = ProvenanceEngine()
        let original = "The communiqué names democratic decline among the root causes of migration.\n\nA second paragraph stays."
        engine.apply(text: original, event: 1)
        engine.apply(text: "The communiqué names the root causes of migration.\n\nA second paragraph stays.", event: 2)
        engine.apply(text: original, event: 3)
        let decline = engine.currentTokenIDs.map { engine.tokens[Int($0)] }.first { $0.value == "decline" }
        #expect(decline?.origin == 1)
        #expect(decline?.removedBy == [2])
        #expect(decline?.restoredBy == [3])
    }

    @Test func aMovedParagraphKeepsItsAuthor() {
        var engine = ProvenanceEngine()
        engine.apply(text: "Alpha paragraph one here.\n\nBeta paragraph two here.\n\nGamma three.", event: 1)
        engine.apply(text: "Gamma three.\n\nAlpha paragraph one here.\n\nBeta paragraph two here.", event: 2)
        #expect(blame(engine).allSatisfy { $0.1 == 1 })
        #expect(engine.tokens.allSatisfy { $0.removedBy.isEmpty })
    }

    @Test func blankingVandalismIsSkippedForMatchingButRecorded() {
        var engine = ProvenanceEngine()
        let article = (1...40).map { "Sentence number \($0) of a long article about anarchism." }.joined(separator: " ")
        engine.apply(text: article, event: 1)
        let vandal = engine.apply(text: "lol", event: 2)
        #expect(vandal.vandalism)
        #expect(engine.currentTokenIDs.count == 1)
        // The revert is matched against the version before the vandal's: everything keeps its author.
        let revert = engine.apply(text: article + " One new sentence.", event: 3)
        #expect(!revert.vandalism)
        #expect(blame(engine).filter { $0.1 == 1 }.count == Tokenizer.tokens(of: article).filter { $0.kind != .whitespace }.count)
        #expect(engine.tokens[Int(engine.currentTokenIDs[0])].removedBy == [2])
        #expect(engine.tokens[Int(engine.currentTokenIDs[0])].restoredBy == [3])
    }

    @Test func withdrawalRemovesEverythingAndRestorationPutsItBack() {
        var engine = ProvenanceEngine()
        engine.apply(text: "A short statement.", event: 1)
        engine.apply(text: nil, event: 2)
        #expect(engine.currentTokenIDs.isEmpty)
        engine.apply(text: "A short statement.", event: 3)
        #expect(blame(engine).allSatisfy { $0.1 == 1 })
        #expect(engine.tokens.allSatisfy { $0.removedBy == [2] && $0.restoredBy == [3] })
    }

    /// Invariants over random histories: the latest version's tokens are its words (folded), each
    /// token's history alternates removal and restoration, and tokens absent from the version were
    /// removed after their last restoration.
    @Test func randomHistoriesKeepTheInvariants() {
        var rng = SeededGenerator(seed: 13)
        for _ in 0..<30 {
            var engine = ProvenanceEngine()
            var text = randomText(&rng, words: 5...80)
            for event in 1...UInt64(12) {
                if Int.random(in: 0..<10, using: &rng) == 0 {
                    engine.apply(text: nil, event: event)
                    #expect(engine.currentTokenIDs.isEmpty)
                    continue
                }
                var words = text.components(separatedBy: " ")
                for _ in 0..<Int.random(in: 0...4, using: &rng) where !words.isEmpty {
                    let i = Int.random(in: 0..<words.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: words.remove(at: i)
                    case 1: words.insert(randomText(&rng, words: 1...3), at: i)
                    default: words.swapAt(i, Int.random(in: 0..<words.count, using: &rng))
                    }
                }
                text = words.joined(separator: " ")
                engine.apply(text: text, event: event)
                let expected = Tokenizer.tokens(of: text).filter { $0.kind != .whitespace }.map { $0.text.lowercased() }
                let ids = engine.currentTokenIDs
                #expect(ids.map { engine.tokens[Int($0)].value } == expected)
                #expect(Set(ids).count == ids.count, "a token appears twice in one version")
                let present = Set(ids)
                for (id, token) in engine.tokens.enumerated() {
                    #expect(token.origin <= event)
                    let lastRemoval = token.removedBy.last ?? 0, lastRestore = token.restoredBy.last ?? 0
                    if present.contains(Int32(id)) { #expect(lastRemoval <= lastRestore || token.removedBy.isEmpty) } else { #expect(lastRemoval > lastRestore) }
                    #expect(token.removedBy.count - token.restoredBy.count == (present.contains(Int32(id)) ? 0 : 1))
                }
            }
        }
    }
}

@Suite struct LineDifferTests {
    /// Compares with CPython's difflib.Differ (the implementation WikiWho runs) on random token lists,
    /// long ones included (its "popular element" rule starts at 200 elements).
    @Test func agreesWithPythonsDifflib() throws {
        var rng = SeededGenerator(seed: 14)
        var cases: [[[String]]] = []
        let vocabulary = ["the", "of", "anarchism", "state", "[[", "]]", ",", ".", "anarchist", "anarchists", "society", "free", "freedom", "a", "an"]
        for k in 0..<40 {
            let n = k < 30 ? Int.random(in: 0...30, using: &rng) : Int.random(in: 200...400, using: &rng)
            let old = (0..<n).map { _ in vocabulary.randomElement(using: &rng)! }
            var new = old
            for _ in 0..<Int.random(in: 1...(k < 30 ? 6 : 40), using: &rng) {
                let i = Int.random(in: 0...new.count, using: &rng)
                if Bool.random(using: &rng), i < new.count { new.remove(at: i) } else { new.insert(vocabulary.randomElement(using: &rng)!, at: i) }
            }
            cases.append([old, new])
        }
        let input = String(decoding: try JSONSerialization.data(withJSONObject: cases), as: UTF8.self)
        let script = """
            import difflib, json, sys
            for old, new in json.load(sys.stdin):
                out = []
                for line in difflib.Differ().compare(old, new):
                    if line[0] == '?': continue
                    out.append(line[0])
                print(''.join(out))
            """
        let python = try run("/usr/bin/env", ["python3", "-c", script], input: Data(input.utf8))
        try #require(python.status == 0, "\(python.err)")
        let expected = python.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (k, pair) in cases.enumerated() {
            let ours = LineDiffer.compare(pair[0], pair[1]).map { line -> Character in
                switch line.tag { case .equal: " "; case .delete: "-"; case .insert: "+" }
            }
            #expect(String(ours) == expected[k], "case \(k)")
        }
    }
}

@Suite struct TextDiffTests {
    @Test func piecesRebuildBothTexts() {
        var rng = SeededGenerator(seed: 15)
        for _ in 0..<300 {
            let old = randomText(&rng, words: 0...50)
            var paragraphs = old.components(separatedBy: "\n\n")
            if paragraphs.count > 1, Bool.random(using: &rng) { paragraphs.swapAt(0, paragraphs.count - 1) }
            let new = paragraphs.joined(separator: "\n\n") + (Bool.random(using: &rng) ? randomText(&rng, words: 0...5) : "")
            let pieces = TextDiff.diff(old: old, new: new)
            #expect(TextDiff.oldText(pieces) == old)
            #expect(TextDiff.newText(pieces) == new)
        }
    }

    /// Long texts take the line-first path (shared first and last lines set aside, hunks of changed
    /// lines diffed word by word); edited in several places, moved, blanked and restored, the pieces
    /// must still rebuild both texts byte for byte.
    @Test func longTextsDiffedByLinesRebuildBothTexts() {
        var rng = SeededGenerator(seed: 22)
        for round in 0..<40 {
            var lines = (0..<Int.random(in: 150...300, using: &rng)).map { _ in randomText(&rng, words: 3...25).replacingOccurrences(of: "\n", with: " ") + "\n" }
            let old = lines.joined()
            #expect(old.utf8.count > TextDiff.lineAlignedAbove)
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let k = Int.random(in: 0..<lines.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: lines[k] = randomText(&rng, words: 3...25).replacingOccurrences(of: "\n", with: " ") + "\n"
                case 1: lines.remove(at: k)
                case 2: lines.insert(randomText(&rng, words: 1...9) + "\n", at: k)
                default: let moved = lines.remove(at: k); lines.insert(moved, at: Int.random(in: 0...lines.count, using: &rng))
                }
            }
            let new = round % 10 == 9 ? "" : lines.joined()
            for (a, b) in [(old, new), (new, old)] {
                let pieces = TextDiff.diff(old: a, new: b)
                #expect(TextDiff.oldText(pieces) == a && TextDiff.newText(pieces) == b, "round \(round)")
                // Moves pair up: each number once removed and once added, with the same words.
                let away = pieces.filter { $0.kind == .movedAway }, here = pieces.filter { $0.kind == .movedHere }
                #expect(Set(away.compactMap(\.move)) == Set(here.compactMap(\.move)) && away.count == here.count)
            }
        }
    }

    /// Canonically equivalent but different bytes ("é" composed and decomposed) are a change: the diff
    /// must give back the new text's own bytes.
    @Test func canonicallyEquivalentWordsAreStillChanged() {
        let old = "caf\u{E9} au lait", new = "cafe\u{301} au lait"
        let pieces = TextDiff.diff(old: old, new: new)
        #expect(Array(TextDiff.newText(pieces).utf8) == Array(new.utf8) && Array(TextDiff.oldText(pieces).utf8) == Array(old.utf8))
        #expect(pieces.contains { $0.kind == .added })
    }

    /// Word ids are equal exactly when the bytes are (canonically equivalent spellings differ), across
    /// the table's growth; a run of tokens copied as one span is the tokens joined.
    @Test func wordIdentitiesFollowTheBytes() {
        var rng = SeededGenerator(seed: 32)
        var identities = WordIdentities()
        var seen: [[UInt8]: Int] = [:]
        var words: [Substring] = ["caf\u{E9}", "cafe\u{301}", "", " ", "\n"]
        for _ in 0..<60 { words += Tokenizer.tokens(of: randomText(&rng, words: 0...80)).map(\.text) }
        for k in 0..<3_000 { words.append(Substring("w\(k % 1_500)")) }
        for word in words {
            let id = identities.id(word)
            if let known = seen[Array(word.utf8)] { #expect(id == known, "\(word.debugDescription)") } else {
                #expect(!seen.values.contains(id), "\(word.debugDescription) shares an id")
                seen[Array(word.utf8)] = id
            }
        }
        #expect(seen.count > 1_500)
        for _ in 0..<100 {
            let text = randomText(&rng, words: 1...40)
            let tokens = Tokenizer.tokens(of: text)
            let lo = Int.random(in: 0..<tokens.count, using: &rng), hi = Int.random(in: lo..<tokens.count, using: &rng)
            #expect(Array(TextDiff.span(tokens[lo].text, through: tokens[hi].text).utf8) == Array(tokens[lo...hi].map(\.text).joined().utf8))
        }
    }

    @Test func aMovedParagraphIsAMove() {
        let old = "Alpha paragraph one here.\n\nBeta paragraph two here.\n\nGamma paragraph three here."
        let new = "Gamma paragraph three here.\n\nAlpha paragraph one here.\n\nBeta paragraph two here."
        let pieces = TextDiff.diff(old: old, new: new)
        // Only the blank line between paragraphs moves with them; no word is removed or added.
        #expect(!pieces.contains { ($0.kind == .removed || $0.kind == .added) && !$0.text.allSatisfy(\.isWhitespace) })
        let moved = pieces.filter { $0.kind == .movedHere }
        #expect(moved.count == 1 && moved[0].text.contains("Gamma paragraph three here."))
        #expect(pieces.filter { $0.kind == .movedAway }.map(\.move) == moved.map(\.move))
    }
}

@Suite struct PhraseTests {
    @Test func matchingIsWholeTokenAndIgnoresWhitespace() throws {
        let m = try #require(PhraseMatcher("democratic  decline"))
        let text = "democratic\ndecline, undemocratic decline; Democratic decline"
        #expect(m.count(in: text) == 1)
        let folded = try #require(PhraseMatcher("DEMOCRATIC decline", ignoringCase: true))
        #expect(folded.count(in: text) == 2)
        #expect(PhraseMatcher(" \n\t") == nil)
        #expect(PhraseMatcher("la la")!.canOverlapItself && PhraseMatcher("a b a")!.canOverlapItself && !PhraseMatcher("democratic decline")!.canOverlapItself)
    }

    /// The byte scan a query runs before tokenising a window never rules out a window that holds the
    /// phrase, and rules out the ones whose bytes cannot hold it.
    @Test func byteScanNeverRulesOutAnOccurrence() {
        var rng = SeededGenerator(seed: 23)
        var ruledOut = 0
        for _ in 0..<600 {
            let text = randomText(&rng, words: 0...60)
            // Half the phrases from the text (they occur), half from elsewhere (most do not).
            let source = Bool.random(using: &rng) ? text : randomText(&rng, words: 1...8)
            let words = PhraseMatcher.words(of: source).map(\.text)
            guard !words.isEmpty else { continue }
            let start = Int.random(in: 0..<words.count, using: &rng)
            let phrase = words[start..<min(words.count, start + Int.random(in: 1...4, using: &rng))].joined(separator: Bool.random(using: &rng) ? " " : "\n")
            for ignoringCase in [false, true] {
                guard let m = PhraseMatcher(phrase, ignoringCase: ignoringCase) else { continue }
                var bytes = text
                let may = bytes.withUTF8 { m.mayOccur(in: UnsafeRawBufferPointer($0)) }
                if m.count(in: text) > 0 { #expect(may, "\(phrase.debugDescription) in \(text.debugDescription)") }
                if !may { ruledOut += 1 }
                if ignoringCase { #expect(may) }
            }
        }
        #expect(ruledOut > 100)
        // A gap of non-ASCII whitespace is not ruled out; a phrase whose words are apart is.
        let m = PhraseMatcher("democratic decline")!
        for (text, expected) in [("democratic\u{00A0}decline", true), ("democratic \n\tdecline", true), ("democratic, decline", false), ("decline democratic", false)] {
            var bytes = text
            #expect(bytes.withUTF8 { m.mayOccur(in: UnsafeRawBufferPointer($0)) } == expected, "\(text.debugDescription)")
        }
    }

    /// The zones hold every change in count for phrases of up to context + 1 words.
    @Test func zonesGiveTheChangeInCount() {
        var rng = SeededGenerator(seed: 16)
        let context = 5
        for _ in 0..<300 {
            let old = randomText(&rng, words: 0...80)
            var words = old.components(separatedBy: " ")
            for _ in 0..<Int.random(in: 0...3, using: &rng) where !words.isEmpty {
                let i = Int.random(in: 0..<words.count, using: &rng)
                if Bool.random(using: &rng) { words.remove(at: i) } else { words.insert(randomText(&rng, words: 1...2), at: i) }
            }
            let new = words.joined(separator: " ")
            let zones = ChangeZones.zones(old: old, new: new, context: context)
            let oldWords = PhraseMatcher.words(of: old).map(\.text), newWords = PhraseMatcher.words(of: new).map(\.text)
            for _ in 0..<10 {
                let source = Bool.random(using: &rng) ? oldWords : newWords
                guard !source.isEmpty else { continue }
                let start = Int.random(in: 0..<source.count, using: &rng)
                let phrase = source[start..<min(source.count, start + Int.random(in: 1...(context + 1), using: &rng))].joined(separator: " ")
                guard let m = PhraseMatcher(phrase), !m.canOverlapItself else { continue }
                let truth = m.count(in: new) - m.count(in: old)
                let fromZones = zones.reduce(0) { $0 + m.count(in: $1.new.joined(separator: " ")) - m.count(in: $1.old.joined(separator: " ")) }
                #expect(fromZones == truth, "\(phrase.debugDescription) in \(old.debugDescription) → \(new.debugDescription)")
            }
        }
    }
}
