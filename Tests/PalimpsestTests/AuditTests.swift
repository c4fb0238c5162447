import Crypto
import Foundation
import LMDB
import Palimpsest
import PalimpsestText
@testable import PalimpsestPresentation
import PalimpsestTestSupport
import Testing

/// RFC 9162's definition of the Merkle tree hash, written literally (recursion over the leaves), as
/// the reference the stored tree, the proofs and the frontier are checked against.
func referenceRoot(_ leaves: ArraySlice<Palimpsest.Digest>) -> Palimpsest.Digest {
    if leaves.isEmpty { return Palimpsest.Digest.sha256([UInt8]()) }
    if leaves.count == 1 { return MerkleTree.leafHash(leaves.first!) }
    var k = 1
    while k * 2 < leaves.count { k *= 2 }
    let mid = leaves.startIndex + k
    return MerkleTree.nodeHash(referenceRoot(leaves[..<mid]), referenceRoot(leaves[mid...]))
}

func randomDigests(_ count: Int, seed: UInt64) -> [Palimpsest.Digest] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Palimpsest.Digest(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
}

@Suite struct MerkleTreeTests {
    /// Perfect subtrees straight from the leaves (what the ledger reads from its tables).
    func perfect(_ leaves: [Palimpsest.Digest]) -> MerkleTree.PerfectSubtree {
        { level, index in
            let start = Int(index) << level
            return referenceRoot(leaves[start..<start + (1 << level)])
        }
    }

    @Test func rootsAndTheFrontierMatchTheRFCDefinition() throws {
        let leaves = randomDigests(300, seed: 1)
        var frontier = MerkleFrontier()
        #expect(frontier.root == Palimpsest.Digest.sha256([UInt8]()))
        for n in 1...leaves.count {
            frontier.append(eventHash: leaves[n - 1])
            let expected = referenceRoot(leaves[..<n])
            #expect(frontier.root == expected, "size \(n)")
            #expect(try MerkleTree.root(size: UInt64(n), perfect(leaves)) == expected, "size \(n)")
        }
    }

    @Test func everyInclusionProofVerifiesAndAnyChangeBreaksIt() throws {
        let leaves = randomDigests(70, seed: 2)
        for size in 1...leaves.count {
            let root = referenceRoot(leaves[..<size])
            for index in 0..<size {
                let path = try MerkleTree.inclusionProof(index: UInt64(index), size: UInt64(size), perfect(leaves))
                let leaf = MerkleTree.leafHash(leaves[index])
                #expect(MerkleTree.verifyInclusion(leaf: leaf, index: UInt64(index), size: UInt64(size), path: path, root: root))
                // Wrong leaf, wrong index, wrong size, a changed hash in the path: all refused.
                #expect(!MerkleTree.verifyInclusion(leaf: MerkleTree.leafHash(leaves[(index + 1) % leaves.count]), index: UInt64(index), size: UInt64(size), path: path, root: root))
                if size > 1 {
                    #expect(!MerkleTree.verifyInclusion(leaf: leaf, index: UInt64((index + 1) % size), size: UInt64(size), path: path, root: root))
                    var changed = path
                    changed[index % path.count] = leaves[0]
                    #expect(!MerkleTree.verifyInclusion(leaf: leaf, index: UInt64(index), size: UInt64(size), path: changed, root: root))
                }
                #expect(!MerkleTree.verifyInclusion(leaf: leaf, index: UInt64(index), size: UInt64(size), path: path, root: leaves[0]))
            }
        }
    }

