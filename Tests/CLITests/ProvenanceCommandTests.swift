import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// blame, removed, trace, diff and compare through the CLI: plain and JSON output (validated
/// against Schemas/), and every bad input the issue lists.
@Suite struct ProvenanceCommandTests {
    let mexican = "The leaders discussed the root causes of migration: poverty, inequality and violence.\n"

    func withStory<R>(_ body: (String) throws -> R) throws -> R {
        try withCommunique { ledger throws in
            #expect(try cli(ledger, "publish", "sre.gob.mx/comunicado", "--actor", "SRE", "--at", "2023-12-28T16:00:00Z", "--variant-of", doc, stdin: mexican).status == 0)
            return try body(ledger)
        }
    }

    @Test func blamePrintsRunsAndJSON() throws {
        try withStory { ledger throws in
            let plain = try cli(ledger, "blame", doc, "--version", "1")
            #expect(plain.status == 0, "\(plain.err)")
            #expect(plain.out.contains("v1 2023-12-28T15:00:00Z White House  │ The leaders discussed the root causes of migration: poverty, inequality, democratic decline, and violence.↵"))
            let json = try cli(ledger, "blame", doc, "--json")
            #expect(json.status == 0)
            #expect(try schemaViolations([json.out], schema: "blame-output.schema.json") == nil)
            let parsed = try JSONParser.parse(json.out.trimmingCharacters(in: .newlines))
            #expect(parsed["version"] == 2)
            guard case .array(let tokens)? = parsed["tokens"] else { Issue.record("no tokens"); return }
            #expect(tokens.compactMap { $0["text"]?.stringValue }.joined() == reissued)
            #expect(tokens.allSatisfy { $0["origin"]?["version"] == 1 })
            let atTime = try cli(ledger, "blame", doc, "--at", "2023-12-28T16:00:00Z", "--json")
            #expect(try JSONParser.parse(atTime.out.trimmingCharacters(in: .newlines))["version"] == 1)

            // Runs: the same origins, consecutive tokens merged, no histories.
            let compact = try cli(ledger, "blame", doc, "--json", "--runs")
            #expect(compact.status == 0, "\(compact.err)")
            #expect(try schemaViolations([compact.out], schema: "blame-output.schema.json") == nil)
            let runs = try JSONParser.parse(compact.out.trimmingCharacters(in: .newlines))
            guard case .array(let items)? = runs["runs"] else { Issue.record("no runs"); return }
            #expect(items.compactMap { $0["text"]?.stringValue }.joined() == reissued)
            var expected: [(Int64, String)] = []
            for token in tokens {
                let position = token["origin"]?["position"]?.intValue ?? -1, text = token["text"]?.stringValue ?? ""
                if let last = expected.last, last.0 == position { expected[expected.count - 1].1 += text } else { expected.append((position, text)) }
            }
            #expect(items.map { $0["origin"]?["position"]?.intValue ?? -1 } == expected.map(\.0))
            #expect(items.map { $0["text"]?.stringValue ?? "" } == expected.map(\.1))
            #expect(runs["tokens"] == nil && runs["version"] == 2)
            try expectFailure(ledger, ["blame", doc, "--runs"], code: 2, "--runs shapes the JSON output; give it with --json")
        }
    }

