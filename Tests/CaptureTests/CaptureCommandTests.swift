import Foundation
import PalimpsestTestSupport
import Testing

/// The bundled communiqué texts (Sources/palimpsest/Resources/communique), as paragraphs.
enum Texts {
    static func paragraphs(_ file: String) throws -> [String] {
        let path = repositoryRoot.appendingPathComponent("Sources/palimpsest/Resources/communique/\(file)").path
        return try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n\n")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
    static var whiteHouse: [String] { get throws { try paragraphs("white-house-2023-12-28.txt") } }
    static var mexico: [String] { get throws { try paragraphs("foreign-ministry-mexico-2023-12-28.txt") } }
}

/// A temporary ledger, a server serving a temporary directory, and the CLI run against both.
struct CaptureFixture {
    let ledger: String
    let server: CaptureServer

    static func with(_ body: (CaptureFixture) throws -> Void) throws {
        try withTemporaryDirectory { dir in
            let root = dir + "/site"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let server = try CaptureServer(root: root)
            defer { server.stop() }
            let fixture = CaptureFixture(ledger: dir + "/ledger", server: server)
            #expect(try fixture.run(["init"]).status == 0)
            try body(fixture)
        }
    }

    /// Runs the CLI on the ledger; capture commands get no politeness delay and short retries.
    @discardableResult
    func run(_ arguments: [String]) throws -> ProcessOutput {
        var environment = ProcessInfo.processInfo.environment
        environment["PALIMPSEST_RETRY_BACKOFF"] = "50ms"
        return try palimpsest(["--ledger", ledger] + arguments, environment: environment)
    }

    func capture(_ arguments: [String]) throws -> ProcessOutput {
        try run(["capture"] + arguments + ["--delay", "0", "--json"])
    }

    func json(_ output: ProcessOutput) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: output.stdout) as? [String: Any], "not JSON: \(output.out) \(output.err)")
    }

    func pages(_ output: ProcessOutput) throws -> [[String: Any]] {
        try #require(try json(output)["pages"] as? [[String: Any]])
    }

    /// Every event in the log, as `log --json` gives them.
    func events() throws -> [[String: Any]] {
        let output = try run(["log", "--json"])
        return try #require(try json(output)["events"] as? [[String: Any]])
    }

    /// What the ledger holds, to prove a failed command recorded nothing: every event as exported,
    /// and the names of the files beside the data file (a writable open may rewrite LMDB's meta
    /// pages and a projection's checkpoint, so the data file's bytes are not compared).
    func snapshot() throws -> [String: Data] {
        var files: [String: Data] = ["export": try run(["export"]).stdout]
        let enumerator = FileManager.default.enumerator(atPath: ledger)
        while let name = enumerator?.nextObject() as? String {
            if !name.hasSuffix(".mdb") { files[name] = Data() }
        }
        return files
    }

    func verifyOK() throws {
        let verify = try run(["verify"])
        #expect(verify.status == 0, "verify: \(verify.out) \(verify.err)")
    }
}