    @Test func everyConsistencyProofVerifiesAndAnotherHistoryDoesNot() throws {
        let leaves = randomDigests(40, seed: 3)
        var forked = leaves
        forked[5] = randomDigests(1, seed: 4)[0]
        for new in 1...leaves.count {
            let newRoot = referenceRoot(leaves[..<new])
            for old in 1...new {
                let oldRoot = referenceRoot(leaves[..<old])
                let proof = try MerkleTree.consistencyProof(old: UInt64(old), new: UInt64(new), perfect(leaves))
                #expect(MerkleTree.verifyConsistency(old: UInt64(old), new: UInt64(new), oldRoot: oldRoot, newRoot: newRoot, proof: proof), "\(old) → \(new)")
                // A history that differs inside the old tree is not consistent with it.
                if old > 5, old < new {
                    let forkedRoot = referenceRoot(forked[..<old])
                    #expect(!MerkleTree.verifyConsistency(old: UInt64(old), new: UInt64(new), oldRoot: forkedRoot, newRoot: newRoot, proof: proof))
                }
            }
        }
    }
}

@Suite struct AuditLedgerTests {
    @Test func theStoredTreeProvesEveryEventAtEverySize() throws {
        try withTemporaryLedger { ledger throws in
            // Several transactions of different sizes, so nodes complete across commits.
            for batch in 0..<7 {
                try ledger.append(contentsOf: (0...batch).map { k in publish("d\(batch)-\(k)", "text \(batch) \(k)", at: at(Int64(batch))) })
            }
            let hashes = try ledger.events().map(\.hash)
            #expect(hashes.count == 28)
            for size in 1...hashes.count {
                let root = referenceRoot(hashes[..<size])
                #expect(try ledger.merkleRoot(size: UInt64(size)) == root)
                for position in stride(from: 1, through: size, by: 3) {
                    let proof = try ledger.inclusionProof(position: UInt64(position), treeSize: UInt64(size))
                    #expect(proof.isValid && proof.rootHash == root && proof.eventHash == hashes[position - 1])
                }
                let consistency = try ledger.consistencyProof(oldSize: UInt64(size / 2), newSize: UInt64(size))
                #expect(consistency.isValid)
            }
            #expect(throws: LedgerError.self) { _ = try ledger.inclusionProof(position: 29, treeSize: 28) }
            #expect(throws: LedgerError.self) { _ = try ledger.inclusionProof(position: 1, treeSize: 29) }
            #expect(try ledger.verifyProjections() == [])
            #expect(try ledger.verify().merkleRoot == referenceRoot(hashes[...]))
        }
    }

    @Test func theKeyIsMadeAtCreationOwnerOnlyAndSignsCheckpoints() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            let (publicKey, first, second) = try { () throws -> ([UInt8], SignedCheckpoint, SignedCheckpoint) in
                let ledger = try Ledger.create(at: path)
                let keyFile = path + "/" + Ledger.signingKeyFile
                let mode = try #require(try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int)
                #expect(mode == 0o600)
                let publicKey = try #require(try ledger.publicKey())
                try ledger.append(contentsOf: [publish("a", "one"), edit("a", "two", at: at(1))])
                let first = try ledger.signCheckpoint()
                try ledger.append(publish("b", "three"))
                let second = try ledger.signCheckpoint()
                #expect(first.number == 1 && first.treeSize == 2 && second.number == 2 && second.treeSize == 3)
                #expect(first.isSigned(by: publicKey) && second.isSigned(by: publicKey))
                #expect(!first.isSigned(by: Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)))
                var forged = second
                forged.treeSize = 2
                #expect(!forged.isSigned(by: publicKey))
                // The signature is over the canonical JSON of the four fields, checkable by any Ed25519 library.
                let key = try Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
                let body = CanonicalJSON.encode(["ledgerId": .string(ledger.id.uuidString.lowercased()), "rootHash": .string(second.rootHash.hex), "time": .string(second.time.iso8601), "treeSize": 3])
                #expect(key.isValidSignature(second.signature, for: body))
                return (publicKey, first, second)
            }()
            // Reopening (and `create` again), once the first is closed, keeps the key and the checkpoints.
            let reopened = try Ledger.create(at: path)
            #expect(try reopened.publicKey() == publicKey)
            #expect(try reopened.checkpoints() == [first, second])
            let report = try reopened.verify()
            #expect(report.isClean && report.checkpoints == 2, "\(report.firstProblem ?? "")")
        }
    }

    @Test func aLedgerWithoutAKeyGetsOneFromCreateAndACheckpointNeedsIt() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(publish("a", "one"))
            }
            // An older ledger: no key file, no public key.
            try FileManager.default.removeItem(atPath: path + "/" + Ledger.signingKeyFile)
            do {
                let env = try Environment(path: path)
                let meta = try #require(try env.openDatabases(["meta"])["meta"])
                try env.write { txn in _ = try txn.delete(meta, key: Array("publicKey".utf8)) }
            }
            do {
                let old = try Ledger.open(at: path)
                #expect(try old.publicKey() == nil)
                let error = try #require(throws: LedgerError.self) { try old.signCheckpoint() }
                #expect(error.code == .notFound && error.message.contains("palimpsest init"))
            }
            let created = try Ledger.create(at: path)
            #expect(try created.publicKey() != nil)
            #expect(try created.signCheckpoint().treeSize == 1)
        }
    }
}

