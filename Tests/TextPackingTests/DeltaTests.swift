import PalimpsestTestSupport
import Testing
import TextPacking


/// Random prose-like text: words from a small vocabulary, so that repeats (and false matches) occur.
func randomText(_ rng: inout SeededGenerator, words: Int) -> [UInt8] {
    let vocabulary = ["the", "democratic", "decline", "poverty", "and", "violence", "López", "Obrador", "—", "\n\n", ",", "migration", "root", "causes", "of"]
    var out: [UInt8] = []
    for _ in 0..<words {
        out += Array(vocabulary.randomElement(using: &rng)!.utf8)
        out.append(0x20)
    }
    return out
}

/// Applies random edits: deletions, insertions, replacements and a moved block.
func mutate(_ base: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
    var text = base
    for _ in 0..<Int.random(in: 0...6, using: &rng) {
        let at = Int.random(in: 0...text.count, using: &rng)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0 where !text.isEmpty:
            let end = min(text.count, at + Int.random(in: 1...200, using: &rng))
            text.removeSubrange(min(at, end)..<end)
        case 1:
            text.insert(contentsOf: randomText(&rng, words: Int.random(in: 1...30, using: &rng)), at: at)
        case 2 where text.count > 100:
            let start = Int.random(in: 0..<(text.count - 50), using: &rng)
            let block = Array(text[start..<(start + 50)])
            text.removeSubrange(start..<(start + 50))
            text.insert(contentsOf: block, at: Int.random(in: 0...text.count, using: &rng))
        default:
            if at < text.count { text[at] = UInt8.random(in: 0...255, using: &rng) }
        }
    }
    return text
}

@Suite struct DeltaTests {
    @Test(arguments: 0..<400)
    func applyingTheDeltaGivesTheTargetBack(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let base = randomText(&rng, words: Int.random(in: 0...3000, using: &rng))
        let target = Bool.random(using: &rng) ? mutate(base, &rng) : randomText(&rng, words: Int.random(in: 0...50, using: &rng))
        let delta = Delta.encode(base: base, target: target)
        let rebuilt = try delta.withUnsafeBytes { try Delta.apply($0, to: base, size: target.count) }
        #expect(rebuilt == target)
    }

    @Test func aSmallEditToALongTextCostsAFewBytes() throws {
        var rng = SeededGenerator(seed: 42)
        let base = randomText(&rng, words: 20_000)
        var target = base
        target.replaceSubrange(50_000..<50_010, with: Array("democratic decline".utf8))
        let delta = Delta.encode(base: base, target: target)
        #expect(delta.count < 64)
        #expect(try delta.withUnsafeBytes { try Delta.apply($0, to: base, size: target.count) } == target)
    }

    @Test func aMovedParagraphIsCopiedNotInserted() throws {
        var rng = SeededGenerator(seed: 7)
        let a = randomText(&rng, words: 2000), b = randomText(&rng, words: 2000), c = randomText(&rng, words: 2000)
        let delta = Delta.encode(base: a + b + c, target: c + a + b)
        #expect(delta.count < 100)
    }

    @Test func aCorruptDeltaIsRefused() {
        let base = Array("hello world".utf8)
        // copy 50 bytes from offset 0 of an 11-byte base
        #expect(throws: Delta.Corrupt.self) { try [UInt8]([101, 0]).withUnsafeBytes { try Delta.apply($0, to: base, size: 50) } }
        // insert that runs past the end
        #expect(throws: Delta.Corrupt.self) { try [UInt8]([20, 65]).withUnsafeBytes { try Delta.apply($0, to: base, size: 10) } }
        // wrong declared size
        let good = Delta.encode(base: base, target: Array("hello brave world".utf8))
        #expect(throws: Delta.Corrupt.self) { try good.withUnsafeBytes { try Delta.apply($0, to: base, size: 16) } }
        // truncated varint
        #expect(throws: Delta.Corrupt.self) { try [UInt8]([0x81]).withUnsafeBytes { try Delta.apply($0, to: base, size: 1) } }
    }

    @Test(arguments: [0, 1, 10, 100_000])
    func deflateRoundTrips(size: Int) throws {
        var rng = SeededGenerator(seed: UInt64(size))
        let text = randomText(&rng, words: size / 5)
        let packed = Deflate.compress(text)
        #expect(try packed.withUnsafeBytes { try Deflate.decompress($0, size: text.count) } == text)
        if text.count > 1000 { #expect(packed.count < text.count / 2) }
    }

    @Test func corruptDeflateIsRefused() {
        let packed = Deflate.compress(Array(String(repeating: "palimpsest ", count: 100).utf8))
        var broken = packed
        broken[broken.count / 2] ^= 0xFF
        #expect(throws: Deflate.Failure.self) { try broken.withUnsafeBytes { try Deflate.decompress($0, size: 1100) } }
    }
}
