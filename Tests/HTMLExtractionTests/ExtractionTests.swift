import Foundation
import HTMLExtraction
@testable import PalimpsestCapture
import PalimpsestTestSupport
import Testing
import TextPacking
import WARC

@Suite("main-text extraction")
struct ExtractionTests {
    static let corpus = Corpora.directory + "/article-extraction"

    @Test("F1 on the article-extraction benchmark's pages, by its own scorer, meets the goal (≥ 0.95)",
          .enabled(if: FileManager.default.fileExists(atPath: corpus + "/ground-truth.json"), "needs ../shared/corpora/article-extraction"))
    func benchmarkF1() throws {
        let pages = try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/html").filter { $0.hasSuffix(".html.gz") }
        #expect(pages.count == 91)
        var predictions: [String: [String: String]] = [:]
        for page in pages {
            let html = try run("/usr/bin/env", ["gzip", "-dc", Self.corpus + "/html/" + page]).stdout
            let decoded = try PageDecoder.decode([UInt8](html), contentType: nil)
            predictions[String(page.dropLast(".html.gz".count))] = ["articleBody": ArticleExtractor().extract(utf8: decoded.utf8).text]
        }
        try withTemporaryDirectory { dir in
            let path = dir + "/predictions.json"
            try JSONSerialization.data(withJSONObject: predictions).write(to: URL(fileURLWithPath: path))
            let scorer = URL(fileURLWithPath: Corpora.directory).deletingLastPathComponent().appendingPathComponent("tools/extraction/score.py").path
            let output = try run("/usr/bin/env", ["python3", scorer, Self.corpus + "/ground-truth.json", path])
            #expect(output.status == 0, "\(output.err)")
            let f1 = try #require(output.out.split(separator: " ").dropFirst().first.flatMap { Double($0) }, "\(output.out)")
            #expect(f1 >= 0.95, "F1 \(f1)")
        }
    }

    /// Property: for pages built from random paragraphs wrapped in random chrome, the extracted
    /// text is exactly the paragraphs, in order, and extracting twice gives the same bytes.
    @Test("random article pages: every paragraph kept, no chrome, deterministic")
    func randomPages() throws {
        var generator = SeededGenerator(seed: 20261130)
        let words = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there one been all their has would when if so what no said who more will may into other time two could about its then than only over such some these".split(separator: " ").map(String.init)
        for trial in 0..<60 {
            let count = Int.random(in: 2...8, using: &generator)
            let paragraphs = (0..<count).map { k in
                let length = Int.random(in: 25...70, using: &generator)
                return "P\(trial)x\(k) " + (0..<length).map { _ in words.randomElement(using: &generator)! }.joined(separator: " ") + ", and so on."
            }
            let chrome = ["cookie-banner", "site-header", "share-links", "related", "site-footer"].shuffled(using: &generator)
            let page = CaptureServer.page(title: "Trial \(trial)", paragraphs: paragraphs)
            var shuffledPage = page
            // Move the chrome blocks' class names around: extraction must not depend on one site's order.
            for name in chrome.prefix(2) { shuffledPage = shuffledPage.replacingOccurrences(of: "class=\"\(name)\"", with: "class=\"\(name) x\(trial)\"") }
            let result = ArticleExtractor().extract(utf8: Array(shuffledPage.utf8))
            // The article's headline belongs to it when the chosen container holds it too.
            let body = paragraphs.joined(separator: "\n\n")
            #expect(result.text == body || result.text == "Trial \(trial)\n\n" + body, "trial \(trial): \(result.text)")
            #expect(ArticleExtractor().extract(utf8: Array(shuffledPage.utf8)) == result)
        }
    }

    @Test("boilerplate is removed: scripts, styles, hidden elements, navigation, cookie banners")
    func boilerplate() {
        let html = """
            <html><body><nav>Home About</nav><div class="cookie-consent">Accept cookies</div>
            <div hidden>hidden words</div><div style="display: none">invisible words</div><span aria-hidden="true">aria words</span>
            <article><p>The article's first paragraph has enough words to be the main text of the page here.</p>
            <script>var x = "script words";</script><style>.a{}</style><noscript>noscript words</noscript>
            <p>The second paragraph also belongs to the article, and it continues for a while, as articles do.</p></article>
            <footer>Copyright words</footer></body></html>
            """
        let text = ArticleExtractor().extract(utf8: Array(html.utf8)).text
        #expect(text == "The article's first paragraph has enough words to be the main text of the page here.\n\nThe second paragraph also belongs to the article, and it continues for a while, as articles do.")
    }

    @Test("whitespace: no-break spaces and runs collapse, <br> breaks a line, <pre> keeps its lines")
    func whitespace() {
        let html = "<html><body><article><p>One\u{00A0}\u{00A0}two   three\n four<br>five</p><pre>line 1\n  line 2  \nline 3</pre><p>A longer closing paragraph so that the article scores as the main block of the page.</p></article></body></html>"
        let text = ArticleExtractor().extract(utf8: Array(html.utf8)).text
        #expect(text == "One two three four\nfive\n\nline 1\n  line 2\nline 3\n\nA longer closing paragraph so that the article scores as the main block of the page.")
    }