/// Damage done to a closed ledger through LMDB directly, then `verify` must name it.
@Suite struct VerifyAttackTests {
    /// A ledger of three documents and a checkpoint, closed; then `damage` on its raw tables.
    func damaged(_ damage: (String) throws -> Void) throws -> VerificationReport {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/l"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(contentsOf: [
                    publish("a", "The root causes of migration, including democratic decline."), publish("b", "Mexico and the United States."),
                    edit("a", "The root causes of migration.", at: at(1)), publish("c", "Another text entirely."),
                ])
                try ledger.signCheckpoint()
            }
            try damage(path)
            var options = Ledger.Options()
            options.readOnly = true
            return try Ledger.open(at: path, options: options).verify()
        }
    }

    @Test func anUntouchedLedgerVerifies() throws {
        let report = try damaged { _ in }
        #expect(report.isClean && report.events == 4 && report.checkpoints == 1, "\(report.firstProblem ?? "")")
    }

    @Test func aFlippedByteInAStoredTextIsNamed() throws {
        let report = try damaged { path in try LMDBTampering.flipLastByte(of: "texts", at: path) }
        let problem = try #require(report.firstProblem)
        // The last text written (position 4's) is damaged: unreadable, or not the text its hash names.
        #expect(problem.hasPrefix("position 4: its text ") || problem.hasPrefix("position 4: its stored text does not match its contentHash"), "\(problem)")
    }

    @Test func aFlippedByteInTheFirstStoredTextIsNamedByThePositionThatCarriesIt() throws {
        // Record 1 is position 1's text, stored raw: flipping its last byte changes the text, and the
        // check of the texts (on the second core) must name the first event carrying it.
        let report = try damaged { path in try LMDBTampering.flipLastByte(of: "texts", key: BigEndianKey.encode(1), at: path) }
        let expected = Digest.sha256("The root causes of migration, including democratic decline.")
        #expect(report.firstProblem == "position 1: its stored text does not match its contentHash \(expected.hex)")
    }

    @Test func aTextMissingFromTheTextIndexIsNamed() throws {
        let hash = Digest.sha256("Mexico and the United States.")
        let report = try damaged { path in
            let env = try Environment(path: path)
            let index = try #require(try env.openDatabases(["textIndex"])["textIndex"])
            try env.write { txn in _ = try txn.delete(index, key: hash.bytes) }
        }
        // Position 2's text cannot be found; the record it was filed under is named by no hash either.
        #expect(report.firstProblem == "position 2: its text \(hash.hex) is missing")
    }

    @Test func aTextIndexEntryWithoutAStoredTextIsNamed() throws {
        let report = try damaged { path in
            let env = try Environment(path: path)
            let index = try #require(try env.openDatabases(["textIndex"])["textIndex"])
            try env.write { txn in try txn.put(index, key: Digest.sha256("never stored").bytes, value: BigEndianKey.encode(1)) }
        }
        #expect(report.firstProblem == "the text index names 5 texts, but 4 are stored")
    }

    @Test func aFlippedByteInAMerkleNodeIsNamed() throws {
        let report = try damaged { path in try LMDBTampering.flipLastByte(of: "projection.merkle.nodes", at: path) }
        let problem = try #require(report.firstProblem)
        #expect(problem.contains("the Merkle tree's node at level") && problem.contains("does not match the events"), "\(problem)")
    }

    @Test func aFlippedByteInAStreamIndexIsNamed() throws {
        let report = try damaged { path in try LMDBTampering.flipLastByte(of: "streams", at: path) }
        let problem = try #require(report.firstProblem)
        #expect(problem.contains("streams entry for position"), "\(problem)")
    }

    @Test func anEventDeletedFromTheMiddleOfTheLogIsNamed() throws {
        let report = try damaged { path in
            let env = try Environment(path: path)
            let log = try #require(try env.openDatabases(["log"])["log"])
            try env.write { txn in _ = try txn.delete(log, key: BigEndianKey.encode(2)) }
        }
        #expect(report.firstProblem == "position 3: expected position 2; the log has a gap")
    }

    @Test func aForgedCheckpointIsNamed() throws {
        let report = try damaged { path in
            let env = try Environment(path: path)
            let meta = try #require(try env.openDatabases(["meta"])["meta"])
            try env.write { txn in
                let key = Array("checkpoint/".utf8) + BigEndianKey.encode(1)
                let stored = String(decoding: try #require(try txn.get(meta, key: key)), as: UTF8.self)
                try txn.put(meta, key: key, value: Array(stored.replacingOccurrences(of: "\"treeSize\":4", with: "\"treeSize\":3").utf8))
            }
        }
        #expect(report.firstProblem == "position 3: checkpoint 1 is not signed by this ledger's key")
    }
}

