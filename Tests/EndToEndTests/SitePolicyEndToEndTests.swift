import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// The whole site-policy history (1,293 events, 21.6 MB of text) through the CLI, checked against
/// the corpus's own answer key (asof.jsonl, from git) and against independent recomputation.
@Suite(.serialized, .enabled(if: Corpora.available, "needs ../shared/corpora"))
struct SitePolicyEndToEndTests {
    static let lines = Corpora.sitePolicyLines

    /// Imports the corpus into a fresh ledger through `xz -dc | palimpsest import jsonl -`.
    func withImportedCorpus<R>(_ body: (String, ProcessOutput) throws -> R) throws -> R {
        try withTemporaryDirectory { dir throws in
            let ledger = dir + "/ledger"
            try palimpsest("--ledger", ledger, "init")
            let pipeline = "xz -dc '\(Corpora.sitePolicyEvents)' | '\(palimpsestExecutable)' --ledger '\(ledger)' import jsonl - --json"
            let result = try run("/bin/sh", ["-c", pipeline])
            #expect(result.status == 0, "\(result.err)")
            return try body(ledger, result)
        }
    }

    @Test func importsEveryEventAndAnswersTheAsOfKey() throws {
        try withImportedCorpus { ledger, result throws in
            let summary = try JSONParser.parse(result.out.trimmingCharacters(in: .newlines))
            #expect(summary["lines"] == .int(Int64(Self.lines.count)))
            #expect(summary["added"] == .int(Int64(Self.lines.count)))
            let expectedDocs = Set(try Self.lines.map { try #require(try JSONParser.parse($0)["doc"]?.stringValue) })
            #expect(summary["documents"] == .int(Int64(expectedDocs.count)))
            let textBytes = try Self.lines.reduce(0) { $0 + (try JSONParser.parse($1)["text"]?.stringValue?.utf8.count ?? 0) }
            #expect(summary["textBytes"] == .int(Int64(textBytes)))

            // The answer key: what each document said at a time, by SHA-256 of its text.
            let key = try String(contentsOfFile: Corpora.sitePolicyAsOf, encoding: .utf8).split(separator: "\n")
            #expect(key.count == 40)
            for row in key {
                let answer = try JSONParser.parse(String(row))
                let doc = try #require(answer["doc"]?.stringValue), at = try #require(answer["at"]?.stringValue)
                let shown = try palimpsest("--ledger", ledger, "show", doc, "--at", at, "--json")
                if answer["exists"] == true {
                    #expect(shown.status == 0, "\(doc) at \(at): \(shown.err)")
                    let state = try JSONParser.parse(shown.out.trimmingCharacters(in: .newlines))
                    #expect(state["status"] == "active")
                    let text = try #require(state["text"]?.stringValue)
                    #expect(Digest.sha256(text).hex == answer["sha256_text_utf8"]?.stringValue, "\(doc) at \(at)")
                    #expect(text.utf8.count == Int(answer["bytes"]?.intValue ?? -1))
                } else {
                    let retracted = try shown.status == 0 && (JSONParser.parse(shown.out.trimmingCharacters(in: .newlines))["status"] == "retracted")
                    #expect(shown.status == 1 || retracted, "\(doc) should not exist at \(at)")
                }
            }

            // The catalogue's final state equals the last line of each document.
            let docs = try JSONParser.parse(try palimpsest("--ledger", ledger, "docs", "--json").out.trimmingCharacters(in: .newlines))
            guard case .array(let items)? = docs["documents"] else { Issue.record("no documents"); return }
            #expect(items.count == expectedDocs.count)
            var last: [String: JSONValue] = [:]
            for line in Self.lines {
                let o = try JSONParser.parse(line)
                last[o["doc"]!.stringValue!] = o
            }
            for item in items {
                let doc = item["document"]!.stringValue!
                let final = try #require(last[doc])
                if final["type"] == "retract" {
                    #expect(item["status"] == "retracted", "\(doc)")
                } else {
                    #expect(item["contentHash"] == .string(Digest.sha256(final["text"]!.stringValue!).hex), "\(doc)")
                }
            }
            // Every hash, the chain and every text check; the projections equal a rebuild.
            let verified = try palimpsest("--ledger", ledger, "verify", "--projections")
            #expect(verified.status == 0, "\(verified.err)")
            #expect(verified.out.contains("OK: \(Self.lines.count) events"))
            // Idempotent: the same file again adds nothing.
            let again = try run("/bin/sh", ["-c", "xz -dc '\(Corpora.sitePolicyEvents)' | '\(palimpsestExecutable)' --ledger '\(ledger)' import jsonl - --json"])
            #expect(try JSONParser.parse(again.out.trimmingCharacters(in: .newlines))["added"] == 0)
        }
    }

    @Test func exportIsCheckableWithStandardToolsAndReimportsExactly() throws {
        try withImportedCorpus { ledger, _ throws in
            try withTemporaryDirectory { dir throws in
                let file = dir + "/export.jsonl"
                #expect(try palimpsest("--ledger", ledger, "export", "--out", file).status == 0)
                // A third party recomputes every hash, the chain and every text's commitment with the
                // README's Python (standard library only).
                let verified = try runREADMEExportCheck(exportFile: file)
                #expect(verified.status == 0, "\(verified.err)")
                #expect(verified.out == "OK\n")
                let exported = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
                #expect(exported.count == Self.lines.count)
                #expect(try schemaViolations(exported, schema: "export-line.schema.json") == nil)

                let copy = dir + "/copy"
                try palimpsest("--ledger", copy, "init")
                let imported = try palimpsest("--ledger", copy, "import", "jsonl", file)
                #expect(imported.status == 0, "\(imported.err)")
                let reexported = try palimpsest("--ledger", copy, "export")
                #expect(reexported.out == exported.joined(separator: "\n") + "\n")
            }
        }
    }

    @Test func everyVersionReadsBackThroughTheLibrary() throws {
        try withImportedCorpus { path, _ throws in
            let ledger = try Ledger.open(at: path, options: { var o = Ledger.Options(); o.readOnly = true; return o }())
            var versions: [String: UInt64] = [:]
            var checked = 0
            for line in Self.lines {
                let o = try JSONParser.parse(line)
                let doc = o["doc"]!.stringValue!
                let version = (versions[doc] ?? 0) + 1
                versions[doc] = version
                guard let text = o["text"]?.stringValue else { continue }
                #expect(try ledger.state(of: doc, asOf: .version(version))?.text == text, "\(doc) v\(version)")
                checked += 1
            }
            #expect(checked == Self.lines.count - 91)
        }
    }
}

/// The site-policy history rebuilt as a git repository (one commit per event, with the corpus's
/// authors and dates), then read back by `import git`: every document's life must equal the one
/// `import jsonl` records from the corpus itself.
@Suite(.serialized, .enabled(if: Corpora.available, "needs ../shared/corpora"))
struct SitePolicyGitEndToEndTests {
    @Test func importGitOfTheRebuiltRepositoryMatchesTheJSONLImport() throws {
        try withTemporaryDirectory { dir throws in
            let jsonl = dir + "/events.jsonl"
            #expect(try run("/bin/sh", ["-c", "xz -dc '\(Corpora.sitePolicyEvents)' > '\(jsonl)'"]).status == 0)
            let repo = dir + "/site-policy"
            let build = "git init -q '\(repo)' && python3 '\(repositoryRoot.path)/tools/benchmarks/jsonl_to_git.py' '\(jsonl)' | git -C '\(repo)' fast-import --quiet && git -C '\(repo)' checkout -q main"
            let built = try run("/bin/sh", ["-c", build])
            #expect(built.status == 0, "\(built.err)")
            let fromJSONL = dir + "/a", fromGit = dir + "/b"
            try palimpsest("--ledger", fromJSONL, "init")
            try palimpsest("--ledger", fromGit, "init")
            #expect(try palimpsest("--ledger", fromJSONL, "import", "jsonl", jsonl).status == 0)
            let imported = try palimpsest("--ledger", fromGit, "import", "git", repo, "--json")
            #expect(imported.status == 0, "\(imported.err)")
            #expect(try JSONParser.parse(imported.out.trimmingCharacters(in: .newlines))["added"] == .int(Int64(SitePolicyEndToEndTests.lines.count)))

            let a = try Ledger.open(at: fromJSONL), b = try Ledger.open(at: fromGit)
            let docsA = try a.documents(), docsB = try b.documents()
            #expect(docsA.map(\.id) == docsB.map(\.id))
            for doc in docsA {
                let lifeA = try #require(try a.events(of: doc.id)), lifeB = try #require(try b.events(of: doc.id))
                #expect(lifeA.map(\.type) == lifeB.map(\.type), "\(doc.id)")
                #expect(lifeA.map(\.contentHash) == lifeB.map(\.contentHash), "\(doc.id)")
                #expect(lifeA.map(\.actor) == lifeB.map(\.actor), "\(doc.id)")
                #expect(lifeA.map(\.at) == lifeB.map(\.at), "\(doc.id)")
            }
        }
    }
}