@Suite("capture and watch against a real HTTP server on 127.0.0.1")
struct CaptureCommandTests {
    @Test("the communiqué: capture, the page loses a phrase, capture again; removed, trace, report and verify tell it")
    func communique() throws {
        try CaptureFixture.with { f in
            let paragraphs = try Texts.whiteHouse
            try f.server.put("communique.html", CaptureServer.page(title: paragraphs[0], paragraphs: Array(paragraphs.dropFirst())))
            let first = try f.capture([f.server.url("communique"), "--doc", "whitehouse/communique", "--actor", "newsroom"])
            #expect(first.status == 0, "\(first.err)")
            #expect(try schemaViolations([first.out], schema: "capture-output.schema.json") == nil)
            let report1 = try #require(try f.pages(first).first)
            #expect(report1["outcome"] as? String == "published")
            #expect(report1["position"] as? Int == 1)

            // The recorded text is the article, without the page's chrome.
            let shown = try f.run(["show", "whitehouse/communique"]).out
            #expect(shown.contains("democratic decline"))
            #expect(shown.contains(paragraphs[1]))
            for chrome in ["cookies", "Share on X", "Privacy Policy", "Readout of the President", "Briefing Room", "gtag"] {
                #expect(!shown.contains(chrome), "the text kept the page's \(chrome)")
            }

            // Unchanged page: a conditional request, a 304, nothing recorded.
            let again = try f.capture([f.server.url("communique"), "--doc", "whitehouse/communique"])
            #expect(try f.pages(again).first?["outcome"] as? String == "not-modified")
            #expect(f.server.requests().last { $0.path == "/communique" }?.ifNoneMatch != "-")

            // The reissue: the phrase is gone.
            let reissued = Array(paragraphs.dropFirst()).map { $0.replacingOccurrences(of: "democratic decline, ", with: "") }
            try f.server.put("communique.html", CaptureServer.page(title: paragraphs[0], paragraphs: reissued))
            let second = try f.capture([f.server.url("communique"), "--doc", "whitehouse/communique", "--actor", "newsroom"])
            let report2 = try #require(try f.pages(second).first)
            #expect(report2["outcome"] as? String == "edited")
            let position = try #require(report2["position"] as? Int)

            let removed = try f.run(["removed", "democratic decline", "--json"])
            let removals = try #require(try f.json(removed)["removals"] as? [[String: Any]], "\(removed.out)")
            #expect(removals.count == 1)
            #expect(removals.first?["position"] as? Int == position)
            #expect(removals.first?["actor"] as? String == "newsroom")

            let trace = try f.run(["trace", "democratic decline"])
            #expect(trace.status == 0)
            #expect(trace.out.contains("removed"))

            let report = try f.run(["report", "whitehouse/communique", "--format", "json"])
            #expect(report.status == 0, "\(report.err)")
            #expect(report.out.contains("warc.recordID"), "the report cites the raw capture")

            // Each event cites its WARC record; verify checks them.
            let events = try f.events()
            #expect(events.count == 2)
            for event in events {
                let metadata = try #require(event["metadata"] as? [String: String])
                #expect(metadata["http.status"] == "200")
                #expect(metadata["warc.recordID"]?.hasPrefix("<urn:uuid:") == true)
                #expect(metadata["warc.blockDigest"]?.hasPrefix("sha256:") == true)
                #expect(metadata["http.etag"] != nil)
                #expect(event["source"] as? String == f.server.url("communique"))
            }
            let verify = try f.run(["verify", "--json"])
            #expect(verify.status == 0, "\(verify.out) \(verify.err)")
            #expect(try f.json(verify)["capturedRecords"] as? Int == 2)

            // warcio reads every file written, with every digest passing.
            try WARCChecks.warcioCheck(directory: f.ledger + "/warc")
            let records = try WARCChecks.warcioRecords(directory: f.ledger + "/warc")
            #expect(records.filter { $0.type == "response" && $0.uri == f.server.url("communique") }.count == 3)
            #expect(records.first?.type == "warcinfo")
        }
    }

    @Test("404, then 200, then 410, then 451: retracted, restored, retracted, retracted (takedown)")
    func statusSequence() throws {
        try CaptureFixture.with { f in
            let paragraphs = try Texts.mexico
            let url = f.server.url("press")
            try f.server.setStatus("press", 404)
            #expect(try f.pages(try f.capture([url])).first?["outcome"] as? String == "absent")
            #expect(try f.events().isEmpty)
            try f.server.setStatus("press", nil)
            try f.server.put("press.html", CaptureServer.page(title: "Press release", paragraphs: paragraphs))
            #expect(try f.pages(try f.capture([url])).first?["outcome"] as? String == "published")
            try f.server.setStatus("press", 410)
            #expect(try f.pages(try f.capture([url])).first?["outcome"] as? String == "retracted")
            try f.server.setStatus("press", nil)
            try f.server.put("press.html", CaptureServer.page(title: "Press release", paragraphs: paragraphs + ["A new closing paragraph was added to the release when it came back online."]))
            #expect(try f.pages(try f.capture([url])).first?["outcome"] as? String == "restored")
            try f.server.setStatus("press", 451)
            #expect(try f.pages(try f.capture([url])).first?["outcome"] as? String == "retracted")
            let events = try f.events()
            #expect(events.map { $0["type"] as? String } == ["published", "retracted", "restored", "retracted"])
            #expect(events[1]["kind"] as? String == "not-found")
            #expect(events[3]["kind"] as? String == "takedown")
            // The default document ID is the URL without its scheme.
            #expect(events.allSatisfy { $0["document"] as? String == "127.0.0.1:\(f.server.port)/press" })
            try f.verifyOK()
        }
    }