@Suite struct AuditReportTests {
    static let hostile = "Dear <script>alert(\"x\")</script> & </style><b>bold</b> &amp; \u{202E}gnp.exe\u{202C} bell\u{07} nul\u{00} end."

    @Test func aPhraseReportCitesTheChangeItsVersionBeforeAndProofs() throws {
        guard Communique.available else { return }
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: try Communique.events())
            let (report, signedNew) = try ledger.auditReport(.phrase("democratic decline", ignoringCase: false, document: nil))
            #expect(signedNew && report.checkpoint.treeSize == 4)
            let history = try #require(report.phraseHistory)
            #expect(history.changes.map(\.kind) == [.added, .removed])
            #expect(history.changes.map(\.event.position) == [2, 4])
            #expect(report.events.map(\.position) == [2, 4])
            #expect(report.changes.map(\.event.position) == [2, 4])
            // The removal starts from version 1's text, which the first change derives: no text quoted in full.
            #expect(report.changes[1].before == report.events[0].contentHash && report.texts.isEmpty)
            let removed = report.changes[1].pieces.filter { $0.kind == .removed }.map(\.text)
            #expect(removed == ["democratic decline, "])
            for proof in report.proofs.values { #expect(proof.isValid && proof.rootHash == report.checkpoint.rootHash) }
            // The signature covers everything but itself.
            let key = try Curve25519.Signing.PublicKey(rawRepresentation: report.publicKey)
            // Signing recipe 2: a fixed prefix, then the SHA-256 digest of that canonical JSON.
            let digest = Array(SHA256.hash(data: CanonicalJSON.encode(report.json(signed: false))))
            #expect(key.isValidSignature(report.signature, for: Array("palimpsest-report-v2\n".utf8) + digest))
            #expect(!key.isValidSignature(report.signature, for: CanonicalJSON.encode(report.json(signed: false))))
            // A second report reuses the checkpoint.
            #expect(try ledger.auditReport(.document(Communique.whiteHouse)).signedNewCheckpoint == false)
        }
    }

    /// The diffs are made on a thread of their own, chunks ahead of the caller: every change arrives in
    /// order, and a caller that stops part way gets its own error back (the thread is stopped, not left
    /// blocked on a full hand-over).
    @Test func changesArriveInOrderAndACallerMayStopPartWay() throws {
        try withTemporaryLedger { ledger throws in
            var events = [publish("long", "version 0 of a text", actor: "Ann")]
            for k in 1..<300 { events.append(edit("long", "version \(k) of a text" + (k % 2 == 0 ? " with more" : ""), at: at(Int64(k)), actor: "Bob")) }
            try ledger.append(contentsOf: events)
            let plan = try ledger.auditReportPlan(.document("long")).plan
            var versions: [UInt64] = []
            try ledger.forEachChange(in: plan) { change in versions.append(change.event.version) }
            #expect(versions == Array(1...300))
            var taken = 0
            #expect(throws: LedgerError.self) {
                try ledger.forEachChange(in: plan) { (_: AuditReport.Change) throws(LedgerError) in
                    taken += 1
                    if taken == 5 { throw LedgerError(.storage, "the disk is full") }
                }
            }
            #expect(taken == 5)
        }
    }

    /// A report of more than 1,000 changes has its texts' commitments checked by the verifier's worker
    /// processes: the intact report verifies, and one whose last change adds other words (its diff still
    /// applies; only the commitment can tell) fails, naming that change.
    @Test func theVerifierChecksALongReportsCommitmentsInWorkers() throws {
        try withTemporaryDirectory { dir throws in
            try withTemporaryLedger { ledger throws in
                var events = [publish("long", "Line zero. It starts.\n", actor: "Ann")]
                for k in 1...1_100 { events.append(edit("long", "Line zero. It starts.\nLine \(k). More words here.\n", at: at(Int64(k)), actor: k % 2 == 0 ? "Bob" : "Cy")) }
                try ledger.append(contentsOf: events)
                let key = Hex.encode(try #require(try ledger.publicKey()))
                let (plan, _) = try ledger.auditReportPlan(.document("long"))
                var streamed: [UInt8] = []
                try ledger.writeAuditReportJSON(plan) { streamed += $0 }
                let path = dir + "/long.json"
                try Data(streamed).write(to: URL(fileURLWithPath: path))
                let intact = try verifyReport(path, publicKey: key)
                #expect(intact.status == 0 && intact.out.contains("versions 1 to 1101"), "\(intact.out)")

                var lines = String(decoding: streamed, as: UTF8.self).components(separatedBy: "\n")
                let last = try #require(lines.lastIndex { $0.hasPrefix("{\"after\":") && $0.contains("\"version\":1101") })
                lines[last] = lines[last].replacingOccurrences(of: "\"op\":\"added\",\"text\":\"1100\"", with: "\"op\":\"added\",\"text\":\"9999\"")
                #expect(lines[last].contains("9999"), "\(lines[last])")
                try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
                let tampered = try verifyReport(path, publicKey: key)
                #expect(tampered.status == 1, "\(tampered.out)")
                #expect(tampered.out.contains("the change at position 1101: its diff applied to the text before does not give the text the event recorded"), "\(tampered.out)")
                #expect(tampered.out.contains("the report's signature does not verify"), "\(tampered.out)")
            }
        }
    }

    /// Scalars are counted eight bytes at a time; the count is the scalar view's.
    @Test func piecesCountUnicodeScalars() {
        var rng = SeededGenerator(seed: 33)
        let alphabet = ["a", "é", "e\u{301}", "民", "😀", "👩‍👩‍👧", " ", "\n", "ــ"]
        for _ in 0..<300 {
            let text = (0..<Int.random(in: 0...60, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            #expect(AuditReport.Piece(TextDiff.Piece(kind: .removed, text: text)).length == text.unicodeScalars.count, "\(text.debugDescription)")
        }
    }

    @Test func aDocumentReportCoversEveryVersionAndBlamesTheLast() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: [
                publish("a", "one two three four", actor: "Ann"), edit("a", "one two four five", at: at(1), actor: "Bob"),
                NewEvent(document: "a", change: .retract(reason: "gone"), at: at(2), actor: "Ann"),
                NewEvent(document: "a", change: .restore(text: "one two four five\n\nsix"), at: at(3), actor: "Cy"),
            ])
            let report = try ledger.auditReport(.document("a")).report
            #expect(report.events.map(\.version) == [1, 2, 3, 4])
            #expect(report.changes[2].after == nil && report.changes[2].pieces.allSatisfy { $0.kind == .same })
            #expect(report.changes[3].before == report.events[1].contentHash)
            let blame = try #require(report.blame)
            #expect(AuditReport.blameRuns(blame).map(\.origin) == [1, 2, 4])
            // The report's blame leaves out each token's removals and restorations, not its origin.
            let full = try #require(try ledger.blame("a"))
            #expect(blame.tokens.map(\.origin) == full.tokens.map(\.origin) && blame.tokens.map(\.text) == full.tokens.map(\.text))
            #expect(full.tokens.contains { !$0.removedBy.isEmpty } && blame.tokens.allSatisfy { $0.removedBy.isEmpty && $0.restoredBy.isEmpty })
            let renderer = AuditReportRenderer(report)
            let csv = renderer.csv()
            #expect(csv.hasPrefix("position,version,type,at,recordedAt,actor,source,message,wordsRemoved,wordsAdded,removed,added,contentHash,hash\r\n"))
            #expect(csv.components(separatedBy: "\r\n").count == 6)
            #expect(csv.contains("\r\n2,2,edited,") && csv.contains(",Bob,,,1,1,three , five,"))
            let markdown = renderer.markdown()
            #expect(markdown.contains("<del>three </del>") && markdown.contains("| Bob | 1 | 1 | 1 |"))
            #expect(markdown.range(of: "## Summary")!.lowerBound < markdown.range(of: "## Changes")!.lowerBound)
        }
    }

    @Test func htmlRendersHostileTextInertAndVisible() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: [
                publish("<doc>", Self.hostile, actor: "<i>Eve</i>"), edit("<doc>", "Dear & friends.", at: at(1), actor: "Mallory\u{202E}"),
            ])
            let html = AuditReportRenderer(try ledger.auditReport(.document("<doc>")).report).html()
            // No tag from the text survives, every special character is an entity, and the invisible
            // characters are shown as their code points instead of being obeyed.
            #expect(!html.contains("<script") && !html.contains("</style><b>") && !html.contains("<b>bold"))
            #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;/style&gt;&lt;b&gt;bold&lt;/b&gt; &amp;amp;"))
            #expect(html.contains("[U+202E]</span>gnp.exe") && html.contains("[U+0007]") && html.contains("[U+0000]"))
            #expect(!html.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x07 || $0.value == 0 })
            #expect(html.contains("&lt;i&gt;Eve&lt;/i&gt;") && html.contains("Mallory<span class=\"ctl\">[U+202E]</span>"))
            // Removed text struck through, added marked; no network reference of any kind.
            #expect(html.contains("<del>") && html.contains("<ins>") && html.contains("text-decoration:line-through"))
            #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src="))
            #expect(html.contains("default-src 'none'"))
            // Exactly one <style> element: the text's </style> cannot end it early.
            #expect(html.components(separatedBy: "<style>").count == 2 && html.components(separatedBy: "</style>").count == 2)
        }
    }

    @Test func longUnchangedRunsAreKeptByTheirEndsAndTheirLength() throws {
        try withTemporaryLedger { ledger throws in
            let opening = (1...120).map { "word\($0)" }.joined(separator: " ")
            let closing = (121...240).map { "word\($0)" }.joined(separator: " ")
            try ledger.append(contentsOf: [publish("a", opening + " democratic decline " + closing), edit("a", opening + " " + closing, at: at(1))])
            let report = try ledger.auditReport(.document("a")).report
            let pieces = report.changes[1].pieces
            #expect(pieces.map(\.kind) == [.same, .removed, .same])
            // The runs' lengths add up to the whole text before, though only their ends are kept.
            let before = try #require(try ledger.state(of: "a", asOf: .version(1))?.text)
            #expect(pieces.reduce(0) { $0 + $1.length } == before.unicodeScalars.count)
            #expect(pieces[0].isShortened && pieces[0].tail.map { (opening + " ").hasSuffix($0) } == true && opening.hasPrefix(pieces[0].text))
            #expect(pieces[0].text.unicodeScalars.count == AuditReport.keptContext)
            let html = AuditReportRenderer(report).html()
            let omitted = opening.unicodeScalars.count + 1 - AuditReport.keptContext
            #expect(html.contains("[… \(omitted) characters unchanged …]</span>\(String(opening.suffix(AuditReport.keptContext - 1))) <del>democratic decline </del>"))
        }
    }

    /// The streamed JSON is the canonical JSON of the report held whole, laid out one element per line:
    /// the same bytes once the line feeds are taken out, and the same signature.
    @Test func theStreamedReportIsTheHeldReportLaidOutByLine() throws {
        try withTemporaryLedger { ledger throws in
            try ledger.append(contentsOf: [
                publish("a", "one two three.\nfour five six.\n", actor: "Ann"), edit("a", "one two three.\nfour six.\nseven.\n", at: at(1), actor: "Bob"),
                NewEvent(document: "a", change: .retract(reason: "gone"), at: at(2), actor: "Ann"),
                NewEvent(document: "a", change: .restore(text: "one two three.\nfour six.\n"), at: at(3), actor: "Cy"),
            ])
            let time = Timestamp(milliseconds: 1_700_000_000_000)
            for scope in [AuditReport.Scope(), AuditReport.Scope(versions: 2...4), AuditReport.Scope(since: at(1), until: at(2))] {
                let held = try ledger.auditReport(.document("a"), scope: scope, at: time).report
                let (plan, _) = try ledger.auditReportPlan(.document("a"), scope: scope, at: time)
                var streamed: [UInt8] = []
                let signature = try ledger.writeAuditReportJSON(plan) { streamed += $0 }
                #expect(signature == held.signature)
                #expect(streamed.filter { $0 != 0x0A } == CanonicalJSON.encode(held.json()), "\(scope)")
                // Every line is a member or an element of one; the whole is one JSON document.
                let lines = String(decoding: streamed, as: UTF8.self).split(separator: "\n")
                #expect(lines.first == "{" && lines.last == "}" && lines.contains { $0.hasPrefix("\"signature\":\"") })
                #expect(lines.filter { $0.hasPrefix("{\"after\":") || $0.hasPrefix("{\"before\":") }.count == held.changes.count)
                _ = try JSONParser.parse(String(decoding: streamed, as: UTF8.self))
            }
        }
    }

    /// A scoped report: the version in force at the start is cited and quoted whole, the changes after
    /// it shown; periods and ranges that hold no change, or reach past the history, are refused.
    @Test func aScopedReportStartsFromTheVersionInForce() throws {
        try withTemporaryLedger { ledger throws in
            var events = [publish("a", "v1 text.", actor: "Ann")]
            for version in 2...6 {
                let actor = version % 2 == 0 ? "Bob" : "Cy"
                events.append(edit("a", "v\(version) text.", at: at(Int64(version) * 24), actor: actor))
            }
            try ledger.append(contentsOf: events)
            let byVersions = try ledger.auditReport(.document("a"), scope: AuditReport.Scope(versions: 3...5)).report
            #expect(byVersions.range == AuditReport.VersionRange(base: 2, first: 3, last: 5))
            #expect(byVersions.events.map(\.version) == [2, 3, 4, 5] && byVersions.changes.map(\.event.version) == [3, 4, 5])
            #expect(Array(byVersions.texts.values) == ["v2 text."] && byVersions.blame == nil)
            // The period from version 4's day to version 5's: version 3 was in force at its start.
            let period = try ledger.auditReport(.document("a"), scope: AuditReport.Scope(since: at(4 * 24), until: at(5 * 24))).report
            #expect(period.range == AuditReport.VersionRange(base: 3, first: 4, last: 5) && period.changes.map(\.event.version) == [4, 5])
            let fromStart = try ledger.auditReport(.document("a"), scope: AuditReport.Scope(until: at(2 * 24))).report
            #expect(fromStart.range == AuditReport.VersionRange(base: nil, first: 1, last: 2) && fromStart.texts.isEmpty)
            #expect(throws: LedgerError.self) { try ledger.auditReportPlan(.document("a"), scope: AuditReport.Scope(versions: 4...9)) }
            do {
                _ = try ledger.auditReportPlan(.document("a"), scope: AuditReport.Scope(since: at(200), until: at(300)))
                Issue.record("an empty period was accepted")
            } catch let error as LedgerError {
                #expect(error.code == .notFound && error.message == "\"a\" has no version made from \(at(200).iso8601) and up to \(at(300).iso8601) (version 6 was in force throughout)")
            }
            #expect(throws: LedgerError.self) { try ledger.auditReportPlan(.document("a"), scope: AuditReport.Scope(since: at(1), versions: 1...2)) }
        }
    }

    /// A long history's HTML opens on its summary; its changes are folded by year and month, a return
    /// to an earlier text is shown by reference and a blanking by what it left.
    @Test func aLongReportOpensOnItsSummary() throws {
        try withTemporaryLedger { ledger throws in
            let article = (1...40).map { "Sentence number \($0) of the article, long enough to count." }.joined(separator: "\n")
            var events = [publish("long", article, actor: "Ann")]
            for k in 1...119 {
                let text: String
                switch k % 20 {
                case 5: text = "poop"  // a blanking
                case 6: text = article  // its revert
                default: text = article + "\nEdit \(k)."
                }
                events.append(edit("long", text, at: at(Int64(k) * 24 * 7), actor: k % 3 == 0 ? "Vandal" : "Editor \(k % 4)"))
            }
            try ledger.append(contentsOf: events)
            let report = try ledger.auditReport(.document("long")).report
            let html = AuditReportRenderer(report).html()
            let summary = try #require(html.range(of: "<h2>Summary</h2>")), firstChange = try #require(html.range(of: "<article class=\"change\""))
            #expect(summary.lowerBound < firstChange.lowerBound)
            #expect(html.contains("<h3>Changes per month</h3>") && html.contains("<h3>Who changed it most</h3>") && html.contains("<h3>The largest removals</h3>"))
            #expect(html.contains("<details class=\"year\"><summary>") && !html.contains("<details class=\"year\" open>"))
            #expect(html.contains("Restores the exact text of <a href=\"#p1\">version 1</a>"))
            #expect(html.contains("Blanking: ") && html.contains("the text left reads: <ins class=\"text\">poop</ins>"))
            // Each blanking's largest removal links to its change.
            let blanking = try #require(report.changes.first { $0.event.version == 6 })
            #expect(html.contains("<a href=\"#p\(blanking.event.position)\">long version 6</a>"))
            // Six blankings and six reverts, counted in the summary.
            #expect(html.contains("6 blankings (nine tenths of the text gone at once), 6 reverts"))
        }
    }

    @Test func csvQuotesAndDisarmsFormulas() {
        #expect(AuditReportRenderer.csvField("plain") == "plain")
        #expect(AuditReportRenderer.csvField("a,b") == "\"a,b\"")
        #expect(AuditReportRenderer.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditReportRenderer.csvField("two\nlines") == "\"two\nlines\"")
        #expect(AuditReportRenderer.csvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(AuditReportRenderer.csvField("@SUM(A1)") == "'@SUM(A1)")
        #expect(AuditReportRenderer.csvField("-12") == "-12")
    }
}
