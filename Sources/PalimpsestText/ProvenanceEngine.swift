/// One token ever present in a document: its folded text, the event that first wrote it, and the
/// events that removed it and put it back, in order. Events are named by the caller (the ledger
/// uses log positions).
public struct ProvenanceToken: Sendable, Equatable {
    /// The token's text, lower-cased (provenance compares case-insensitively, as WikiWho does: a
    /// word whose case was changed keeps its author).
    public var value: String
    public var origin: UInt64
    public var removedBy: [UInt64]
    public var restoredBy: [UInt64]

    public init(value: String, origin: UInt64, removedBy: [UInt64] = [], restoredBy: [UInt64] = []) {
        (self.value, self.origin, self.removedBy, self.restoredBy) = (value, origin, removedBy, restoredBy)
    }
}

/// Word-level provenance of one document, folded version by version: the approach of WikiWho
/// (Flöck & Acosta, WWW 2014).
///
/// Each new version is matched against the previous one from the largest unit down: paragraphs by
/// hash (first among the previous version's, then among every paragraph the document ever had),
/// then the sentences of unmatched paragraphs the same way, then a token diff of what is left. A
/// unit matched anywhere keeps its tokens' identities, so a moved paragraph keeps its author and a
/// paragraph deleted and later put back (a revert of vandalism) is restored rather than rewritten.
/// Only non-whitespace tokens are tracked.
public struct ProvenanceEngine: Sendable {
    public struct Sentence: Sendable, Equatable {
        public var hash: UInt64
        public var tokens: [Int32]
        public init(hash: UInt64, tokens: [Int32]) { (self.hash, self.tokens) = (hash, tokens) }
    }

    public struct Paragraph: Sendable, Equatable {
        public var hash: UInt64
        public var sentences: [Sentence]
        public init(hash: UInt64, sentences: [Sentence]) { (self.hash, self.sentences) = (hash, sentences) }
        public var tokenCount: Int { sentences.reduce(0) { $0 + $1.tokens.count } }
    }

    /// What one version changed, for whoever persists the engine.
    public struct Change: Sendable, Equatable {
        /// Identities of the tokens this version created.
        public var created: Range<Int32>
        /// Tokens of the previous version that this one removed.
        public var removed: [Int32]
        /// Tokens absent from the previous version that this one put back.
        public var restored: [Int32]
        /// Units first seen in this version (appended to the history).
        public var newParagraphs: [Paragraph]
        public var newSentences: [Sentence]
        /// Whether the version was taken for vandalism (then nothing was added to the history and the
        /// next version is matched against the one before it), and the hash of its text.
        public var vandalism: Bool
        public var textHash: UInt64
    }

    /// Every token the document ever held, by identity.
    public var tokens: Tokens { Tokens(words: words, values: tokenWords, origins: tokenOrigins, removals: tokenRemovals, restorations: tokenRestorations) }
    /// The tokens, stored by column (12 bytes a token, where an array of `ProvenanceToken` takes 40
    /// with its two lists empty): a repository's thousands of documents keep millions of them. A
    /// token's text is its word's number in the document's vocabulary, so that the token diff
    /// compares numbers, not strings.
    private var tokenWords: [Int32] = []
    /// The document's distinct folded words, numbered by their bytes (canonically equivalent
    /// spellings are different words, as they are to WikiWho's Python).
    private var words = WordIdentities()
    private var tokenOrigins: [UInt64] = []
    /// By token, while `keepsTokenHistories` (shorter than the others when it was off for a while).
    private var tokenRemovals: [[UInt64]] = []
    private var tokenRestorations: [[UInt64]] = []
    private var tokenCount: Int { tokenOrigins.count }