    @Test("redirects are followed, recorded, and keep the requested URL's document")
    func redirects() throws {
        try CaptureFixture.with { f in
            try f.server.put("communique.html", CaptureServer.page(title: "Communique", paragraphs: try Texts.whiteHouse))
            let output = try f.capture([f.server.url("redirect/3")])
            #expect(try f.pages(output).first?["outcome"] as? String == "published")
            let event = try #require(try f.events().first)
            #expect(event["document"] as? String == "127.0.0.1:\(f.server.port)/redirect/3")
            #expect(event["source"] as? String == f.server.url("communique"))
            let metadata = try #require(event["metadata"] as? [String: String])
            let redirects = try #require(metadata["http.redirects"])
            let hops = try #require(try JSONSerialization.jsonObject(with: Data(redirects.utf8)) as? [[String: Any]])
            #expect(hops.map { $0["url"] as? String } == ["redirect/3", "redirect/2", "redirect/1", "redirect/0"].map { f.server.url($0) })
            #expect(hops.allSatisfy { $0["status"] as? Int == 302 })
            try f.verifyOK()
        }
    }

    /// Each hostile answer gets its named outcome, nothing recorded, and a ledger that verifies.
    @Test("hostile servers and pages", arguments: [
        ("loop", "refused", "redirects in a loop"),
        ("redirect/12", "refused", "redirects more than 10 times"),
        ("big", "refused", "over the limit of 32 MiB"),
        ("bomb", "refused", "decompresses to more than the limit of 32 MiB"),
        ("pdf", "refused", "application/pdf, not HTML"),
        ("js-only", "needs-javascript", "without JavaScript"),
        ("wrong-charset", "refused", "not valid UTF-8 at byte"),
        ("invalid-utf8", "refused", "not valid UTF-8 at byte"),
    ])
    func hostile(path: String, outcome: String, detail: String) throws {
        try CaptureFixture.with { f in
            // A page that says UTF-8 but is Latin-1, and one with a broken UTF-8 sequence.
            try f.server.put("wrong-charset.html", bytes: Array("<html><body><p>Caf".utf8) + [0xE9] + Array(" de la gare, une longue phrase pour que le texte compte.</p></body></html>".utf8))
            try f.server.put("invalid-utf8.html", bytes: Array("<html><body><p>Broken ".utf8) + [0xF0, 0x28, 0x8C, 0x28] + Array(" sequence in a paragraph of text.</p></body></html>".utf8))
            let before = try f.snapshot()
            let output = try f.capture([f.server.url(path)])
            #expect(output.status == 0, "every page was handled: \(output.err)")
            let page = try #require(try f.pages(output).first)
            #expect(page["outcome"] as? String == outcome)
            #expect((page["detail"] as? String)?.contains(detail) == true, "\(page)")
            #expect(try f.events().isEmpty)
            // No event recorded (the WARC files keep the exchanges: evidence of what was tried).
            let after = try f.snapshot()
            #expect(after["export"] == before["export"])
            try f.verifyOK()
        }
    }

