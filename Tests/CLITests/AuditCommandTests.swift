import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// checkpoint, prove, verify and report through the CLI, and tools/verify-report.py on reports and
/// on tampered copies of them.
@Suite struct AuditCommandTests {
    func publicKey(_ ledger: String) throws -> String {
        try cli(ledger, "checkpoint", "--public-key").out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func checkpointListPublicKeyAndProofs() throws {
        try withCommunique { ledger throws in
            let key = try publicKey(ledger)
            #expect(key.count == 64 && key.allSatisfy(\.isHexDigit))
            try expectFailure(ledger, ["prove", "1"], code: 1, "no checkpoint covers position 1 yet; sign one with `palimpsest checkpoint`")
            let first = try cli(ledger, "checkpoint", "--json")
            #expect(first.status == 0, "\(first.err)")
            #expect(try schemaViolations([first.out], schema: "checkpoint-output.schema.json") == nil)
            let signed = try JSONParser.parse(first.out.trimmingCharacters(in: .newlines))
            #expect(signed["checkpoint"]?["treeSize"] == 2 && signed["publicKey"]?.stringValue == key)
            #expect(try cli(ledger, "publish", "sre.gob.mx/comunicado", "--actor", "SRE", "--at", "2023-12-28T16:00:00Z", stdin: "Texto.\n").status == 0)
            let plain = try cli(ledger, "checkpoint")
            #expect(plain.out.hasPrefix("Checkpoint 2: 3 events, Merkle root ") && plain.out.contains("public key \(key)"))
            let list = try cli(ledger, "checkpoint", "--list", "--json")
            #expect(try schemaViolations([list.out], schema: "checkpoint-output.schema.json") == nil)
            guard case .array(let all)? = try JSONParser.parse(list.out.trimmingCharacters(in: .newlines))["checkpoints"] else { Issue.record("no list"); return }
            #expect(all.map { $0["number"] } == [1, 2])

            // prove POS: against the latest checkpoint covering it, or the one named.
            let proof = try cli(ledger, "prove", "2", "--json")
            #expect(proof.status == 0, "\(proof.err)")
            #expect(try schemaViolations([proof.out], schema: "prove-output.schema.json") == nil)
            let parsed = try JSONParser.parse(proof.out.trimmingCharacters(in: .newlines))
            #expect(parsed["checkpoint"]?["number"] == 2 && parsed["proof"]?["treeSize"] == 3 && parsed["proof"]?["leafIndex"] == 1)
            let older = try JSONParser.parse(try cli(ledger, "prove", "2", "--checkpoint", "1", "--json").out.trimmingCharacters(in: .newlines))
            #expect(older["proof"]?["treeSize"] == 2)
            #expect(try cli(ledger, "prove", "3").out.contains("is in checkpoint 2 (3 events"))
            let consistency = try cli(ledger, "prove", "--consistency", "1", "2", "--json")
            #expect(consistency.status == 0, "\(consistency.err)")
            #expect(try schemaViolations([consistency.out], schema: "prove-output.schema.json") == nil)
            #expect(try cli(ledger, "prove", "--consistency", "1", "2").out.contains("extends checkpoint 1 (2 events"))

            // Bad input: exit codes of DESIGN.md §7, the ledger unchanged.
            try expectFailure(ledger, ["prove", "4"], code: 1, "there is no event at position 4; the ledger has 3")
            try expectFailure(ledger, ["prove", "0"], code: 1, "there is no event at position 0")
            try expectFailure(ledger, ["prove", "3", "--checkpoint", "1"], code: 1, "checkpoint 1 covers the first 2 events, not position 3")
            try expectFailure(ledger, ["prove", "1", "--checkpoint", "7"], code: 1, "the ledger has no checkpoint 7 (it has 2)")
            try expectFailure(ledger, ["prove", "--consistency", "2", "1"], code: 2, "give the older one first")
            try expectFailure(ledger, ["prove", "--consistency", "1"], code: 2, "prove --consistency takes two checkpoint numbers")
            try expectFailure(ledger, ["prove"], code: 2, "prove takes one position")
        }
    }

    @Test func verifyReportsTheTreeAndFailsWithExit4() throws {
        try withCommunique { ledger throws in
            #expect(try cli(ledger, "checkpoint").status == 0)
            let ok = try cli(ledger, "verify", "--json")
            #expect(ok.status == 0)
            #expect(try schemaViolations([ok.out], schema: "verify-output.schema.json") == nil)
            let parsed = try JSONParser.parse(ok.out.trimmingCharacters(in: .newlines))
            #expect(parsed["checkpoints"] == 1 && parsed["merkleRoot"]?.stringValue?.count == 64)
            #expect(try cli(ledger, "verify").out.contains("1 signed checkpoint checked"))
            // A damaged Merkle node (the ledger is closed between commands).
            try LMDBTampering.flipLastByte(of: "projection.merkle.nodes", at: ledger)
            let bad = try cli(ledger, "verify")
            #expect(bad.status == 4 && bad.err.contains("the Merkle tree's node at level 1, index 0"), "\(bad.err)")
        }
    }

    @Test func reportsInEveryFormatAndTheirBadInput() throws {
        try withTemporaryDirectory { dir throws in
            try withCommunique { ledger throws in
                let json = dir + "/phrase.json"
                let result = try cli(ledger, "report", "--phrase", "democratic decline", "--out", json)
                #expect(result.status == 0, "\(result.err)")
                #expect(result.err.contains("signed checkpoint 1 (2 events)") && result.err.contains("wrote \(json) (json,"))
                let text = try String(contentsOfFile: json, encoding: .utf8)
                #expect(try schemaViolations([text], schema: "report.schema.json") == nil)
                let verified = try verifyReport(json, publicKey: try publicKey(ledger))
                #expect(verified.status == 0, "\(verified.out)\(verified.err)")
                #expect(verified.out.contains("phrase 'democratic decline': 2 findings (1 removal)"))

                let html = try cli(ledger, "report", doc, "--out", dir + "/doc.html")
                #expect(html.status == 0)
                let page = try String(contentsOfFile: dir + "/doc.html", encoding: .utf8)
                #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<del>democratic decline, </del>"))
                let md = try cli(ledger, "report", doc)
                #expect(md.out.hasPrefix("# The life of \(doc)") && md.out.contains("<del>democratic decline, </del>"))
                let csv = try cli(ledger, "report", "--phrase", "democratic decline", "--format", "csv")
                #expect(csv.out.hasPrefix("kind,document,version,position,") && csv.out.contains("\r\nremoved,\(doc),2,2,"))
                let docJSON = try cli(ledger, "report", doc, "--format", "json")
                #expect(try schemaViolations([docJSON.out], schema: "report.schema.json") == nil)

                try expectFailure(ledger, ["report", "nowhere"], code: 1, "there is no document \"nowhere\" in the ledger")
                try expectFailure(ledger, ["report", doc, "--phrase", "x"], code: 2, "give a document, or --phrase P, not both")
                try expectFailure(ledger, ["report", "--phrase", "   "], code: 2, "the phrase holds only whitespace")
                try expectFailure(ledger, ["report", doc, "--format", "pdf"], code: 2, "pdf")
                let checkpoints = try cli(ledger, "checkpoint", "--list").out
                try expectFailure(ledger, ["report", doc, "--out", dir + "/missing/r.json"], code: 2, "the directory \(dir)/missing does not exist")
                #expect(try cli(ledger, "checkpoint", "--list").out == checkpoints, "a failed report signed a checkpoint")
            }
        }
    }

    /// Scoped reports (a period, a range of versions) verify and say their range; every bad scope is
    /// refused with its sentence and exit code, before anything is signed; a scoped report with a
    /// version taken out of its middle fails verification.
    @Test func scopedReportsTheirBadInputAndAMissingVersion() throws {
        try withTemporaryDirectory { dir throws in
            try withCLILedger { ledger throws in
                #expect(try cli(ledger, "publish", "memo", "--actor", "Ann", "--at", "2024-01-01T09:00:00Z", stdin: "Version one.\n").status == 0)
                for (k, day) in ["2024-02-03", "2024-03-04", "2024-05-06", "2025-01-02"].enumerated() {
                    #expect(try cli(ledger, "edit", "memo", "--actor", k % 2 == 0 ? "Bob" : "Cy", "--at", day + "T10:00:00Z", stdin: "Version \(k + 2), and more.\n").status == 0)
                }
                let key = try publicKey(ledger)
                let year = dir + "/2024.json"
                #expect(try cli(ledger, "report", "memo", "--since", "2024-02-01", "--until", "2024-12-31", "--out", year).status == 0)
                let verified = try verifyReport(year, publicKey: key)
                #expect(verified.status == 0, "\(verified.out)")
                #expect(verified.out.contains("document 'memo': versions 2 to 4 with no version missing") && verified.out.contains("starting from version 1, from 2024-02-01T00:00:00Z, up to 2024-12-31T23:59:59.999Z"), "\(verified.out)")
                #expect(try schemaViolations([try String(contentsOfFile: year, encoding: .utf8)], schema: "report.schema.json") == nil)
                let range = try cli(ledger, "report", "memo", "--versions", "3..5", "--format", "json")
                #expect(range.status == 0)
                try range.out.write(toFile: dir + "/range.json", atomically: true, encoding: .utf8)
                #expect(try verifyReport(dir + "/range.json", publicKey: key).out.contains("versions 3 to 5 with no version missing"))
                let html = try cli(ledger, "report", "memo", "--versions", "3..5", "--format", "html").out
                #expect(html.contains("This report is scoped: it covers the changes that made versions 3 to 5, starting from version 2, the version in force before them."))

                // Version 3 taken out of the 2024 report (its event and its change): the report skips it.
                guard case .object(var object) = try JSONParser.parse(try String(contentsOfFile: year, encoding: .utf8)),
                    case .array(let events)? = object["events"], case .array(let changes)? = object["changes"]
                else { Issue.record("not a report"); return }
                object["events"] = .array(events.filter { $0["event"]?["version"] != 3 })
                object["changes"] = .array(changes.filter { $0["version"] != 3 })
                try Data(CanonicalJSON.encode(.object(object))).write(to: URL(fileURLWithPath: dir + "/gap.json"))
                let gap = try verifyReport(dir + "/gap.json", publicKey: key)
                #expect(gap.status == 1 && gap.out.contains("the report on 'memo' skips version 3") && gap.out.contains("the report's signature does not verify"), "\(gap.out)")

                try expectFailure(ledger, ["report", "memo", "--versions", "3"], code: 2, "--versions \"3\" is not a range of versions such as 3..40")
                try expectFailure(ledger, ["report", "memo", "--versions", "4..2"], code: 2, "is not a range of versions")
                try expectFailure(ledger, ["report", "memo", "--versions", "2..9"], code: 2, "\"memo\" has versions 1 to 5; 2..9 goes beyond them")
                try expectFailure(ledger, ["report", "memo", "--since", "yesterday"], code: 2, "--since \"yesterday\" is not an ISO 8601 time")
                try expectFailure(ledger, ["report", "memo", "--since", "2024-06-01", "--until", "2024-01-01"], code: 2, "--until (2024-01-01T23:59:59.999Z) is before --since (2024-06-01T00:00:00Z)")
                try expectFailure(ledger, ["report", "memo", "--since", "2024-06-01", "--versions", "1..2"], code: 2, "give --since/--until or --versions, not both")
                try expectFailure(ledger, ["report", "--phrase", "more", "--versions", "1..2"], code: 2, "--versions with --phrase needs --doc")
                try expectFailure(ledger, ["report", "memo", "--since", "2024-06-01", "--until", "2024-12-01"], code: 1, "\"memo\" has no version made from 2024-06-01T00:00:00Z and up to 2024-12-01T23:59:59.999Z (version 4 was in force throughout)")

                // A range whose base is a withdrawal: the report cites back to the last version with a text.
                #expect(try cli(ledger, "retract", "memo", "--actor", "Ann", "--at", "2025-02-01T10:00:00Z", "--reason", "withdrawn").status == 0)
                #expect(try cli(ledger, "restore", "memo", "--actor", "Ann", "--at", "2025-03-01T10:00:00Z", stdin: "Back again.\n").status == 0)
                #expect(try cli(ledger, "report", "memo", "--versions", "7..7", "--out", dir + "/restored.json").status == 0)
                let restored = try verifyReport(dir + "/restored.json", publicKey: key)
                #expect(restored.status == 0 && restored.out.contains("versions 7 to 7 with no version missing"), "\(restored.out)")
            }
        }
    }

    @Test func theVerifierCatchesEveryTampering() throws {
        try withTemporaryDirectory { dir throws in
            try withCommunique { ledger throws in
                #expect(try cli(ledger, "publish", "sre.gob.mx/comunicado", "--actor", "SRE", "--at", "2023-12-28T16:00:00Z", "--variant-of", doc, stdin: "The root causes: poverty and violence.\n").status == 0)
                let path = dir + "/r.json"
                #expect(try cli(ledger, "report", "--phrase", "democratic decline", "--out", path).status == 0)
                let key = try publicKey(ledger)
                let realKey = key
                #expect(try verifyReport(path, publicKey: key).status == 0)
                let original = try JSONParser.parse(try String(contentsOfFile: path, encoding: .utf8))

                func tampered(_ name: String, _ change: (inout [String: JSONValue]) throws -> Void, key: String? = nil, expect fragments: [String]) throws {
                    guard case .object(var object) = original else { Issue.record("not an object"); return }
                    try change(&object)
                    let copy = dir + "/\(name).json"
                    try Data(CanonicalJSON.encode(.object(object))).write(to: URL(fileURLWithPath: copy))
                    let result = try verifyReport(copy, publicKey: key ?? realKey)
                    #expect(result.status == 1, "\(name): \(result.out)")
                    #expect(result.out.hasPrefix("FAILED"), "\(name)")
                    for fragment in fragments { #expect(result.out.contains(fragment), "\(name): \(result.out)") }
                }
                func events(_ object: [String: JSONValue]) -> [JSONValue] {
                    if case .array(let list)? = object["events"] { return list }
                    return []
                }

                // An edited event: its recomputed hash differs.
                try tampered("edited-event", { object in
                    var list = events(object)
                    guard case .object(var entry) = list[1], case .object(var event)? = entry["event"] else { return }
                    event["actor"] = "Someone Else"
                    entry["event"] = .object(event)
                    list[1] = .object(entry)
                    object["events"] = .array(list)
                }, expect: ["the event at position 2 ('\(doc)' version 2): its hash does not match its content", "the report's signature does not verify"])
                // A dropped event: the removal's version before is gone.
                try tampered("dropped-event", { object in
                    object["events"] = .array(Array(events(object).dropFirst()))
                }, expect: ["the change at position 1: its event is not in the report"])
                // Swapped proofs: neither leads to the root.
                try tampered("swapped-proof", { object in
                    var list = events(object)
                    guard case .object(var a) = list[0], case .object(var b) = list[1] else { return }
                    (a["proof"], b["proof"]) = (b["proof"], a["proof"])
                    list[0] = .object(a)
                    list[1] = .object(b)
                    object["events"] = .array(list)
                }, expect: ["the event at position 1: its inclusion proof does not lead to the checkpoint's Merkle root", "the event at position 2: its inclusion proof"])
                // A wrong key: another ledger's.
                let otherKey = try withCLILedger { other throws in try publicKey(other) }
                try tampered("wrong-key", { _ in }, key: otherKey, expect: [
                    "the report names the key \(key), not the key you gave", "the report's signature does not verify", "checkpoint 1's signature does not verify",
                ])
                // A quoted diff that does not follow from the texts: the removed words changed.
                try tampered("edited-diff", { object in
                    guard case .array(var changes)? = object["changes"], case .object(var change) = changes[1], case .array(var diff)? = change["diff"] else { return }
                    for k in diff.indices where diff[k]["op"]?.stringValue == "removed" { diff[k] = ["op": "removed", "text": "authoritarian drift, "] }
                    change["diff"] = .array(diff)
                    changes[1] = .object(change)
                    object["changes"] = .array(changes)
                }, expect: ["the change at position 2: it quotes removed text that the text before does not have at that place"])
                // A count that the texts do not support.
                try tampered("edited-count", { object in
                    guard case .array(var findings)? = object["findings"], case .object(var finding) = findings[1] else { return }
                    finding["countAfter"] = 1
                    findings[1] = .object(finding)
                    object["findings"] = .array(findings)
                }, expect: ["the finding at position 2: the texts hold the phrase 1 then 0 times, not 1 then 1"])
                // A report re-signed by another key but presented with the real key: the signatures fail.
                try tampered("no-signature", { object in object["signature"] = .string(String(repeating: "0", count: 128)) }, expect: ["the report's signature does not verify"])
            }
        }
    }
}