    /// The tokens as a collection of `ProvenanceToken`s, built on access.
    public struct Tokens: RandomAccessCollection, Sendable {
        let words: WordIdentities, values: [Int32], origins: [UInt64], removals: [[UInt64]], restorations: [[UInt64]]
        public var startIndex: Int { 0 }
        public var endIndex: Int { origins.count }
        public subscript(id: Int) -> ProvenanceToken {
            ProvenanceToken(
                value: String(words[Int(values[id])]), origin: origins[id], removedBy: id < removals.count ? removals[id] : [],
                restoredBy: id < restorations.count ? restorations[id] : [])
        }
    }
    /// The structure of the latest version.
    public private(set) var current: [Paragraph]
    /// The structure new versions are matched against: the latest version that was not taken for
    /// vandalism (WikiWho compares the version after a vandal's with the one before it).
    public private(set) var effective: [Paragraph]
    /// Its length in Unicode scalars (the vandalism rule compares lengths).
    public private(set) var effectiveLength: Int
    /// Hashes of texts taken for vandalism: the same text again is vandalism again.
    public private(set) var vandalTexts: Set<UInt64>
    public private(set) var paragraphHistory: [UInt64: [Paragraph]]
    public private(set) var sentenceHistory: [UInt64: [Sentence]]
    /// Whether `tokens` keep each token's removals and restorations (`removedBy`, `restoredBy`).
    /// Matching never reads them; a caller that persists them from each `Change` (the ledger's
    /// projection) turns this off, because on a long history they are most of the engine's memory:
    /// Anarchism's 15,180 versions leave 8.8 million entries, ~110 MB of arrays.
    public var keepsTokenHistories = true

    /// Marks for "used in the version being matched" and "present in the previous version".
    private var used: [UInt32] = []
    private var previous: [UInt32] = []
    /// Scratch for `assign`: a vocabulary number's number within one diff, -1 outside one.
    private var localNumbers: [Int32] = []
    private var generation: UInt32 = 0

    public init() {
        self.init(tokens: [], current: [], effective: [], effectiveLength: 0, vandalTexts: [], paragraphHistory: [:], sentenceHistory: [:])
    }

    /// An engine restored from persisted state.
    public init(
        tokens: [ProvenanceToken], current: [Paragraph], effective: [Paragraph], effectiveLength: Int, vandalTexts: Set<UInt64>,
        paragraphHistory: [UInt64: [Paragraph]], sentenceHistory: [UInt64: [Sentence]]
    ) {
        (self.current, self.effective, self.effectiveLength) = (current, effective, effectiveLength)
        (self.vandalTexts, self.paragraphHistory, self.sentenceHistory) = (vandalTexts, paragraphHistory, sentenceHistory)
        var words = WordIdentities()
        tokenWords = tokens.map { Int32(words.id(Substring($0.value))) }
        self.words = words
        tokenOrigins = tokens.map(\.origin)
        if tokens.contains(where: { !$0.removedBy.isEmpty || !$0.restoredBy.isEmpty }) {
            tokenRemovals = tokens.map(\.removedBy)
            tokenRestorations = tokens.map(\.restoredBy)
        }
    }

    /// WikiWho's vandalism rules: a page of over 1,000 characters cut by 40% or more to under 1,000
    /// (unless the editor marked the edit minor and explained it), and new text whose words repeat
    /// more than 20 times on average (copy-paste floods).
    static let shrinkFromLength = 1000, shrinkToLength = 1000, shrinkRatio = -0.40, floodDensity = 20.0

    /// The token identities of the latest version, in order.
    public var currentTokenIDs: [Int32] { current.flatMap { $0.sentences.flatMap(\.tokens) } }