    @Test("a server that trickles bytes past the deadline, and one that fails: reported, retried, exit 6, nothing recorded")
    func transientFailures() throws {
        try CaptureFixture.with { f in
            try f.server.setStatus("down", 500)
            let trickle = try f.capture([f.server.url("trickle"), "--deadline", "600ms", "--retries", "0"])
            #expect(trickle.status == 6)
            #expect((try f.pages(trickle).first?["detail"] as? String)?.contains("took longer than") == true)
            let down = try f.capture([f.server.url("down"), "--retries", "2"])
            #expect(down.status == 6)
            #expect((try f.pages(down).first?["detail"] as? String)?.contains("answered 500") == true)
            #expect(f.server.requests().filter { $0.path == "/down" }.count == 3, "two retries after the first failure")
            let summary = try #require(try f.json(down)["summary"] as? [String: Any])
            #expect(summary["failed"] as? Int == 1)
            // A host that refuses connections (a port nothing listens on).
            let refused = try f.capture(["http://127.0.0.1:9/page", "--retries", "0"])
            #expect(refused.status == 6)
            #expect(try f.events().isEmpty)
            // The summary line says so in words, too.
            let plain = try f.run(["capture", f.server.url("down"), "--retries", "0", "--delay", "0"])
            #expect(plain.status == 6)
            #expect(plain.out.contains("1 page could not be fetched (exit 6)"))
            try f.verifyOK()
        }
    }

    @Test("robots.txt is obeyed unless --ignore-robots, which the summary says")
    func robots() throws {
        try CaptureFixture.with { f in
            try f.server.put("robots.txt", "User-agent: *\nDisallow: /private\n\nUser-agent: other-bot\nDisallow: /\n")
            try f.server.put("private.html", CaptureServer.page(title: "Private", paragraphs: try Texts.mexico))
            let forbidden = try f.capture([f.server.url("private")])
            #expect(forbidden.status == 6)
            #expect(try f.pages(forbidden).first?["outcome"] as? String == "forbidden-by-robots")
            #expect(!f.server.requests().contains { $0.path == "/private" }, "the page itself was never requested")
            let ignored = try f.run(["capture", f.server.url("private"), "--ignore-robots", "--delay", "0"])
            #expect(ignored.status == 0)
            #expect(ignored.out.contains("robots.txt ignored (--ignore-robots)"))
            #expect(try f.events().count == 1)
        }
    }

