import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Text commitments (salted segments) as properties, and redaction through the library: what is
/// withheld leaves the ledger, every hash, proof and checkpoint still holds, and bad requests change
/// nothing.
@Suite struct TextCommitmentTests {
    /// Texts built from pieces that exercise every boundary rule: sentence ends before a space or not,
    /// line feeds alone and in runs, multi-byte characters, nothing at all.
    static func randomText(_ g: inout SeededGenerator) -> String {
        let pieces = ["Jane", " ", "Doe", ".", ". ", "! ", "?", "\n", "\n\n", "é", "日本", "a,b", " .", "x"]
        return (0..<Int.random(in: 0...80, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
    }

    @Test func segmentsCutTheTextWhereTheRuleSays() {
        var g = SeededGenerator(seed: 7)
        for _ in 0..<500 {
            let text = Array(Self.randomText(&g).utf8)
            let ranges = TextCommitment.segments(of: text)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == text.count)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(text.isEmpty ? ranges.count == 1 : ranges.allSatisfy { !$0.isEmpty })
            for range in ranges {
                let segment = Array(text[range])
                // A line feed only at the end of a segment.
                #expect(!segment.dropLast().contains(0x0A))
                // No sentence end followed by a space inside a segment.
                for i in segment.indices.dropLast() where [0x2E, 0x21, 0x3F].contains(segment[i]) {
                    #expect(segment[i + 1] != 0x20)
                }
                // A segment that is not the last ends at a line feed, or where a sentence end meets a space.
                if range.upperBound < text.count {
                    #expect(segment.last == 0x0A || ([0x2E, 0x21, 0x3F].contains(segment.last!) && text[range.upperBound] == 0x20))
                }
            }
        }
    }

    /// RFC 6962's definition, recursively: split at the largest power of two below the count.
    static func referenceRoot(_ leaves: [Digest]) -> Digest {
        if leaves.count == 1 { return leaves[0] }
        var k = 1
        while k * 2 < leaves.count { k *= 2 }
        return MerkleTree.nodeHash(referenceRoot(Array(leaves[..<k])), referenceRoot(Array(leaves[k...])))
    }

    @Test func theRootIsRFC6962sTreeHash() {
        for n in 1...70 {
            let leaves = (0..<n).map { Digest.sha256(Array("leaf \($0)".utf8)) }
            #expect(TextCommitment.root(of: leaves) == Self.referenceRoot(leaves), "n = \(n)")
        }
    }

    @Test func aCommitmentIsTheRootOfItsSaltedSegments() {
        var g = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            let text = Array(Self.randomText(&g).utf8)
            let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
            let leaves = TextCommitment.segments(of: text).enumerated().map { i, range in
                text.withUnsafeBytes { TextCommitment.leafHash(segment: UnsafeRawBufferPointer(rebasing: $0[range]), segmentSalt: TextCommitment.segmentSalt(salt, index: i)) }
            }
            let commitment = TextCommitment.commitment(text: text, salt: salt)
            #expect(commitment == Self.referenceRoot(leaves))
            var other = salt
            other[0] ^= 1
            #expect(TextCommitment.commitment(text: text, salt: other) != commitment)
            if !text.isEmpty {
                var changed = text
                changed[changed.count / 2] ^= 0x01
                #expect(TextCommitment.commitment(text: changed, salt: salt) != commitment)
            }
        }
    }

    /// Withholding any set of segments (the marker standing for each run) leaves a text and proof
    /// that give the commitment back; changing a kept byte, or moving what is withheld, does not.
    /// The independent verifier (tools/verify-report.py) computes the same commitment as the library for
    /// random texts: its own segmenter (bytes.split, line cuts remembered across texts) and tree, checked
    /// against the recipe as the library implements it. Texts share lines, as versions of one document do.
    @Test func theVerifierComputesTheSameCommitments() throws {
        var g = SeededGenerator(seed: 29)
        let lines = (0..<40).map { _ in Self.randomText(&g) + "\n" }
        var cases: [JSONValue] = []
        for k in 0..<400 {
            let text = k % 2 == 0 ? Self.randomText(&g) : (0..<Int.random(in: 0...12, using: &g)).map { _ in lines.randomElement(using: &g)! }.joined() + Self.randomText(&g)
            let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
            cases.append(["text": .string(text), "salt": .string(Hex.encode(salt)), "commitment": .string(TextCommitment.commitment(text: Array(text.utf8), salt: salt).hex)])
        }
        try withTemporaryDirectory { dir throws in
            try Data(CanonicalJSON.encode(.array(cases))).write(to: URL(fileURLWithPath: dir + "/cases.json"))
            let script = """
                import importlib.util, json, sys
                spec = importlib.util.spec_from_file_location("verifier", sys.argv[1])
                verifier = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(verifier)
                cases = json.load(open(sys.argv[2], encoding="utf-8"))
                wrong = [c["text"] for c in cases if verifier.salted_commitment(c["text"], c["salt"]) != c["commitment"]]
                print("%d of %d differ %r" % (len(wrong), len(cases), wrong[:3]))
                """
            let result = try run("/usr/bin/env", ["python3", "-c", script, repositoryRoot.appendingPathComponent("tools/verify-report.py").path, dir + "/cases.json"])
            #expect(result.status == 0 && result.out.hasPrefix("0 of 400 differ"), "\(result.out) \(result.err)")
        }
    }