    /// Folds the next version: `text` nil means the document was withdrawn (everything it said is
    /// removed; a later version can restore it). `survey`, when given, must be `Segmenter.survey(text)`:
    /// a caller folding many versions can compute it ahead, on another thread (it depends on the text
    /// alone), and the engine then does not pass over the whole text again.
    @discardableResult
    public mutating func apply(text: String?, event: UInt64, explainedMinorEdit: Bool = false, survey given: Segmenter.Survey? = nil) -> Change {
        let firstNew = Int32(tokenCount)
        // The previous version's tokens are read in place (`current` is replaced only at the end).
        let previousVersion = current
        generation &+= 1
        if generation == 0 {  // wrapped: clear the marks once every 2³² versions
            used = Array(repeating: 0, count: used.count); previous = used; generation = 1
        }
        grow(to: tokenCount)
        let generation = generation
        previous.withUnsafeMutableBufferPointer { previous in
            Self.forEachToken(of: previousVersion) { previous[Int($0)] = generation }
        }
        // Usually the version matched against is the previous one (it differs only after a version
        // taken for vandalism): a paragraph matched from it whole then neither removes nor restores a
        // token, and the walks below pass over it.
        let matchedAgainstPrevious = previousVersion == effective

        var newParagraphs: [Paragraph] = [], newSentences: [Sentence] = []
        var next: [Paragraph] = []
        var matched = Matched()
        var vandalism = false
        var textHash: UInt64 = 0
        var length = 0
        if let text {
            let survey = given ?? Segmenter.survey(text)
            textHash = survey.textHash
            length = survey.scalarCount
            vandalism = vandalTexts.contains(textHash)
            if !vandalism, !explainedMinorEdit, effectiveLength > Self.shrinkFromLength, length < Self.shrinkToLength,
                Double(length - effectiveLength) / Double(effectiveLength) <= Self.shrinkRatio
            {
                vandalism = true
            }
            var flood = false
            next = match(text, survey.paragraphs, event: event, newParagraphs: &newParagraphs, newSentences: &newSentences, flood: &flood, matched: &matched)
            vandalism = vandalism || flood
        }

        var removed: [Int32] = []
        used.withUnsafeBufferPointer { used in
            Self.forEachToken(of: previousVersion, skipping: matchedAgainstPrevious ? matched.previous : []) { id in
                if used[Int(id)] != generation { removed.append(id) }
            }
        }
        var restored: [Int32] = []
        previous.withUnsafeBufferPointer { previous in
            Self.forEachToken(of: next, skipping: matchedAgainstPrevious ? matched.fromPrevious : []) { id in
                if id < firstNew && previous[Int(id)] != generation { restored.append(id) }
            }
        }
        if keepsTokenHistories {
            for id in removed { Self.append(event, to: &tokenRemovals, at: Int(id)) }
            for id in restored { Self.append(event, to: &tokenRestorations, at: Int(id)) }
        }
        if vandalism {
            vandalTexts.insert(textHash)
            newParagraphs = []
            newSentences = []
        } else {
            for p in newParagraphs { paragraphHistory[p.hash, default: []].append(p) }
            for s in newSentences { sentenceHistory[s.hash, default: []].append(s) }
            effective = next
            effectiveLength = length
        }
        current = next
        return Change(
            created: firstNew..<Int32(tokenCount), removed: removed, restored: restored, newParagraphs: newParagraphs,
            newSentences: newSentences, vandalism: vandalism, textHash: textHash)
    }

    /// Gives back what the engine holds only while it matches a version: the marks (8 bytes a token)
    /// and the vocabulary scratch, and the slack its token columns grew by (up to as much again). For
    /// a caller that keeps many engines between versions — the ledger's projection caches a
    /// repository's thousands; on rust-lang/rfcs this was ~50 of its ~150 MB. The next `apply`
    /// allocates the marks again.
    public mutating func releaseScratch() {
        used = []
        previous = []
        localNumbers = []
        tokenWords = Self.exactlySized(tokenWords)
        tokenOrigins = Self.exactlySized(tokenOrigins)
    }

    private static func exactlySized<T>(_ array: [T]) -> [T] {
        guard array.capacity > array.count + array.count / 16 + 16 else { return array }
        return [T](unsafeUninitializedCapacity: array.count) { buffer, count in
            count = buffer.initialize(fromContentsOf: array)
        }
    }

    /// The word's number in the vocabulary, numbering it if it is new.
    private mutating func number(of word: String) -> Int32 {
        Int32(words.id(Substring(word)))
    }

    private static func append(_ event: UInt64, to lists: inout [[UInt64]], at id: Int) {
        if lists.count <= id { lists.append(contentsOf: repeatElement([], count: id + 1 - lists.count)) }
        lists[id].append(event)
    }

    private mutating func grow(to count: Int) {
        if used.count < count {
            used.append(contentsOf: repeatElement(0, count: count - used.count + 1024))
            previous.append(contentsOf: repeatElement(0, count: used.count - previous.count))
        }
    }