    @Test func removedAndTraceAnswerTheStory() throws {
        try withStory { ledger throws in
            let plain = try cli(ledger, "removed", "democratic decline")
            #expect(plain.status == 0, "\(plain.err)")
            #expect(plain.out.contains("2023-12-28T21:00:00Z  removed  whitehouse.gov/joint-communique v2  by White House  (1 → 0)"))
            #expect(plain.out.contains("[-democratic decline-]"))
            #expect(plain.out.contains("last seen in v1 (2023-12-28T15:00:00Z)"))
            let json = try cli(ledger, "removed", "democratic\n decline", "--json")
            #expect(try schemaViolations([json.out], schema: "removed-output.schema.json") == nil)
            let parsed = try JSONParser.parse(json.out.trimmingCharacters(in: .newlines))
            guard case .array(let removals)? = parsed["removals"] else { Issue.record("no removals"); return }
            #expect(removals.count == 1)
            #expect(removals.first?["document"]?.stringValue == doc && removals.first?["occurrencesBefore"] == 1 && removals.first?["occurrencesAfter"] == 0)
            #expect(removals.first?["context"]?["removed"]?.stringValue == "democratic decline")
            #expect(removals.first?["originallyBy"]?["version"] == 1)
            // Nothing in the Mexican version; nothing before the reissue; case matters unless told.
            #expect(try cli(ledger, "removed", "democratic decline", "--doc", "sre.gob.mx/comunicado").out.isEmpty)
            #expect(try cli(ledger, "removed", "democratic decline", "--until", "2023-12-28T20:00:00Z").out.isEmpty)
            #expect(try cli(ledger, "removed", "Democratic Decline").out.isEmpty)
            #expect(try cli(ledger, "removed", "Democratic Decline", "--ignore-case", "--since", "2023-12-28").out.contains("(1 → 0)"))

            let trace = try cli(ledger, "trace", "root causes", "--json")
            #expect(try schemaViolations([trace.out], schema: "trace-output.schema.json") == nil)
            let changes = try JSONParser.parse(trace.out.trimmingCharacters(in: .newlines))["changes"]
            guard case .array(let list)? = changes else { Issue.record("no changes"); return }
            #expect(list.map { $0["document"]?.stringValue ?? "" } == [doc, "sre.gob.mx/comunicado"])
            #expect(list.allSatisfy { $0["change"]?.stringValue == "added" })
            let plainTrace = try cli(ledger, "trace", "democratic decline")
            #expect(plainTrace.out.components(separatedBy: "\n").filter { $0.hasPrefix("2023") }.count == 2)
        }
    }

    @Test func diffAndCompare() throws {
        try withStory { ledger throws in
            let last = try cli(ledger, "diff", doc)
            #expect(last.status == 0, "\(last.err)")
            #expect(last.out.contains("inequality, [-democratic decline, -]and violence"))
            let byTime = try cli(ledger, "diff", doc, "@2023-12-28T15:00:00Z", "2", "--json")
            #expect(try schemaViolations([byTime.out], schema: "diff-output.schema.json") == nil)
            let parsed = try JSONParser.parse(byTime.out.trimmingCharacters(in: .newlines))
            #expect(parsed["removedWords"] == 3 && parsed["addedWords"] == 0)
            #expect(parsed["from"]?["version"] == 1 && parsed["to"]?["version"] == 2)

            let compared = try cli(ledger, "compare", "\(doc)#1", "sre.gob.mx/comunicado")
            #expect(compared.status == 0, "\(compared.err)")
            #expect(compared.out.contains("↔ sre.gob.mx/comunicado v1 (SRE): 1 paragraph in both (0 identical, 1 worded differently), 0 only in the first, 0 only in the second.\n"))
            #expect(compared.out.contains("[-, democratic decline,-]"))
            let json = try cli(ledger, "compare", "\(doc)@2023-12-28T15:30:00Z", "sre.gob.mx/comunicado", "--json")
            #expect(try schemaViolations([json.out], schema: "compare-output.schema.json") == nil)
            let c = try JSONParser.parse(json.out.trimmingCharacters(in: .newlines))
            #expect(c["first"]?["version"] == 1)
            guard case .array(let onlyFirst)? = c["onlyInFirst"] else { Issue.record("no onlyInFirst"); return }
            #expect(onlyFirst.contains { $0.stringValue?.contains("democratic decline") == true })
        }
    }