    @Test func aPartialProofGivesTheCommitmentBackAndNothingElseDoes() {
        var g = SeededGenerator(seed: 23)
        let marker = Array("[redacted by event #9: order]".utf8)
        for _ in 0..<300 {
            let text = Array(Self.randomText(&g).utf8)
            let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
            let commitment = TextCommitment.commitment(text: text, salt: salt)
            let ranges = TextCommitment.segments(of: text)
            let withheld = Set(ranges.indices.filter { _ in Bool.random(using: &g) })
            var readable: [UInt8] = []
            var parts: [PartialTextProof.Part] = []
            for (i, range) in ranges.enumerated() {
                let segmentSalt = TextCommitment.segmentSalt(salt, index: i)
                if withheld.contains(i) {
                    let leaf = text.withUnsafeBytes { TextCommitment.leafHash(segment: UnsafeRawBufferPointer(rebasing: $0[range]), segmentSalt: segmentSalt) }
                    let first = i == 0 || !withheld.contains(i - 1)
                    parts.append(.withheld(leafHash: leaf, markerBytes: first ? marker.count : 0))
                    if first { readable += marker }
                } else {
                    parts.append(.kept(bytes: range.count, salt: segmentSalt))
                    readable += text[range]
                }
            }
            let proof = PartialTextProof(parts: parts)
            #expect(proof.commitment(readableText: readable) == commitment)
            #expect(proof.withheldSegments == withheld.sorted())
            if let keptByte = parts.indices.first(where: { if case .kept(let n, _) = parts[$0] { n > 0 } else { false } }) {
                var offset = 0
                for part in parts[..<keptByte] {
                    switch part {
                    case .kept(let n, _): offset += n
                    case .withheld(_, let m): offset += m
                    }
                }
                var forged = readable
                forged[offset] ^= 0x01
                #expect(proof.commitment(readableText: forged) != commitment)
            }
            #expect(proof.commitment(readableText: readable + [0x20]) == nil)
        }
    }
}

@Suite struct LedgerRedactionTests {
    let first = "Jane Doe lives at 5 Elm Street. She called the office. Nothing else happened.\nA second line, with Jane Doe again.\n"
    let second = "Jane Doe lives at 5 Elm Street. She called the office twice. Nothing else happened.\nA second line.\n"

    func withMemo<R>(_ body: (Ledger) throws -> R) throws -> R {
        try withTemporaryLedger { ledger throws in
            try ledger.append(NewEvent(document: "memo", change: .publish(text: first, title: "Memo"), at: Timestamp(iso8601: "2024-01-01")!, actor: "alice"))
            try ledger.append(NewEvent(document: "memo", change: .edit(text: second), at: Timestamp(iso8601: "2024-01-02")!, actor: "bob"))
            try ledger.append(NewEvent(document: "other", change: .publish(text: "Jane Doe is mentioned elsewhere too.\n"), at: Timestamp(iso8601: "2024-01-03")!, actor: "carol"))
            return try body(ledger)
        }
    }

    func exportText(_ ledger: Ledger) throws -> String { try exportJSONL(ledger) }