    private func isFree(_ tokens: [Int32]) -> Bool {
        let generation = generation
        return used.withUnsafeBufferPointer { used in
            tokens.withUnsafeBufferPointer { tokens in
                for id in tokens where used[Int(id)] == generation { return false }
                return true
            }
        }
    }

    /// A word as provenance compares it: `lowercased()`, with ASCII words (nearly all) folded by byte
    /// instead of through Unicode's case mapping.
    static func folded(_ word: Substring) -> String {
        var upper = false
        for byte in word.utf8 {
            if byte >= 0x80 { return word.lowercased() }
            if byte >= 65 && byte <= 90 { upper = true }
        }
        guard upper else { return String(word) }
        return String(unsafeUninitializedCapacity: word.utf8.count) { buffer in
            for (k, byte) in word.utf8.enumerated() { buffer[k] = byte >= 65 && byte <= 90 ? byte | 0x20 : byte }
            return word.utf8.count
        }
    }

    /// Which paragraphs `match` took whole from the version matched against.
    struct Matched {
        /// By paragraph of that version.
        var previous: [Bool] = []
        /// By paragraph of the new version.
        var fromPrevious: [Bool] = []
    }

    /// Each token of the paragraphs, in order, leaving out paragraph k where `skipping[k]` (a shorter
    /// list skips nothing past its end). Walked through buffer pointers: as nested `for` loops over
    /// the arrays, retaining every sentence, these walks were a fifth of a rebuild's matching time.
    @inline(__always)
    static func forEachToken(of paragraphs: [Paragraph], skipping: [Bool] = [], _ body: (Int32) -> Void) {
        paragraphs.withUnsafeBufferPointer { paragraphs in
            for k in paragraphs.indices where k >= skipping.count || !skipping[k] {
                paragraphs[k].sentences.withUnsafeBufferPointer { sentences in
                    for s in sentences.indices {
                        sentences[s].tokens.withUnsafeBufferPointer { tokens in
                            for id in tokens { body(id) }
                        }
                    }
                }
            }
        }
    }

    private func isFree(_ paragraph: Paragraph) -> Bool {
        for sentence in paragraph.sentences where !isFree(sentence.tokens) { return false }
        return true
    }

    private mutating func markUsed(_ ids: [Int32]) {
        let generation = generation
        used.withUnsafeMutableBufferPointer { used in
            ids.withUnsafeBufferPointer { ids in
                for id in ids { used[Int(id)] = generation }
            }
        }
    }