    @Test("selectors keep and remove", arguments: [
        ("#main .keep", "kept one\n\nkept two"),
        ("div.keep > p", "kept one"),
        ("[data-role=body]", "data body"),
        ("[data-role^=bo]", "data body"),
        ("section, #main .keep", "kept one\n\nkept two\n\nsection words"),
    ])
    func selectors(selector: String, expected: String) throws {
        let html = "<html><body><div id=main><div class=\"keep other\"><p>kept one</p></div><span class=keep>kept two</span></div><div data-role=body>data body</div><section>section words</section></body></html>"
        let result = ArticleExtractor(select: [try CSSSelector(selector)]).extract(utf8: Array(html.utf8))
        #expect(result.text == expected)
        #expect(result.method == "selectors")
        let removed = ArticleExtractor(select: [try CSSSelector("#main")], remove: [try CSSSelector("span")]).extract(utf8: Array(html.utf8))
        #expect(removed.text == "kept one")
    }

    @Test("unsupported selector syntax is refused by name", arguments: ["p:first-child", "a + b", "", "div >", "[", "a ~ b"])
    func badSelectors(selector: String) {
        #expect(throws: CSSSelector.ParseError.self) { try CSSSelector(selector) }
    }

    @Test("page decoding: BOM, header, <meta>, detection; undecodable bytes named")
    func decoding() throws {
        let cafe = Array("<p>café</p>".unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        #expect(try PageDecoder.decode([0xEF, 0xBB, 0xBF] + Array("<p>x</p>".utf8), contentType: "text/html; charset=windows-1252").source == .byteOrderMark)
        let header = try PageDecoder.decode(cafe, contentType: "text/html; charset=\"ISO-8859-1\"")
        #expect(String(decoding: header.utf8, as: UTF8.self) == "<p>café</p>")
        #expect(header.source == .httpHeader)
        let meta = try PageDecoder.decode(Array("<meta charset=windows-1252>".utf8) + cafe, contentType: "text/html")
        #expect(meta.source == .metaElement)
        #expect(meta.encoding == "windows-1252")
        let detected = try PageDecoder.decode(cafe, contentType: nil)
        #expect(detected.source == .detected)
        #expect(String(decoding: detected.utf8, as: UTF8.self) == "<p>café</p>")
        #expect(try PageDecoder.decode(Array("<p>café</p>".utf8), contentType: nil).encoding == "utf-8")
        do {
            _ = try PageDecoder.decode(cafe, contentType: "text/html; charset=utf-8")
            Issue.record("Latin-1 bytes declared UTF-8 were accepted")
        } catch {
            #expect(error.description == "the body is not valid UTF-8 at byte 6 (encoding from the http-header)")
        }
        // windows-1253 leaves 0xAA undefined (WHATWG's index).
        #expect(throws: PageDecodingError.self) { try PageDecoder.decode(Array("<p>".utf8) + [0xE1, 0xAA, 0xE2], contentType: "text/html; charset=windows-1253") }
    }

    @Test("robots.txt rules (RFC 9309): our group or *, longest match, Allow wins ties, * and $")
    func robots() {
        let rules = RobotsRules(parsing: """
            User-agent: *
            Disallow: /private
            Allow: /private/open
            Disallow: /*.pdf$
            Disallow: /tmp/*/cache

            User-agent: Palimpsest
            User-agent: other
            Disallow: /only-us
            """, agent: "palimpsest")
        #expect(rules.allows("/"))
        #expect(!rules.allows("/only-us/page"))
        #expect(rules.allows("/private"), "our own group replaces the * group")
        let star = RobotsRules(parsing: "User-agent: *\nDisallow: /private\nAllow: /private/open\nDisallow: /*.pdf$\nDisallow: /tmp/*/cache\nDisallow:\n", agent: "palimpsest")
        #expect(!star.allows("/private/x"))
        #expect(star.allows("/private/open/x"))
        #expect(!star.allows("/files/a.pdf"))
        #expect(star.allows("/files/a.pdf?x"))
        #expect(!star.allows("/tmp/a/cache/b"))
        #expect(star.allows("/tmp/a/b"))
        #expect(RobotsRules(parsing: "User-agent: *\nAllow: /p\nDisallow: /p\n", agent: "palimpsest").allows("/p"), "a tie goes to Allow")
        #expect(!RobotsRules.disallowAll.allows("/x"))
        #expect(RobotsRules.allowAll.allows("/x"))
    }
}

@Suite("WARC files and gzip members")
struct WARCTests {
    @Test("records written gzip-per-record read back equal, across rotation; warcio agrees")
    func roundTrip() throws {
        try withTemporaryDirectory { dir in
            let writer = try WARCWriter(directory: dir, software: "test", maxFileBytes: 4096)
            var generator = SeededGenerator(seed: 7)
            var written: [WARCRecord] = []
            for k in 0..<40 {
                let size = Int.random(in: 0...3000, using: &generator)
                let block = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let record = WARCRecord(type: k % 2 == 0 ? "request" : "response", fields: [
                    ("WARC-Record-ID", WARCRecord.newID()), ("WARC-Date", "2026-11-30T12:00:00Z"),
                    ("WARC-Target-URI", "http://example.org/\(k)"), ("WARC-Block-Digest", WARCRecord.digest(block)),
                    ("Content-Type", "application/octet-stream"),
                ], block: block)
                let location = try writer.write([record])[0]
                written.append(record)
                // Each record can be read alone from its offset.
                let reader = try WARCReader(path: dir + "/" + location.file)
                try reader.seek(to: location.offset)
                #expect(try reader.next()?.record == record)
            }
            let files = WARCWriter.files(in: dir)
            #expect(files.count > 5, "rotation by size")
            var read: [WARCRecord] = []
            for file in files {
                let reader = try WARCReader(path: dir + "/" + file)
                while let (record, _) = try reader.next() { if record.type != "warcinfo" { read.append(record) } }
            }
            #expect(read == written)
            for file in files {
                let output = try run("/usr/bin/env", ["python3", "-m", "warcio.cli", "check", dir + "/" + file])
                #expect(output.status == 0, "\(output.out) \(output.err)")
            }
        }
    }

