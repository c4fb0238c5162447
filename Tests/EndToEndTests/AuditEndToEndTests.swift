import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Audit reports of the real histories, checked by the independent verifier (tools/verify-report.py,
/// Python's standard library only), and tampered copies refused.

/// Writes a report with the CLI and checks it with the verifier; returns the verifier's output.
@discardableResult
func reportVerifies(_ ledger: String, _ arguments: [String], to path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let made = try palimpsest(["--ledger", ledger, "report"] + arguments + ["--out", path])
    #expect(made.status == 0, "\(made.err)", sourceLocation: sourceLocation)
    let key = try palimpsest("--ledger", ledger, "checkpoint", "--public-key").out.trimmingCharacters(in: .whitespacesAndNewlines)
    let verified = try verifyReport(path, publicKey: key)
    #expect(verified.status == 0, "\(arguments): \(verified.out)\(verified.err)", sourceLocation: sourceLocation)
    return verified.out
}

/// A copy of a JSON report with one character of one quoted removal changed must fail.
func tamperedCopyFails(_ path: String, ledger: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var text = try String(contentsOfFile: path, encoding: .utf8)
    guard let range = text.range(of: "\"op\":\"removed\",\"text\":\"") else { Issue.record("the report quotes no removal", sourceLocation: sourceLocation); return }
    let target = range.upperBound
    text.replaceSubrange(target..<text.index(after: target), with: text[target] == "X" ? "Y" : "X")
    let copy = path + ".tampered.json"
    try text.write(toFile: copy, atomically: true, encoding: .utf8)
    let key = try palimpsest("--ledger", ledger, "checkpoint", "--public-key").out.trimmingCharacters(in: .whitespacesAndNewlines)
    let result = try verifyReport(copy, publicKey: key)
    #expect(result.status == 1 && result.out.contains("it quotes removed text that the text before does not have"), "\(result.out)", sourceLocation: sourceLocation)
}

@Suite(.enabled(if: Communique.available, "needs ../shared/seed/communique-story.txt"))
struct CommuniqueReportEndToEndTests {
    /// DESIGN.md §1: the report on "democratic decline" proves who removed it and when, offline.
    @Test func theDemocraticDeclineReportVerifiesOfflineAndATamperedCopyFails() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/ledger"
            do {
                let ledger = try Ledger.create(at: path)
                try ledger.append(contentsOf: try Communique.events())
            }
            let json = dir + "/democratic-decline.json"
            let out = try reportVerifies(path, ["--phrase", "democratic decline"], to: json)
            #expect(out.contains("phrase 'democratic decline': 2 findings (1 removal)"))
            let report = try JSONParser.parse(try String(contentsOfFile: json, encoding: .utf8))
            guard case .array(let findings)? = report["findings"] else { Issue.record("no findings"); return }
            #expect(findings.map { $0["kind"]?.stringValue ?? "" } == ["added", "removed"])
            #expect(findings.allSatisfy { $0["document"]?.stringValue == Communique.whiteHouse })
            try tamperedCopyFails(json, ledger: path)

            // The HTML shows the removal, struck through, in a page whose tags balance.
            let html = dir + "/democratic-decline.html"
            #expect(try palimpsest("--ledger", path, "report", "--phrase", "democratic decline", "--out", html).status == 0)
            let page = try String(contentsOfFile: html, encoding: .utf8)
            #expect(page.contains("<del>democratic decline</del>") && page.contains("<del>democratic decline, </del>"))
            let balanced = try run("/usr/bin/env", ["python3", "-c", """
                import sys
                from html.parser import HTMLParser
                void = {"meta", "br", "img", "hr", "link", "input"}
                class P(HTMLParser):
                    stack = []
                    def handle_starttag(self, tag, attrs):
                        if tag not in void: self.stack.append(tag)
                    def handle_endtag(self, tag):
                        assert self.stack and self.stack.pop() == tag, "unbalanced </%s>" % tag
                p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close()
                assert not p.stack, "unclosed %s" % p.stack
                """, html])
            #expect(balanced.status == 0, "\(balanced.err)")
            // The document report of the White House communiqué verifies too, and names the removal by actor.
            let document = try reportVerifies(path, [Communique.whiteHouse], to: dir + "/whitehouse.json")
            #expect(document.contains("versions 1 to 2"))
        }
    }
}

@Suite(.serialized, .enabled(if: Corpora.available, "needs ../shared/corpora"))
struct SitePolicyAuditEndToEndTests {
    @Test func theWholeHistoryVerifiesAndReportsOnItVerifyOffline() throws {
        try withTemporaryDirectory { dir throws in
            let ledger = dir + "/ledger"
            try palimpsest("--ledger", ledger, "init")
            let imported = try run("/bin/sh", ["-c", "xz -dc '\(Corpora.sitePolicyEvents)' | '\(palimpsestExecutable)' --ledger '\(ledger)' import jsonl -"])
            #expect(imported.status == 0, "\(imported.err)")
            let verified = try palimpsest("--ledger", ledger, "verify", "--json")
            #expect(verified.status == 0, "\(verified.err)")
            let figures = try JSONParser.parse(verified.out.trimmingCharacters(in: .newlines))
            #expect(figures["ok"] == true && (figures["events"]?.intValue ?? 0) > 1000)

            // The first five records of the answer key, by phrase and document.
            let oracle = try String(contentsOfFile: SitePolicyProvenanceEndToEndTests.oracle, encoding: .utf8).split(separator: "\n").prefix(5)
            for (k, line) in oracle.enumerated() {
                let record = try JSONParser.parse(String(line))
                let phrase = try #require(record["phrase"]?.stringValue), document = try #require(record["doc"]?.stringValue)
                let out = try reportVerifies(ledger, ["--phrase", phrase, "--doc", document], to: dir + "/phrase-\(k).json")
                guard case .array(let removals)? = record["removals"], case .array(let additions)? = record["additions"] else { continue }
                #expect(out.contains("\(plural(removals.count + additions.count, "finding")) (\(plural(removals.count, "removal")))"), "\(phrase): \(out)")
                if k == 0 { try tamperedCopyFails(dir + "/phrase-0.json", ledger: ledger) }
            }
            // The most edited document's whole life.
            let library = try Ledger.open(at: ledger, options: { var o = Ledger.Options(); o.readOnly = true; return o }())
            let busiest = try #require(try library.documents().max { $0.version < $1.version })
            let out = try reportVerifies(ledger, [busiest.id], to: dir + "/busiest.json")
            #expect(out.contains("versions 1 to \(busiest.version)"))
        }
    }
}

/// "1 finding", "2 findings", as tools/verify-report.py writes counts.
func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