    private mutating func match(_ text: String, _ paragraphs: [(range: Range<Int>, hash: UInt64)], event: UInt64, newParagraphs: inout [Paragraph], newSentences: inout [Sentence], flood: inout Bool, matched: inout Matched) -> [Paragraph] {
        let previousParagraphs = effective
        var previousByHash: [UInt64: [Int]] = [:]
        for (k, p) in previousParagraphs.enumerated() { previousByHash[p.hash, default: []].append(k) }
        var previousMatched = [Bool](repeating: false, count: previousParagraphs.count)

        // 1. Paragraphs, by hash.
        enum Slot { case matched(Paragraph), open(Range<Int>, UInt64) }
        var slots: [Slot] = []
        var fromPrevious = [Bool](repeating: false, count: paragraphs.count)
        // Until a paragraph comes from the history, the previous version's unmatched paragraphs are
        // free: a version holds each token once.
        var tookFromHistory = false
        for (index, (range, hash)) in paragraphs.enumerated() {
            var found: Paragraph? = nil
            for k in previousByHash[hash] ?? [] where !previousMatched[k] && (!tookFromHistory || isFree(previousParagraphs[k])) {
                previousMatched[k] = true
                fromPrevious[index] = true
                found = previousParagraphs[k]
                break
            }
            if found == nil {
                for candidate in paragraphHistory[hash] ?? [] where isFree(candidate) {
                    found = candidate
                    tookFromHistory = true
                    break
                }
            }
            if let found {
                for s in found.sentences { markUsed(s.tokens) }
                slots.append(.matched(found))
            } else {
                slots.append(.open(range, hash))
            }
        }

        // 2. Sentences of the unmatched paragraphs, by hash: first among the previous version's
        // unmatched paragraphs, then among every sentence the document ever had.
        var previousSentences: [UInt64: [Sentence]] = [:]
        var previousOpenSentences: [Sentence] = []
        for k in previousParagraphs.indices where !previousMatched[k] {
            for s in previousParagraphs[k].sentences {
                previousSentences[s.hash, default: []].append(s)
                previousOpenSentences.append(s)
            }
        }
        struct OpenSentence { var paragraph: Int; var sentence: Int; var values: [String] }
        var built: [[Sentence]] = Array(repeating: [], count: slots.count)
        var openSentences: [OpenSentence] = []
        for slotIndex in slots.indices {
            guard case .open(let range, _) = slots[slotIndex] else { continue }
            let utf8 = text.utf8
            let body = text[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)]
            let bodyTokens = Tokenizer.tokens(of: String(body))
            for range in Segmenter.sentences(of: bodyTokens) {
                let values = bodyTokens[range].filter { $0.kind != .whitespace }.map { Self.folded($0.text) }
                let hash = Segmenter.sentenceHash(values)
                var found: Sentence? = nil
                for candidate in previousSentences[hash] ?? [] where isFree(candidate.tokens) {
                    found = candidate
                    break
                }
                if found == nil {
                    for candidate in sentenceHistory[hash] ?? [] where isFree(candidate.tokens) {
                        found = candidate
                        break
                    }
                }
                if let found {
                    markUsed(found.tokens)
                    built[slotIndex].append(found)
                } else {
                    openSentences.append(OpenSentence(paragraph: slotIndex, sentence: built[slotIndex].count, values: values))
                    built[slotIndex].append(Sentence(hash: hash, tokens: []))
                }
            }
        }

        // 3. Tokens of the unmatched sentences: a diff against the previous version's tokens that
        // nothing has matched yet.
        if !openSentences.isEmpty {
            var oldIDs: [Int32] = []
            for s in previousOpenSentences { for id in s.tokens where used[Int(id)] != generation { oldIDs.append(id) } }
            let newValues = openSentences.flatMap(\.values)
            if slots.contains(where: { if case .open = $0 { true } else { false } }), Self.density(newValues) > Self.floodDensity {
                flood = true
            }
            let oldWords = oldIDs.map { tokenWords[Int($0)] }
            var newWords: [Int32] = []
            newWords.reserveCapacity(newValues.count)
            for value in newValues { newWords.append(number(of: value)) }
            let assigned = assign(oldWords, newWords).map { $0.map { oldIDs[$0] } ?? -1 }
            var cursor = 0
            for open in openSentences {
                var ids: [Int32] = []
                ids.reserveCapacity(open.values.count)
                for _ in open.values {
                    var id = assigned[cursor]
                    if id < 0 {
                        id = Int32(tokenCount)
                        tokenWords.append(newWords[cursor])
                        tokenOrigins.append(event)
                    }
                    ids.append(id)
                    cursor += 1
                }
                grow(to: tokenCount)
                markUsed(ids)
                built[open.paragraph][open.sentence].tokens = ids
                newSentences.append(built[open.paragraph][open.sentence])
            }
        }