    @Test func removedAndTracePageThroughLongAnswersWithLimitAndAfter() throws {
        try withStory { ledger throws in
            // After the story's addition and removal: absent, then added and removed by turns (4 more
            // additions, 3 more removals).
            for k in 0..<8 {
                let text = k % 2 == 0 ? "The leaders met.\n" : "The leaders discussed democratic decline.\n"
                #expect(try cli(ledger, "edit", doc, "--actor", "Editor \(k)", "--at", "2023-12-29T0\(k):00:00Z", stdin: text).status == 0)
            }
            for (command, key) in [("removed", "removals"), ("trace", "changes")] {
                let whole = try JSONParser.parse(try cli(ledger, command, "democratic decline", "--json").out.trimmingCharacters(in: .newlines))
                #expect(whole["next"] == .null)
                guard case .array(let all)? = whole[key] else { Issue.record("no \(key)"); continue }
                #expect(all.count == (command == "removed" ? 4 : 9), "\(command)")
                // Pages of two, each naming where the next starts, give the whole answer back.
                var pages: [JSONValue] = []
                var after: String? = nil
                for _ in 0..<10 {
                    let page = try palimpsest(["--ledger", ledger, command, "democratic decline", "--json", "--limit", "2"] + (after.map { ["--after", $0] } ?? []), input: Data())
                    #expect(page.status == 0, "\(page.err)")
                    #expect(try schemaViolations([page.out], schema: "\(command)-output.schema.json") == nil)
                    let parsed = try JSONParser.parse(page.out.trimmingCharacters(in: .newlines))
                    guard case .array(let listed)? = parsed[key] else { Issue.record("no \(key)"); break }
                    pages += listed
                    guard let next = parsed["next"]?.intValue else { break }
                    #expect(listed.count == 2 && listed.last?["position"]?.intValue == next)
                    after = String(next)
                }
                #expect(pages == all, "\(command)")
                // Plain output says how to go on.
                let plain = try cli(ledger, command, "democratic decline", "--limit", "1")
                let first = all[0]["position"]?.intValue ?? -1
                #expect(plain.out.hasSuffix("more: continue with --after \(first)\n"), "\(plain.out)")
                #expect(try cli(ledger, command, "democratic decline", "--after", "999999").out.isEmpty)
            }
            try expectFailure(ledger, ["removed", "democratic decline", "--limit", "0"], code: 2, "--limit must be at least 1, not 0")
            try expectFailure(ledger, ["trace", "democratic decline", "--after", "-3"], code: 2, "--after")
        }
    }

    @Test func badInput() throws {
        try withStory { ledger throws in
            try expectFailure(ledger, ["removed", ""], code: 2, "the phrase is empty")
            try expectFailure(ledger, ["trace", "  \n "], code: 2, "the phrase holds only whitespace")
            try expectFailure(ledger, ["removed", "x", "--doc", "nope"], code: 1, "there is no document \"nope\"")
            try expectFailure(ledger, ["blame", "nope"], code: 1, "there is no document \"nope\"")
            try expectFailure(ledger, ["blame", doc, "--version", "3"], code: 1, "has 2 versions; there is no version 3")
            try expectFailure(ledger, ["blame", doc, "--at", "2020-01-01"], code: 1, "did not exist yet at 2020-01-01")
            try expectFailure(ledger, ["blame", doc, "--version", "0"], code: 2, "--version counts from 1")
            try expectFailure(ledger, ["diff", doc, "9"], code: 1, "there is no version 9")
            try expectFailure(ledger, ["diff", doc, "x"], code: 2, "FROM must be a version")
            try expectFailure(ledger, ["compare", doc, "nope#2"], code: 1, "there is no document \"nope#2\"")
            try expectFailure(ledger, ["removed", "x", "--since", "yesterday"], code: 2, "--since")
            #expect(try cli(ledger, "retract", doc, "--actor", "White House", "--reason", "test", "--at", "2023-12-29T00:00:00Z").status == 0)
            try expectFailure(ledger, ["blame", doc], code: 3, "was withdrawn at version 3")
            // The withdrawal removed everything the document said.
            #expect(try cli(ledger, "removed", "root causes", "--doc", doc).out.contains("removed  whitehouse.gov/joint-communique v3"))
        }
    }

    @Test func aPhraseBeyondTheIndexIsScannedWithANote() throws {
        try withStory { ledger throws in
            let long = "The leaders discussed the root causes of migration: poverty, inequality, democratic decline, and violence. The leaders discussed the root causes"
            let text = long + " of everything else entirely, once more and again with feeling."
            #expect(try cli(ledger, "publish", "long", "--actor", "a", "--at", "2024-01-01T00:00:00Z", stdin: text).status == 0)
            #expect(try cli(ledger, "edit", "long", "--actor", "b", "--at", "2024-01-02T00:00:00Z", stdin: "gone").status == 0)
            let result = try cli(ledger, "removed", text)
            #expect(result.status == 0)
            #expect(result.err.contains("note: the phrase has more than 32 words"))
            #expect(result.out.contains("removed  long v2  by b  (1 → 0)"))
        }
    }
}