    @Test func aPhraseLeavesEveryVersionAndEveryProofStillHolds() throws {
        try withMemo { ledger throws in
            let checkpoint = try ledger.signCheckpoint()
            let hashes = try ledger.events().map(\.hash)
            let proof = try ledger.inclusionProof(position: 2, treeSize: checkpoint.treeSize)
            let result = try ledger.redact(Redaction(document: "memo", scope: .allVersions, phrase: "Jane Doe", reason: "court order 12", actor: "clerk", authority: "District Court"))
            let event = try #require(result.event)
            #expect(event.type == .redacted && event.position == 4 && event.version == 2 && event.reason == "court order 12")
            #expect(event.redacts.map(\.position) == [1, 2])
            // Word-token ranges of "Jane Doe" in each text, and the sentences or lines holding them.
            #expect(event.redacts[0].tokens == [0..<2, 22..<24] && event.redacts[0].segments == [0, 3])
            #expect(event.redacts[1].tokens == [0..<2] && event.redacts[1].segments == [0])

            // The events keep their hashes; the old checkpoint and proof still check.
            #expect(try ledger.events().prefix(3).map(\.hash) == hashes)
            let report = try ledger.verify(projections: true)
            #expect(report.isClean, "\(report.firstProblem ?? "") \(report.projectionMismatches)")
            #expect(report.checkpoints == 1)
            #expect(MerkleTree.verifyInclusion(leaf: MerkleTree.leafHash(hashes[1]), index: 1, size: checkpoint.treeSize, path: proof.path, root: checkpoint.rootHash))

            // The texts read with the marker where the sentences were; the version and current text stay.
            let marker = "[redacted by event #4: court order 12]"
            #expect(try ledger.state(of: "memo")?.text == marker + " She called the office twice. Nothing else happened.\nA second line.\n")
            #expect(try ledger.state(of: "memo", asOf: .version(1))?.text == marker + " She called the office. Nothing else happened.\n" + marker + "\n")
            #expect(try ledger.document("memo")?.version == 2)
            #expect(try ledger.state(of: "other")?.text == "Jane Doe is mentioned elsewhere too.\n", "another document keeps its text")

            // Nothing that reads the memo finds the words: blame, the phrase index, the export.
            #expect(try #require(try ledger.blame("memo")).tokens.map(\.text).joined().contains("Jane") == false)
            let history = try ledger.phraseHistory(PhraseQuery("Jane Doe"))
            #expect(history.changes.allSatisfy { $0.event.document == "other" })
            let export = try exportText(ledger)
            #expect(export.components(separatedBy: "\n").filter { $0.contains("\"memo\"") }.allSatisfy { !$0.contains("Jane") })

            // Redacting again is a no-op that says so.
            let again = try ledger.redact(Redaction(document: "memo", scope: .allVersions, phrase: "Jane Doe", reason: "court order 12", actor: "clerk"))
            #expect(again.event == nil && again.alreadyRedacted == [1, 2])
            #expect(try ledger.head().position == 4)
        }
    }

    @Test func aWholeVersionGoesAndAnExportReimportsIdentically() throws {
        try withMemo { ledger throws in
            _ = try ledger.redact(Redaction(document: "memo", scope: .versions([1]), phrase: "Jane Doe", reason: "first order", actor: "clerk"))
            let whole = try ledger.redact(Redaction(document: "memo", scope: .versions([1]), reason: "second order", actor: "clerk"))
            #expect(whole.event?.redacts.first?.isWhole == true)
            #expect(try ledger.state(of: "memo", asOf: .version(1))?.text == "[redacted by event #5: second order]")
            #expect(try ledger.verify().isClean)
            let export = try exportText(ledger)
            try withTemporaryLedger { copy throws in
                _ = try importJSONL(copy, export)
                #expect(try exportText(copy) == export)
                #expect(try copy.verify().isClean)
            }
        }
    }

    @Test func badRequestsChangeNothing() throws {
        try withMemo { ledger throws in
            let before = try exportText(ledger)
            func refused(_ request: Redaction, _ code: LedgerError.Code, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
                do {
                    _ = try ledger.redact(request)
                    Issue.record("accepted", sourceLocation: sourceLocation)
                } catch {
                    #expect(error.code == code, sourceLocation: sourceLocation)
                    #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
                }
                #expect(try exportText(ledger) == before, sourceLocation: sourceLocation)
            }
            try refused(Redaction(document: "nope", scope: .allVersions, reason: "r", actor: "a"), .notFound, "there is no document \"nope\"")
            try refused(Redaction(document: "memo", scope: .versions([3]), reason: "r", actor: "a"), .notFound, "has no version 3 (its versions are 1–2)")
            try refused(Redaction(document: "memo", scope: .versions([2]), phrase: "Richard Roe", reason: "r", actor: "a"), .notFound, "does not appear in the text of version 2")
            try refused(Redaction(document: "memo", scope: .allVersions, phrase: "Memo", reason: "r", actor: "a"), .notFound, "It appears in the title of version 1, which is hashed into the event itself and can never be redacted")
            try refused(Redaction(document: "memo", scope: .allVersions, phrase: "Jane Doe", reason: "about Jane Doe", actor: "a"), .invalidInput, "the reason contains the phrase")
            try refused(Redaction(document: "memo", scope: .allVersions, reason: " ", actor: "a"), .invalidInput, "a redaction needs a reason")
        }
    }
}