        var result: [Paragraph] = []
        result.reserveCapacity(slots.count)
        for (slotIndex, slot) in slots.enumerated() {
            switch slot {
            case .matched(let p): result.append(p)
            case .open(_, let hash):
                let p = Paragraph(hash: hash, sentences: built[slotIndex])
                newParagraphs.append(p)
                result.append(p)
            }
        }
        matched = Matched(previous: previousMatched, fromPrevious: fromPrevious)
        return result
    }

    /// For each new word, the old word it continues (an index into `old`), or nil for a new token:
    /// WikiWho's reading of difflib's output. Each new word takes the first unconsumed line of the
    /// diff that carries its text: a deletion consumes the first unmatched old word of that text and
    /// the search goes on; an unchanged line matches the first unmatched old word of that text; an
    /// insertion makes a new token.
    mutating func assign(_ oldWords: [Int32], _ newWords: [Int32]) -> [Int?] {
        if oldWords.isEmpty { return Array(repeating: nil, count: newWords.count) }
        // Numbered again from 0 in order of appearance (what `TokenDiff.interned` gives for strings),
        // through a table by vocabulary number that is reset only where it was written.
        if localNumbers.count < words.count { localNumbers.append(contentsOf: repeatElement(-1, count: words.count - localNumbers.count)) }
        var distinctWords: [Int32] = []
        func local(_ word: Int32) -> Int {
            if localNumbers[Int(word)] < 0 {
                localNumbers[Int(word)] = Int32(distinctWords.count)
                distinctWords.append(word)
            }
            return Int(localNumbers[Int(word)])
        }
        let xs = oldWords.map(local), y = newWords.map(local)
        for word in distinctWords { localNumbers[Int(word)] = -1 }
        return Self.assign(interned: xs, y, words: distinctWords.map { String(words[Int($0)]) })
    }

    /// `assign` over words numbered 0..<n in order of appearance; `words` are their texts (for
    /// difflib's similarity of replaced words).
    static func assign(interned xs: [Int], _ y: [Int], words: [String]) -> [Int?] {
        let lines = LineDiffer.compare(interned: xs, y, words: words)
        // Per distinct word (its interned number): the diff's lines that carry it, in order, and its
        // positions in `old`, each list a slice of one flat array.
        let distinct = max(xs.max() ?? -1, y.max() ?? -1) + 1
        enum Entry { case equal, delete, insert }
        func word(of line: LineDiffer.Line) -> Int { line.tag == .insert ? y[line.index] : xs[line.index] }
        var entryStarts = [Int](repeating: 0, count: distinct + 1)
        for line in lines { entryStarts[word(of: line) + 1] += 1 }
        for w in 0..<distinct { entryStarts[w + 1] += entryStarts[w] }
        var entries = [Entry](repeating: .equal, count: lines.count)
        var entryCursor = entryStarts  // the next unconsumed line of each word
        for line in lines {
            let w = word(of: line)
            entries[entryCursor[w]] = switch line.tag { case .equal: .equal; case .delete: .delete; case .insert: .insert }
            entryCursor[w] += 1
        }
        entryCursor = entryStarts
        var oldStarts = [Int](repeating: 0, count: distinct + 1)
        for w in xs { oldStarts[w + 1] += 1 }
        for w in 0..<distinct { oldStarts[w + 1] += oldStarts[w] }
        var oldByValue = [Int](repeating: 0, count: xs.count)
        var oldCursor = oldStarts  // the next unmatched old word of each word
        for (i, w) in xs.enumerated() {
            oldByValue[oldCursor[w]] = i
            oldCursor[w] += 1
        }
        oldCursor = oldStarts
        var result: [Int?] = []
        result.reserveCapacity(y.count)
        for w in y {
            var found: Int? = nil
            var e = entryCursor[w]
            func nextOld() -> Int? {
                guard oldCursor[w] < oldStarts[w + 1] else { return nil }
                oldCursor[w] += 1
                return oldByValue[oldCursor[w] - 1]
            }
            search: while e < entryStarts[w + 1] {
                let entry = entries[e]
                e += 1
                switch entry {
                case .delete: _ = nextOld()
                case .equal:
                    if let i = nextOld() { found = i; break search }
                case .insert: break search
                }
            }
            entryCursor[w] = e
            result.append(found)
        }
        return result
    }

    /// WikiWho's token density: the average number of times each distinct word occurs, leaving out
    /// markup that legitimately repeats.
    static func density(_ words: [String]) -> Double {
        var counts: [String: Int] = [:]
        for w in words where !ignoredInDensity.contains(w) { counts[w, default: 0] += 1 }
        return counts.isEmpty ? 0 : Double(counts.values.reduce(0, +)) / Double(counts.count)
    }

    static let ignoredInDensity: Set<String> = ["<", ">", "tr", "td", "[", "]", "\"", "*", "==", "{", "}", "|", "-", "="]
}
