import Foundation
import PalimpsestTestSupport
import Testing

@Suite("watch lists, import warc, feeds, extract, and redacting captures")
struct WatchAndArchiveTests {
    @Test("a watch list of three pages, run --once twice around an edit")
    func watchOnceTwice() throws {
        try CaptureFixture.with { f in
            let wh = try Texts.whiteHouse, mx = try Texts.mexico
            try f.server.put("communique.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst())))
            try f.server.put("sre.html", CaptureServer.page(title: mx[0], paragraphs: Array(mx.dropFirst()), lang: "es"))
            try f.server.put("notice.html", CaptureServer.page(title: "Notice", paragraphs: ["The office will be closed on the 1st of January, and will reopen on the 2nd at nine."]))
            let list = f.ledger + "/../list.toml"
            try """
                contact = "desk@example.org"
                actor = "newsroom"
                delay = "0s"

                [[page]]
                url = "\(f.server.url("communique"))"
                doc = "whitehouse/communique"
                select = [".body-content"]

                [[page]]
                url = "\(f.server.url("sre"))"
                doc = "sre/communique"
                variant-of = "whitehouse/communique"

                [[page]]
                url = "\(f.server.url("notice"))"
                remove = ".share-links"
                """.write(toFile: list, atomically: true, encoding: .utf8)
            let first = try f.run(["watch", list, "--once", "--json"])
            #expect(first.status == 0, "\(first.err)")
            #expect(try schemaViolations([first.out], schema: "capture-output.schema.json") == nil)
            let summary1 = try #require(try f.json(first)["summary"] as? [String: Any])
            #expect(summary1["changed"] as? Int == 3)
            #expect(summary1["fetched"] as? Int == 3)

            try f.server.put("communique.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst()).map { $0.replacingOccurrences(of: "democratic decline, ", with: "") }))
            let second = try f.run(["watch", list, "--once"])
            #expect(second.status == 0)
            #expect(second.out.contains("3 pages, fetched 3, changed 1, unchanged 2, failed 0"), "\(second.out)")
            #expect(second.out.contains("edited              whitehouse/communique (version 2"))

            let events = try f.events()
            #expect(events.count == 4)
            #expect(events.allSatisfy { $0["actor"] as? String == "newsroom" })
            #expect(events[1]["variantOf"] as? String == "whitehouse/communique")
            #expect(events[1]["language"] as? String == "es")
            let removed = try f.run(["removed", "democratic decline", "--doc", "whitehouse/communique", "--json"])
            #expect((try f.json(removed)["removals"] as? [[String: Any]])?.first?["version"] as? Int == 2)
            // The User-Agent named the contact (the WARC request records say so).
            let requests = try run("/usr/bin/env", ["sh", "-c", "zcat \(f.ledger)/warc/*.warc.gz | grep -a '^User-Agent:' | sort -u"]).out
            #expect(requests.contains("desk@example.org"))
            try f.verifyOK()
        }
    }

    @Test("watch keeps going until interrupted, then prints its summary")
    func watchUntilInterrupted() throws {
        try CaptureFixture.with { f in
            try f.server.put("page.html", CaptureServer.page(title: "Page", paragraphs: try Texts.mexico))
            let list = f.ledger + "/../list.json"
            try #"{"delay": "0s", "every": "300ms", "pages": [{"url": "\#(f.server.url("page"))"}]}"#.write(toFile: list, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: palimpsestExecutable)
            process.arguments = ["--ledger", f.ledger, "watch", list]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Bounded wait for three rounds (about a second), then Ctrl-C.
            let deadline = Date().addingTimeInterval(20)
            while f.server.requests().filter({ $0.path == "/page" }).count < 3 && Date() < deadline { usleep(50_000) }
            process.interrupt()
            #expect(waitForExit(process, seconds: 20), "watch did not stop on SIGINT")
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0)
            #expect(text.contains("stopped by an interrupt"), "\(text)")
            #expect(f.server.requests().filter { $0.path == "/page" }.count >= 3)
            #expect(try f.events().count == 1, "one publish; the later rounds were unchanged")
        }
    }

    @Test("bad watch lists: named, exit 2, ledger untouched", arguments: [
        ("bad.toml", "url = \"http://a/\"\n[[page]\n", "is not valid TOML at line"),
        ("empty.toml", "contact = \"x\"\n", "names no pages"),
        ("nourl.toml", "[[page]]\ndoc = \"x\"\n", "lacks \"url\""),
        ("scheme.toml", "[[page]]\nurl = \"file:///etc/passwd\"\n", "is not an http or https URL"),
        ("every.toml", "every = \"often\"\n[[page]]\nurl = \"http://a/\"\n", "is not a duration"),
        ("selector.toml", "[[page]]\nurl = \"http://a/\"\nselect = [\"p:hover\"]\n", "pseudo-class"),
        ("bad.json", "{\"pages\": [{\"url\": 3}]}", "wrong type"),
    ])
    func badWatchLists(name: String, contents: String, message: String) throws {
        try CaptureFixture.with { f in
            let path = f.ledger + "/../" + name
            try contents.write(toFile: path, atomically: true, encoding: .utf8)
            let before = try f.snapshot()
            let output = try f.run(["watch", path, "--once"])
            #expect(output.status == 2)
            #expect(output.err.contains(message), "\(output.err)")
            #expect(output.err.contains(name))
            #expect(try f.snapshot() == before)
            let missing = try f.run(["watch", f.ledger + "/../missing.toml", "--once"])
            #expect(missing.status == 2)
            #expect(missing.err.contains("cannot read the watch list"))
        }
    }

    @Test("import warc: a WARC made by wget --warc-file against the server, its events checked against the pages served")
    func importWget() throws {
        try CaptureFixture.with { f in
            let wh = try Texts.whiteHouse, mx = try Texts.mexico
            try f.server.put("communique.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst())))
            try f.server.put("sre.html", CaptureServer.page(title: mx[0], paragraphs: Array(mx.dropFirst())))
            let dir = f.ledger + "/../wget"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let wget1 = try run("/usr/bin/env", ["wget", "-q", "--warc-file=first", f.server.url("communique"), f.server.url("sre"), f.server.url("pdf"), f.server.url("gone")], directory: dir)
            #expect(wget1.status == 0 || wget1.status == 8, "wget: \(wget1.err)")  // 8: the 404 of /gone
            // The page loses the phrase; a second crawl, then the page disappears: a third.
            try f.server.put("communique.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst()).map { $0.replacingOccurrences(of: "democratic decline, ", with: "") }))
            Thread.sleep(forTimeInterval: 1.1)  // WARC-Date has whole seconds: keep the crawls in order
            _ = try run("/usr/bin/env", ["wget", "-q", "--warc-file=second", f.server.url("communique")], directory: dir)
            try f.server.setStatus("sre", 410)
            Thread.sleep(forTimeInterval: 1.1)
            _ = try run("/usr/bin/env", ["wget", "-q", "--warc-file=third", f.server.url("sre")], directory: dir)

            let output = try f.run(["import", "warc", dir + "/third.warc.gz", dir + "/first.warc.gz", dir + "/second.warc.gz", "--json"])
            #expect(output.status == 0, "\(output.err)")
            #expect(try schemaViolations([output.out], schema: "import-warc-summary.schema.json") == nil)
            let summary = try f.json(output)
            #expect(summary["published"] as? Int == 2)
            #expect(summary["edited"] as? Int == 1)
            #expect(summary["retracted"] as? Int == 1)
            #expect(summary["absent"] as? Int == 1)
            #expect((summary["skippedByType"] as? [String: Int])?["request"] == 6)

            let events = try f.events()
            #expect(events.map { $0["type"] as? String } == ["published", "published", "edited", "retracted"])
            let communique = "127.0.0.1:\(f.server.port)/communique"
            #expect(events[0]["document"] as? String == communique)
            #expect(try f.run(["show", communique, "--version", "1"]).out.contains(wh[1]))
            let removed = try f.run(["removed", "democratic decline", "--json"])
            #expect((try f.json(removed)["removals"] as? [[String: Any]])?.first?["version"] as? Int == 2)
            #expect(events[3]["kind"] as? String == "not-found")
            try f.verifyOK()

            // A second import adds nothing.
            let again = try f.run(["import", "warc", dir + "/first.warc.gz", dir + "/second.warc.gz", dir + "/third.warc.gz", "--json"])
            #expect(try f.json(again)["alreadyRecorded"] as? Int == 4)
            #expect(try f.events().count == 4)
        }
    }

    @Test("import warc resolves revisit records, skips what is not HTML, and keeps time order across files")
    func revisits() throws {
        try CaptureFixture.with { f in
            let dir = f.ledger + "/../made"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let page = CaptureServer.page(title: "Archived", paragraphs: try Texts.mexico)
            try page.write(toFile: dir + "/page.html", atomically: true, encoding: .utf8)
            // Written with warcio, as an archive made elsewhere would be: a response, a revisit of it
            // for the same URI (identical payload), a revisit under another URI, an image, a resource.
            let script = """
                import io, sys
                from warcio.warcwriter import WARCWriter
                from warcio.statusandheaders import StatusAndHeaders
                html = open(sys.argv[1] + '/page.html', 'rb').read()
                def write(name, records):
                    with open(sys.argv[1] + '/' + name, 'wb') as out:
                        w = WARCWriter(out, gzip=name.endswith('.gz'))
                        for r in records(w): w.write_record(r)
                refs = {}
                def first(w):
                    head = StatusAndHeaders('200 OK', [('Content-Type', 'text/html; charset=utf-8')], protocol='HTTP/1.1')
                    r = w.create_warc_record('https://example.org/a', 'response', payload=io.BytesIO(html), http_headers=head,
                                             warc_headers_dict={'WARC-Date': '2024-01-01T10:00:00Z'})
                    refs['id'] = r.rec_headers.get_header('WARC-Record-ID'); refs['digest'] = r.rec_headers.get_header('WARC-Payload-Digest')
                    png = StatusAndHeaders('200 OK', [('Content-Type', 'image/png')], protocol='HTTP/1.1')
                    yield r
                    yield w.create_warc_record('https://example.org/logo.png', 'response', payload=io.BytesIO(b'\\x89PNG'), http_headers=png,
                                               warc_headers_dict={'WARC-Date': '2024-01-01T10:00:01Z'})
                    yield w.create_warc_record('https://example.org/notes.txt', 'resource', payload=io.BytesIO(b'notes'),
                                               warc_headers_dict={'WARC-Date': '2024-01-01T10:00:02Z', 'Content-Type': 'text/plain'})
                def second(w):
                    for uri, date in (('https://example.org/a', '2024-01-02T10:00:00Z'), ('https://example.org/b', '2024-01-03T10:00:00Z')):
                        head = StatusAndHeaders('200 OK', [('Content-Type', 'text/html; charset=utf-8')], protocol='HTTP/1.1')
                        yield w.create_revisit_record(uri, refs['digest'], 'https://example.org/a', '2024-01-01T10:00:00Z', http_headers=head,
                                                      warc_headers_dict={'WARC-Date': date, 'WARC-Refers-To': refs['id']})
                write('first.warc.gz', first)
                write('second.warc', second)
                """
            let made = try run("/usr/bin/env", ["python3", "-c", script, dir])
            #expect(made.status == 0, "\(made.err)")
            // The later file first on the command line: the import still goes by WARC-Date.
            let output = try f.run(["import", "warc", dir + "/second.warc", dir + "/first.warc.gz", "--json"])
            #expect(output.status == 0, "\(output.err)")
            let summary = try f.json(output)
            #expect(summary["published"] as? Int == 2)
            #expect(summary["unchanged"] as? Int == 1)
            #expect(summary["skippedPayloads"] as? Int == 1)
            #expect((summary["skippedByType"] as? [String: Int])?["resource"] == 1)
            let events = try f.events()
            #expect(events.map { $0["document"] as? String } == ["example.org/a", "example.org/b"])
            #expect(events.map { $0["at"] as? String } == ["2024-01-01T10:00:00Z", "2024-01-03T10:00:00Z"])
            let metadata = try #require(events[1]["metadata"] as? [String: String])
            #expect(metadata["warc.refersTo"]?.isEmpty == false)
            #expect(try f.run(["show", "example.org/b"]).out.contains(try Texts.mexico[1]))
            try f.verifyOK()
        }
    }

    @Test("truncated and corrupt WARC files are refused by file and byte offset; the events before stay")
    func damagedWARC() throws {
        try CaptureFixture.with { f in
            try f.server.put("communique.html", CaptureServer.page(title: "Communique", paragraphs: try Texts.whiteHouse))
            try f.server.put("sre.html", CaptureServer.page(title: "SRE", paragraphs: try Texts.mexico))
            let dir = f.ledger + "/../wget"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = try run("/usr/bin/env", ["wget", "-q", "--warc-file=good", f.server.url("communique")], directory: dir)
            _ = try run("/usr/bin/env", ["wget", "-q", "--no-warc-compression", "--warc-file=plain", f.server.url("sre")], directory: dir)
            let plain = try #require(FileManager.default.contents(atPath: dir + "/plain.warc"))
            // Truncated in the middle of a record.
            let truncated = dir + "/truncated.warc"
            try plain.prefix(plain.count - 200).write(to: URL(fileURLWithPath: truncated))
            // Garbage where the second record should start.
            let text = [UInt8](plain)
            let second = try #require(WARCChecks.offsets(of: Array("WARC/1.0".utf8), in: text).dropFirst().first)
            var corrupt = text
            corrupt.replaceSubrange(second..<(second + 8), with: Array("GARBAGE!".utf8))
            try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/corrupt.warc"))
            // A gzip file whose data is damaged.
            var gz = [UInt8](try #require(FileManager.default.contents(atPath: dir + "/good.warc.gz")))
            for k in 200..<260 { gz[k] ^= 0x5A }
            try Data(gz).write(to: URL(fileURLWithPath: dir + "/damaged.warc.gz"))

            let t = try f.run(["import", "warc", dir + "/good.warc.gz", truncated])
            #expect(t.status == 2)
            #expect(t.err.contains("truncated.warc"))
            #expect(t.err.contains("is truncated"))
            #expect(t.err.range(of: "at byte [0-9]+", options: .regularExpression) != nil, "\(t.err)")
            let c = try f.run(["import", "warc", dir + "/corrupt.warc"])
            #expect(c.status == 2)
            #expect(c.err.contains("corrupt.warc: no WARC record at byte \(second)"), "\(c.err)")
            let d = try f.run(["import", "warc", dir + "/damaged.warc.gz"])
            #expect(d.status == 2)
            #expect(d.err.contains("damaged.warc.gz"), "\(d.err)")
            let missing = try f.run(["import", "warc", dir + "/nothing.warc"])
            #expect(missing.status == 1)
            // The files are indexed before anything is recorded: a damaged one refuses the whole import.
            #expect(try f.events().isEmpty)
            let good = try f.run(["import", "warc", dir + "/good.warc.gz"])
            #expect(good.status == 0)
            #expect(try f.events().count == 1)
            try f.verifyOK()
        }
    }

    @Test("feed: Atom with one entry per change, the diff struck through and marked")
    func feed() throws {
        try CaptureFixture.with { f in
            let wh = try Texts.whiteHouse
            try f.server.put("c.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst())))
            _ = try f.capture([f.server.url("c"), "--doc", "wh/c"])
            try f.server.put("c.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst()).map { $0.replacingOccurrences(of: "democratic decline, ", with: "") }))
            _ = try f.capture([f.server.url("c"), "--doc", "wh/c"])
            try f.server.setStatus("c", 404)
            _ = try f.capture([f.server.url("c"), "--doc", "wh/c"])
            let out = f.ledger + "/../feed.xml"
            let output = try f.run(["feed", "wh/c", "--out", out])
            #expect(output.status == 0, "\(output.err)")
            let script = """
                import sys, xml.etree.ElementTree as ET
                ns = {'a': 'http://www.w3.org/2005/Atom'}
                root = ET.parse(sys.argv[1]).getroot()
                for e in root.findall('a:entry', ns):
                    print(e.find('a:title', ns).text + '|' + e.find('a:author/a:name', ns).text + '|' + e.find('a:link', ns).get('href') + '|' + e.find('a:content', ns).text.replace('\\n', ' '))
                """
            let parsed = try run("/usr/bin/env", ["python3", "-c", script, out])
            #expect(parsed.status == 0, "\(parsed.err)")
            let entries = parsed.out.split(separator: "\n").map(String.init)
            #expect(entries.count == 3)
            #expect(entries[0].hasPrefix("wh/c: retracted, version 3|palimpsest-capture|\(f.server.url("c"))|"))
            #expect(entries[1].hasPrefix("wh/c: edited, version 2|"))
            #expect(entries[1].contains("<del>democratic decline, </del>") || entries[1].contains("<del>democratic decline,</del>"), "\(entries[1])")
            #expect(entries[2].hasPrefix("wh/c: published, version 1|"))
            let all = try f.run(["feed", "--prefix", "", "--limit", "1", "--base-url", "http://127.0.0.1:8750/", "--out", "-"])
            #expect(all.out.components(separatedBy: "<entry>").count == 2)
            #expect(all.out.contains("<link rel=\"alternate\" href=\"http://127.0.0.1:8750/events/3\"/>"))
            let missing = try f.run(["feed", "nope", "--out", "-"])
            #expect(missing.status == 1)
            #expect(missing.err.contains("no document \"nope\""))
        }
    }

    @Test("extract prints what capture would record; selectors narrow it")
    func extract() throws {
        try withTemporaryDirectory { dir in
            let mx = try Texts.mexico
            let path = dir + "/page.html"
            try CaptureServer.page(title: mx[0], paragraphs: Array(mx.dropFirst())).write(toFile: path, atomically: true, encoding: .utf8)
            let plain = try palimpsest(["extract", path])
            #expect(plain.status == 0)
            #expect(plain.out.hasPrefix(mx[1]))
            #expect(!plain.out.contains("cookies"))
            let json = try palimpsest(["extract", path, "--json", "--url", "https://gob.mx/x"])
            let object = try #require(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
            #expect(object["method"] as? String == "scored")
            #expect(object["encoding"] as? String == "utf-8")
            #expect(object["charsetSource"] as? String == "meta-element")
            #expect(object["title"] as? String == "\(mx[0]) | Example Office")
            #expect(try schemaViolations([json.out], schema: "extract-output.schema.json") == nil)
            let selected = try palimpsest(["extract", path, "--select", "footer p", "--json"])
            let selectedObject = try #require(try JSONSerialization.jsonObject(with: selected.stdout) as? [String: Any])
            #expect(selectedObject["method"] as? String == "selectors")
            // The footer is boilerplate to the scorer, but a selector the user gave wins.
            let removedFooter = try palimpsest(["extract", path, "--select", "article", "--remove", ".byline, h1"])
            #expect(removedFooter.out.hasPrefix(mx[1]))
            // The same page twice gives the same bytes.
            #expect(try palimpsest(["extract", path]).stdout == plain.stdout)
            let missing = try palimpsest(["extract", dir + "/none.html"])
            #expect(missing.status == 1)
        }
    }

    @Test("redacting a captured text replaces its WARC record's block; verify accepts it only under the redaction")
    func redactCapture() throws {
        try CaptureFixture.with { f in
            let wh = try Texts.whiteHouse
            try f.server.put("c.html", CaptureServer.page(title: wh[0], paragraphs: Array(wh.dropFirst())))
            _ = try f.capture([f.server.url("c"), "--doc", "wh/c"])
            try f.server.put("d.html", CaptureServer.page(title: "Other", paragraphs: try Texts.mexico))
            _ = try f.capture([f.server.url("d"), "--doc", "other"])
            let redact = try f.run(["redact", "wh/c", "--version", "1", "--phrase", "democratic decline", "--reason", "court order", "--actor", "legal"])
            #expect(redact.status == 0, "\(redact.err)")
            let raw = try run("/usr/bin/env", ["sh", "-c", "zcat \(f.ledger)/warc/*.warc.gz"]).out
            #expect(!raw.contains("democratic decline"), "the raw capture no longer holds the words")
            #expect(raw.contains("WARC-Palimpsest-Redacted-By: 3"))
            let otherPage = String(try Texts.mexico[1].prefix(40))
            #expect(raw.contains(otherPage), "the other page's record is untouched")
            let verify = try f.run(["verify", "--json"])
            #expect(verify.status == 0, "\(verify.out)")
            #expect(try f.json(verify)["capturedRecords"] as? Int == 2)
            try WARCChecks.warcioCheck(directory: f.ledger + "/warc")

            // Tampering with an unredacted record's bytes is caught.
            let file = try #require(try WARCChecks.warcFiles(f.ledger + "/warc").first)
            let records = try WARCChecks.rewrite(file: file, replacing: "Blinken", with: "Blinkin")
            #expect(records > 0)
            let tampered = try f.run(["verify"])
            #expect(tampered.status == 4)
            #expect(tampered.err.contains("does not have the digest the event cites"), "\(tampered.err)")
        }
    }
}

extension WARCChecks {
    static func offsets(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard haystack.count >= needle.count else { return [] }
        return (0...(haystack.count - needle.count)).filter { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// Rewrites a WARC file's response blocks through `change` with warcio (a tamperer's tool),
    /// keeping each record's headers (and so its now-wrong digests); returns how many changed.
    static func rewrite(file: String, replacing needle: String, with replacement: String) throws -> Int {
        let script = """
            import sys, io
            from warcio.archiveiterator import ArchiveIterator
            from warcio.warcwriter import WARCWriter
            path, needle, replacement = sys.argv[1], sys.argv[2], sys.argv[3]
            out = io.BytesIO(); writer = WARCWriter(out, gzip=True); changed = 0
            with open(path, 'rb') as f:
                for r in ArchiveIterator(f, no_record_parse=True):
                    body = r.content_stream().read()
                    if needle.encode() in body:
                        body = body.replace(needle.encode(), replacement.encode()); changed += 1
                    r.rec_headers.replace_header('Content-Length', str(len(body)))
                    writer.write_record(writer.create_warc_record(r.rec_headers.get_header('WARC-Target-URI'), r.rec_type, payload=io.BytesIO(body), warc_headers=r.rec_headers, length=len(body)))
            open(path, 'wb').write(out.getvalue()); print(changed)
            """
        let output = try run("/usr/bin/env", ["python3", "-c", script, file, needle, replacement])
        #expect(output.status == 0, "\(output.err)")
        return Int(output.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}