    @Test("charsets: from the header, from <meta>, detected; malformed HTML still extracts")
    func charsets() throws {
        try CaptureFixture.with { f in
            let sentence = "Le ministère des Affaires étrangères a publié le communiqué conjoint après la réunion à Mexico."
            // windows-1252 bytes, charset only in <meta>.
            let latin = CaptureServer.page(title: "Communiqué", paragraphs: [sentence, sentence + " Deuxième paragraphe."], lang: "fr", charsetMeta: "windows-1252")
            try f.server.put("meta.html", bytes: Array(latin.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }))
            try f.server.put("meta.type", "text/html")
            // windows-1251 bytes named by the header only.
            let russian = "Министерство иностранных дел опубликовало совместное коммюнике после встречи в Мехико."
            let cp1251 = try #require(russian.data(using: .windowsCP1251))
            try f.server.put("header.html", bytes: Array("<html><body><article><p>".utf8) + Array(cp1251) + Array("</p></article></body></html>".utf8))
            try f.server.put("header.type", "text/html; charset=windows-1251")
            // No charset anywhere, Latin-1 bytes: detected as windows-1252.
            try f.server.put("none.html", bytes: Array("<html><body><article><p>".utf8) + Array(sentence.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }) + Array("</p></article></body></html>".utf8))
            try f.server.put("none.type", "text/html")
            // Malformed: unclosed elements, stray end tags, an unquoted attribute.
            try f.server.put("malformed.html", "<html><body><div class=content><p>First paragraph of a page whose markup is broken, with enough words to count<p>Second paragraph, never closed either, but the parser repairs it</div></span></b><p>Third</body>")
            for name in ["meta", "header", "none", "malformed"] {
                let output = try f.capture([f.server.url(name)])
                #expect(try f.pages(output).first?["outcome"] as? String == "published", "\(name): \(output.out)")
            }
            func text(_ name: String) throws -> String { try f.run(["show", "127.0.0.1:\(f.server.port)/\(name)"]).out }
            #expect(try text("meta").contains(sentence))
            #expect(try text("header").contains(russian))
            #expect(try text("none").contains(sentence))
            #expect(try text("malformed").contains("Second paragraph, never closed either"))
            let charsets = try f.events().compactMap { ($0["metadata"] as? [String: String])?["capture.charset"] }
            #expect(charsets == ["windows-1252 (meta-element)", "windows-1251 (http-header)", "windows-1252 (detected)", "utf-8 (http-header)"])
        }
    }

    @Test("gzip and brotli bodies are decoded; the WARC keeps the bytes as sent")
    func contentEncodings() throws {
        try CaptureFixture.with { f in
            try f.server.put("zipped.html", CaptureServer.page(title: "Zipped", paragraphs: try Texts.mexico))
            try f.server.put("zipped.gzip", "")
            let output = try f.capture([f.server.url("zipped")])
            #expect(try f.pages(output).first?["outcome"] as? String == "published")
            #expect(try f.run(["show", "127.0.0.1:\(f.server.port)/zipped"]).out.contains(try Texts.mexico[1]))
            let records = try WARCChecks.warcioRecords(directory: f.ledger + "/warc")
            let response = try #require(records.last { $0.type == "response" })
            #expect(response.contentEncoding == "gzip")
            try WARCChecks.warcioCheck(directory: f.ledger + "/warc")
        }
    }

    @Test("bad arguments: exit 2, one sentence, nothing written", arguments: [
        (["capture"], "Missing expected argument '<urls> ...'"),
        (["capture", "ftp://example.org/x"], "is not an http or https URL"),
        (["capture", "http://a/", "http://b/", "--doc", "x"], "--doc names one document"),
        (["capture", "http://a/", "--select", "div:first-child"], "pseudo-class"),
        (["capture", "http://a/", "--delay", "soon"], "--delay \"soon\" is not a duration"),
        (["watch", "LIST", "--every", "0s"], "is not a positive duration"),
        (["feed", "--out", "-"], "give a document or --prefix"),
        (["import", "warc"], "Missing expected argument '<files> ...'"),
    ])
    func badArguments(arguments: [String], message: String) throws {
        try CaptureFixture.with { f in
            let before = try f.snapshot()
            let output = try f.run(arguments)
            #expect(output.status == 2)
            #expect(output.err.contains(message), "\(output.err)")
            #expect(try f.snapshot() == before)
        }
    }
}

/// The WARC files checked with warcio (PyPI), as another tool would read them.
enum WARCChecks {
    struct Record { var type: String; var uri: String?; var contentEncoding: String? }

    static func warcFiles(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".warc.gz") }.sorted().map { directory + "/" + $0 }
    }

    /// `warcio check`: every record parses and every digest matches.
    static func warcioCheck(directory: String) throws {
        for file in try warcFiles(directory) {
            let output = try run("/usr/bin/env", ["python3", "-m", "warcio.cli", "check", "-v", file])
            #expect(output.status == 0, "warcio check \(file): \(output.out) \(output.err)")
            #expect(!output.out.contains("digest failed"), "\(output.out)")
        }
    }

    static func warcioRecords(directory: String) throws -> [Record] {
        let script = """
            import sys, json
            from warcio.archiveiterator import ArchiveIterator
            out = []
            for path in sys.argv[1:]:
                with open(path, 'rb') as f:
                    for r in ArchiveIterator(f):
                        enc = r.http_headers.get_header('Content-Encoding') if r.http_headers else None
                        out.append({'type': r.rec_type, 'uri': r.rec_headers.get_header('WARC-Target-URI'), 'enc': enc})
            print(json.dumps(out))
            """
        let output = try run("/usr/bin/env", ["python3", "-c", script] + (try warcFiles(directory)))
        #expect(output.status == 0, "warcio: \(output.err)")
        let list = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [[String: Any]])
        return list.map { Record(type: $0["type"] as? String ?? "", uri: $0["uri"] as? String, contentEncoding: $0["enc"] as? String) }
    }
}