    @Test("withholding a record's payload keeps every other record, its ID, and its original digests")
    func withhold() throws {
        try withTemporaryDirectory { dir in
            let writer = try WARCWriter(directory: dir, software: "test")
            let records = (0..<3).map { k in
                let block = Array("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\nbody \(k)".utf8)
                return WARCRecord(type: "response", fields: [("WARC-Record-ID", WARCRecord.newID()), ("WARC-Date", "2026-11-30T12:00:00Z"),
                                                              ("WARC-Target-URI", "http://example.org/\(k)"), ("WARC-Block-Digest", WARCRecord.digest(block)),
                                                              ("WARC-Payload-Digest", WARCRecord.digest(Array("body \(k)".utf8)))], block: block)
            }
            let file = try writer.write(records)[0].file
            let changed = try writer.rewrite(file: file) { record in
                record.recordID == records[1].recordID ? record.withholdingPayload(marker: "[withheld]", extraFields: [("X-Why", "test")]) : nil
            }
            #expect(changed == 1)
            let reader = try WARCReader(path: dir + "/" + file)
            var after: [WARCRecord] = []
            while let (record, _) = try reader.next() { if record.type == "response" { after.append(record) } }
            #expect(after[0] == records[0])
            #expect(after[2] == records[2])
            #expect(after[1].recordID == records[1].recordID)
            #expect(String(decoding: after[1].block, as: UTF8.self).hasSuffix("\r\n\r\n[withheld]"))
            #expect(!String(decoding: after[1].block, as: UTF8.self).contains("gzip"))
            #expect(after[1]["WARC-Palimpsest-Original-Block-Digest"] == records[1]["WARC-Block-Digest"])
            #expect(WARCRecord.matches(after[1].block, digest: after[1]["WARC-Block-Digest"]!) == true)
            #expect(after[1]["X-Why"] == "test")
            let output = try run("/usr/bin/env", ["python3", "-m", "warcio.cli", "check", dir + "/" + file])
            #expect(output.status == 0, "\(output.out) \(output.err)")
        }
    }

    @Test("digests: sha256 and sha1, base 32 and base 16")
    func digests() {
        let bytes = Array("hello".utf8)
        #expect(WARCRecord.matches(bytes, digest: WARCRecord.digest(bytes)) == true)
        #expect(WARCRecord.matches(bytes, digest: "sha1:VL2MMHO4YXUKFWV63YHTWSBM3GXKSQ2N") == true)
        #expect(WARCRecord.matches(bytes, digest: "sha1:aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d") == true)
        #expect(WARCRecord.matches(bytes, digest: "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == false)
        #expect(WARCRecord.matches(bytes, digest: "md5:abc") == nil)
    }

    @Test("inflating stops at the limit; members follow one another; corrupt data is named")
    func inflate() throws {
        let text = Array(String(repeating: "abc ", count: 10_000).utf8)
        let two = Gzip.member(text) + Gzip.member(Array("tail".utf8))
        #expect(try Gzip.inflate(two, limit: 1 << 20) == text + Array("tail".utf8))
        #expect(throws: Gzip.Failure.self) { try Gzip.inflate(Gzip.member(text), limit: 1000) }
        do {
            _ = try Gzip.inflate(Gzip.member(text), limit: 1000)
        } catch {
            #expect(error.overLimit)
        }
        var corrupt = Gzip.member(text)
        corrupt[20] ^= 0xFF
        #expect(throws: Gzip.Failure.self) { try Gzip.inflate(corrupt, limit: 1 << 20) }
        #expect(throws: Gzip.Failure.self) { try Gzip.inflate(Array(Gzip.member(text).dropLast(10)), limit: 1 << 20) }
    }
}
