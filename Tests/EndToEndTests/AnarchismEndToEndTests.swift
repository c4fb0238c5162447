import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Wikipedia's "Anarchism" history (15,180 revisions, 1.02 GB of wikitext, real vandalism) through
/// `palimpsest import mediawiki`, checked against Python's own XML parser on sampled revisions, then
/// word provenance against WikiWho's (../shared/tools/wikiwho/agreement.py: origin agreement ≥ 0.95,
/// removal agreement ≥ 0.90) and the phrase index against a scan of every version.
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: Corpora.directory + "/wikipedia/enwiki-Anarchism.xml.lzma"), "needs ../shared/corpora"))
struct AnarchismEndToEndTests {
    static let export = Corpora.directory + "/wikipedia/enwiki-Anarchism.xml.lzma"
    static let wikiwho = Corpora.directory + "/wikipedia/Anarchism.wikiwho.json.xz"
    static let agreementScript = URL(fileURLWithPath: Corpora.directory).deletingLastPathComponent().appendingPathComponent("tools/wikiwho/agreement.py").path

    @Test func importsEveryRevisionAndSampledTextsMatchTheXML() throws {
        try withTemporaryDirectory { dir throws in
            let ledger = dir + "/ledger"
            try palimpsest("--ledger", ledger, "init")
            let imported = try palimpsest("--ledger", ledger, "import", "mediawiki", Self.export, "--json")
            #expect(imported.status == 0, "\(imported.err)")
            let summary = try JSONParser.parse(imported.out.trimmingCharacters(in: .newlines))
            #expect(summary["added"] == 15_180 && summary["documents"] == 1)

            // Every 500th revision and the last, as Python's XML parser reads them.
            let script = """
                import hashlib, subprocess, sys, xml.etree.ElementTree as ET
                src = subprocess.Popen(["xz", "-dc", sys.argv[1]], stdout=subprocess.PIPE)
                n = 0; last = None
                for _, el in ET.iterparse(src.stdout):
                    if el.tag.endswith("}revision"):
                        n += 1
                        ns = el.tag[:-len("revision")]
                        row = (n, el.find(ns + "id").text, el.find(ns + "timestamp").text, hashlib.sha256((el.find(ns + "text").text or "").encode()).hexdigest())
                        if n % 500 == 1: print(*row)
                        last = row
                        el.clear()
                print(*last)
                """
            let sampled = try run("/usr/bin/env", ["python3", "-c", script, Self.export])
            #expect(sampled.status == 0, "\(sampled.err)")
            let rows = sampled.out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(rows.count == 32)
            #expect(rows.last?.first == "15180")
            let library = try Ledger.open(at: ledger, options: { var o = Ledger.Options(); o.readOnly = true; return o }())
            for row in rows {
                let version = try #require(UInt64(row[0]))
                let state = try #require(try library.state(of: "Anarchism", asOf: .version(version)))
                #expect(state.event.metadata["revisionId"] == row[1], "version \(version)")
                #expect(state.event.at == Timestamp(iso8601: row[2]), "version \(version)")
                #expect(state.contentHash.hex == row[3], "version \(version): text differs from the XML")
            }
            // The CLI agrees for one sampled revision, byte for byte.
            let shown = try palimpsest("--ledger", ledger, "show", "Anarchism", "--version", rows[5][0])
            #expect(Digest.sha256(shown.stdout).hex == rows[5][3])
            // Importing again adds nothing.
            let again = try palimpsest("--ledger", ledger, "import", "mediawiki", Self.export, "--json")
            #expect(try JSONParser.parse(again.out.trimmingCharacters(in: .newlines))["skipped"] == 15_180)

            // Word provenance of the last revision against WikiWho's, with the reference's own metric.
            let blame = try palimpsest("--ledger", ledger, "blame", "Anarchism", "--json")
            #expect(blame.status == 0, "\(blame.err)")
            let blameFile = dir + "/blame.json"
            try blame.stdout.write(to: URL(fileURLWithPath: blameFile))
            let agreement = try run("/usr/bin/env", ["python3", Self.agreementScript, blameFile, Self.wikiwho])
            #expect(agreement.status == 0, "\(agreement.err)")
            let figures = try JSONParser.parse(agreement.out.trimmingCharacters(in: .newlines))
            let origin = try #require(figures["origin_agreement"]?.doubleValue), removal = try #require(figures["removal_agreement"]?.doubleValue)
            #expect(origin >= 0.95, "origin agreement \(origin)")
            #expect(removal >= 0.90, "removal agreement \(removal)")

            // The phrase index against a scan of all 15,180 versions.
            let phrases = try BruteForce.phrases(library, limit: 40)
            let scanned = try BruteForce.changes(library, phrases: phrases, ignoringCase: phrases.map { _ in false })
            for (k, phrase) in phrases.enumerated() {
                let found = try library.phraseHistory(PhraseQuery(phrase)).changes.map { "\($0.event.position):\($0.kind.rawValue)" }
                #expect(found == scanned[k], "\(phrase.debugDescription)")
            }

            // The whole ledger verifies (hashes, chain, texts, Merkle tree, indexes), and a report on
            // the listed phrase with the fewest changes (at least two) verifies offline.
            let verified = try palimpsest("--ledger", ledger, "verify")
            #expect(verified.status == 0, "\(verified.err)")
            let chosen = try #require(phrases.indices.filter { scanned[$0].count >= 2 }.min { scanned[$0].count < scanned[$1].count })
            let out = try reportVerifies(ledger, ["--phrase", phrases[chosen]], to: dir + "/phrase.json")
            #expect(out.contains(plural(scanned[chosen].count, "finding")), "\(out)")
            try tamperedCopyFails(dir + "/phrase.json", ledger: ledger)

            // A year of the article (2005), as a reporter would ask for it: the version in force on
            // 1 January is the base, every change of the year after it, checked line by line offline.
            let year = try reportVerifies(ledger, ["Anarchism", "--since", "2005-01-01", "--until", "2005-12-31"], to: dir + "/2005.json")
            let in2005 = try library.events(of: "Anarchism")!.filter { $0.at.iso8601.hasPrefix("2005-") }
            #expect(year.contains("versions \(in2005.first!.version) to \(in2005.last!.version) with no version missing"), "\(year)")
            // The whole history as one page a person can open: it starts with the summary, and a browser
            // renders it (DOM dumped whole) with every change folded into its year.
            let html = dir + "/anarchism.html"
            #expect(try palimpsest("--ledger", ledger, "report", "Anarchism", "--out", html).status == 0)
            let page = try String(contentsOfFile: html, encoding: .utf8)
            let summaryAt = try #require(page.range(of: "<h2>Summary</h2>")), changes = try #require(page.range(of: "<article class=\"change\""))
            #expect(summaryAt.lowerBound < changes.lowerBound && page.contains("15180 changes from 2001-"))
            #expect(page.components(separatedBy: "<article class=\"change\"").count - 1 == 15180)
            if HeadlessChromium.executable != nil {
                let dom = try HeadlessChromium.dumpDOM("file://" + html)
                let years = Set(try library.events(of: "Anarchism")!.map { $0.at.iso8601.prefix(4) }).count
                #expect(dom.contains("<h2>Summary</h2>") && dom.components(separatedBy: "<details class=\"year\"").count - 1 == years)
            }

            // The served pages of the whole history, in a real browser: the blame page colours one
            // span per run of `blame --json --runs`, the side-by-side diff of the first and last
            // revisions and the history render, and the version page is what `show` prints.
            let server = try ServedLedger(ledger: ledger)
            defer { server.stop() }
            let runs = try JSONParser.parse(try palimpsest("--ledger", ledger, "blame", "Anarchism", "--json", "--runs").out.trimmingCharacters(in: .newlines))
            guard case .array(let runList)? = runs["runs"] else { Issue.record("no runs"); return }
            let blamePage = try server.request("/documents/Anarchism/blame")
            #expect(blamePage.status == 200)
            #expect(blamePage.text.components(separatedBy: " data-origin=\"").count - 1 == runList.count, "one coloured span per run")
            let diffPage = try server.request("/documents/Anarchism/diff?from=1&to=15180&view=side")
            #expect(diffPage.status == 200 && diffPage.text.contains("class=\"side\""))
            let versionPage = try server.request("/documents/Anarchism/versions/\(rows[5][0])")
            let shownJSON = try JSONParser.parse(try palimpsest("--ledger", ledger, "show", "Anarchism", "--version", rows[5][0], "--json").out.trimmingCharacters(in: .newlines))
            #expect(versionPage.status == 200 && versionPage.text.contains("Text hash <code>\(shownJSON["contentHash"]?.stringValue ?? "?")</code>"))
            let history = try server.request("/documents/Anarchism")
            #expect(history.status == 200 && history.text.contains("15180 versions"))
            if HeadlessChromium.executable != nil {
                let dom = try HeadlessChromium.dumpDOM(server.base + "/documents/Anarchism/blame")
                #expect(dom.components(separatedBy: "data-origin=").count - 1 == runList.count, "the browser's DOM has every blamed run")
                for (name, path) in [("blame", "/documents/Anarchism/blame"), ("diff", "/documents/Anarchism/diff?from=15179&to=15180&view=side")] {
                    let png = dir + "/\(name).png"
                    try HeadlessChromium.screenshot(server.base + path, to: png)
                    let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
                    #expect(size > 10_000, "the \(name) page's screenshot is \(size) bytes")
                }
            }
        }
    }
}

