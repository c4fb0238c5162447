import Crypto
import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// `palimpsest serve` as a reader meets it: a real server process on 127.0.0.1, real requests
/// (curl), a real browser (headless Chromium), and Go's reference transparency-log packages.
@Suite(.serialized) struct ServeTests {
    static let wh = "whitehouse.gov/briefing-room/2023/12/28/joint-communique"
    static let mx = "sre.gob.mx/joint-press-release-2023-12-28"

    func cli(_ ledger: String, _ args: String..., stdin: String? = nil) throws -> ProcessOutput {
        try palimpsest(["--ledger", ledger] + args, input: Data((stdin ?? "").utf8))
    }

    /// The demo ledger (the communiqué's story), checkpointed, served.
    func withDemo<R>(_ extra: [String] = [], _ body: (String, ServedLedger) throws -> R) throws -> R {
        try withTemporaryDirectory { dir in
            let ledger = dir + "/ledger"
            #expect(try cli(ledger, "demo").status == 0)
            #expect(try cli(ledger, "checkpoint").status == 0)
            let server = try ServedLedger(ledger: ledger, extraArguments: extra)
            defer { server.stop() }
            return try body(ledger, server)
        }
    }

    static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))!
    }

    @Test func pagesShowTheStory() throws {
        try withDemo { ledger, server in
            let catalogue = try server.request("/")
            #expect(catalogue.status == 200)
            for id in [Self.wh, Self.mx] { #expect(catalogue.text.contains("href=\"/documents/\(Self.segment(id))\"")) }
            #expect(catalogue.headers["content-security-policy"]?.contains("default-src 'none'") == true)
            let searched = try server.request("/?q=sre.gob&sort=versions")
            #expect(searched.text.contains(Self.mx) && !searched.text.contains(">\(Self.wh)<"))

            let doc = "/documents/" + Self.segment(Self.wh)
            let history = try server.request(doc)
            #expect(history.status == 200 && history.text.contains("class=\"day s") && history.text.contains("\(doc)/versions/2"))

            let v1 = try server.request(doc + "/versions/1")
            #expect(v1.status == 200 && v1.text.contains("democratic decline"))
            let log = try JSONParser.parse(try cli(ledger, "log", Self.wh, "--json").out.trimmingCharacters(in: .newlines))
            guard case .array(let events)? = log["events"] else { Issue.record("no events"); return }
            #expect(v1.text.contains(events[0]["hash"]?.stringValue ?? "missing"))
            let v2 = try server.request(doc + "/versions/2")
            #expect(!v2.text.contains("democratic decline"))

            let diff = try server.request(doc + "/diff?from=1&to=2")
            #expect(diff.status == 200 && diff.text.contains("<del>democratic decline, </del>"))
            let side = try server.request(doc + "/diff?from=1&to=2&view=side")
            #expect(side.text.contains("class=\"side\"") && side.text.contains("<del>democratic decline, </del>"))

            let blame = try server.request(doc + "/blame")
            #expect(blame.status == 200 && blame.text.contains("The White House") && blame.text.contains("data-origin=\"v1 · 2023-12-28T15:00:00Z · The White House\""))

            let phrase = try server.request("/phrase?q=democratic+decline")
            #expect(phrase.status == 200 && phrase.text.contains("Removed in <a href=\"\(doc)\">") && phrase.text.contains("<del>democratic decline</del>"))

            let compare = try server.request("/compare?a=\(Self.segment(Self.wh))&b=\(Self.segment(Self.mx))")
            #expect(compare.status == 200 && compare.text.contains("<table id=\"comparison\">") && compare.text.contains("only in the first"))

            let event = try server.request("/events/1")
            #expect(event.status == 200 && event.text.contains("The proof is valid"))
            let missing = try server.request("/documents/nope/versions/1")
            #expect(missing.status == 404 && missing.text.contains("there is no document &quot;nope&quot; in the ledger"))
        }
    }

    @Test func apiAnswersWhatTheCLIPrints() throws {
        try withDemo { ledger, server in
            let id = Self.segment(Self.wh)
            let pairs: [(String, [String])] = [
                ("/api/v1/documents", ["docs", "--json"]),
                ("/api/v1/documents/\(id)/versions/1", ["show", Self.wh, "--version", "1", "--json"]),
                ("/api/v1/documents/\(id)/diff?from=1&to=2", ["diff", Self.wh, "1", "2", "--json"]),
                ("/api/v1/compare?a=\(id)&b=\(Self.segment(Self.mx))", ["compare", Self.wh, Self.mx, "--json"]),
                ("/api/v1/removed?phrase=democratic%20decline", ["removed", "democratic decline", "--json"]),
                ("/api/v1/trace?phrase=democratic+decline", ["trace", "democratic decline", "--json"]),
                ("/api/v1/documents/\(id)/blame?runs=true", ["blame", Self.wh, "--json", "--runs"]),
                ("/api/v1/stats", ["stats", "--json"]),
            ]
            for (path, command) in pairs {
                let reply = try server.request(path)
                #expect(reply.status == 200, "\(path): \(reply.text)")
                #expect(reply.text == (try palimpsest(["--ledger", ledger] + command).out), "\(path) differs from \(command)")
            }
            // A version is cached and revalidated by its ETag.
            let first = try server.request("/api/v1/documents/\(id)/versions/1")
            let etag = try #require(first.headers["etag"])
            #expect(first.headers["cache-control"]?.contains("max-age") == true)
            #expect(try server.request("/api/v1/documents/\(id)/versions/1", headers: ["If-None-Match: \(etag)"]).status == 304)
            // The log a page at a time.
            let page1 = try JSONParser.parse(try server.request("/api/v1/log?limit=2").text.trimmingCharacters(in: .newlines))
            let next = try #require(page1["next"]?.intValue)
            let page2 = try JSONParser.parse(try server.request("/api/v1/log?limit=2&after=\(next)").text.trimmingCharacters(in: .newlines))
            guard case .array(let events1)? = page1["events"], case .array(let events2)? = page2["events"] else { Issue.record("no events"); return }
            #expect(events1.count == 2 && events1[1]["position"] == 2 && events2[0]["position"] == 3 && page2["next"] == .null)
            // Errors: the CLI's sentence and exit code.
            for (path, status, code, words) in [
                ("/api/v1/documents/nope/versions/1", 404, 1, "there is no document \"nope\""),
                ("/api/v1/documents/\(id)/versions/9", 404, 1, "there is no version 9"),
                ("/api/v1/documents/\(id)/versions/x", 400, 2, "must be a number"),
                ("/api/v1/documents/\(id)/blame?version=9", 404, 1, "there is no version 9"),
                ("/api/v1/documents/\(id)/diff?from=0", 400, 2, "must be a version"),
                ("/api/v1/removed", 400, 2, "give the phrase"),
                ("/api/v1/log?since=yesterday", 400, 2, "not an ISO 8601 time"),
            ] {
                let reply = try server.request(path)
                let body = try JSONParser.parse(reply.text.trimmingCharacters(in: .newlines))
                #expect(reply.status == status && body["code"]?.intValue == Int64(code) && body["error"]?.stringValue?.contains(words) == true, "\(path): \(reply.status) \(reply.text)")
            }
            // A report over HTTP, scoped to version 2: laid out as the CLI writes it, checked offline.
            try withTemporaryDirectory { dir throws in
                let report = try server.request("/api/v1/reports/\(id)?fromVersion=2&toVersion=2")
                #expect(report.status == 200 && report.text.hasPrefix("{\n"))
                try report.text.write(toFile: dir + "/r.json", atomically: true, encoding: .utf8)
                let key = try palimpsest("--ledger", ledger, "checkpoint", "--public-key").out.trimmingCharacters(in: .whitespacesAndNewlines)
                let verified = try verifyReport(dir + "/r.json", publicKey: key)
                #expect(verified.status == 0 && verified.out.contains("versions 2 to 2 with no version missing"), "\(verified.out)")
            }
            for (path, words) in [("/api/v1/reports/\(id)?fromVersion=2", "give fromVersion and toVersion together"), ("/api/v1/reports/\(id)?fromVersion=2&toVersion=1", "fromVersion 2 is after toVersion 1")] {
                let reply = try server.request(path)
                #expect(reply.status == 400 && reply.text.contains(words), "\(path): \(reply.text)")
            }
            // The OpenAPI document is served and names every path.
            let openAPI = try JSONParser.parse(try server.request("/api/v1/openapi.json").text)
            #expect(openAPI["openapi"] == "3.1.0" && openAPI["paths"]?["/api/v1/documents/{document}/versions/{version}"] != nil)
            // Feeds.
            let feed = try server.request("/feed/\(id)")
            #expect(feed.status == 200 && feed.headers["content-type"]?.hasPrefix("application/atom+xml") == true && feed.text.contains("democratic decline"))
            #expect(try server.request("/feed?prefix=sre.gob.mx").text.contains(Self.mx))
        }
    }

    /// schemathesis (PyPI) generates requests from the served OpenAPI document — valid and invalid
    /// parameters, undeclared methods — and checks every answer against the document: status codes,
    /// content types, the response schemas (Schemas/*.json), 405 with Allow for other methods.
    @Test func theAPIConformsToItsOpenAPIDocument() throws {
        guard (try? run("/usr/bin/env", ["python3", "-c", "import schemathesis"]))?.status == 0 else {
            Issue.record("schemathesis is not installed (tools/setup installs it)")
            return
        }
        try withDemo { _, server throws in
            let head = try server.request("/", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == String(try server.request("/").body.count), "HEAD says the GET answer's length")
            let other = try server.request("/api/v1/documents", method: "DELETE")
            #expect(other.status == 405 && other.headers["allow"] == "GET, HEAD")
            let result = try run("/usr/bin/env", [
                "python3", "-m", "schemathesis.cli", "run", server.base + "/api/v1/openapi.json", "--url", server.base, "--checks", "all",
                "--max-examples", "15", "--seed", "42", "--include-method", "GET", "--suppress-health-check=filter_too_much",
            ], environment: ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""]) { $1 })
            #expect(result.status == 0, "\(result.out.suffix(4000))")
            #expect(result.out.contains("passed") && !result.out.contains("failed"), "\(result.out.suffix(4000))")
        }
    }

    @Test func writesNeedTheTokenAndLeaveTheLedgerAsItWasOnBadInput() throws {
        try withDemo { ledger, readOnly throws in
            let line = #"{"type":"publish","doc":"new/doc","actor":"api","at":"2024-01-01T00:00:00Z","text":"Hello.","id":"6f1e3c52-3f0a-4c43-9a0e-2f1a6b1f7f00"}"#
            #expect(try readOnly.request("/api/v1/events", method: "POST", body: Data(line.utf8)).status == 405)
        }
        try withTemporaryDirectory { dir in
            let ledger = dir + "/ledger"
            #expect(try cli(ledger, "demo").status == 0)
            let token = "s3cret-token-" + UUID().uuidString
            try Data(token.utf8).write(to: URL(fileURLWithPath: dir + "/token"))
            let server = try ServedLedger(ledger: ledger, extraArguments: ["--allow-writes", "--token-file", dir + "/token"])
            defer { server.stop() }
            let line = #"{"type":"publish","doc":"new/doc","actor":"api","at":"2024-01-01T00:00:00Z","text":"Hello.","id":"6f1e3c52-3f0a-4c43-9a0e-2f1a6b1f7f00"}"#
            let before = try cli(ledger, "export").out
            #expect(try server.request("/api/v1/events", method: "POST", body: Data(line.utf8)).status == 401)
            #expect(try server.request("/api/v1/events", method: "POST", headers: ["Authorization: Bearer wrong"], body: Data(line.utf8)).status == 403)
            let bad = try server.request("/api/v1/events", method: "POST", headers: ["Authorization: Bearer \(token)"], body: Data(#"{"type":"publish","doc":"x"}"#.utf8))
            #expect(bad.status == 400 && bad.text.contains("\"code\":2"))
            #expect(try cli(ledger, "export").out == before)
            let big = try server.request("/api/v1/events", method: "POST", headers: ["Authorization: Bearer \(token)"], body: Data(repeating: 0x20, count: 17 << 20))
            #expect(big.status == 413)
            let created = try server.request("/api/v1/events", method: "POST", headers: ["Authorization: Bearer \(token)"], body: Data(line.utf8))
            #expect(created.status == 201, "\(created.text)")
            let again = try server.request("/api/v1/events", method: "POST", headers: ["Authorization: Bearer \(token)"], body: Data(line.utf8))
            #expect(again.status == 200 && again.text.contains("\"recorded\":false"))
            let stale = #"{"type":"edit","doc":"new/doc","actor":"api","at":"2024-01-02T00:00:00Z","text":"Bye.","expectedVersion":0}"#
            #expect(try server.request("/api/v1/events", method: "POST", headers: ["Authorization: Bearer \(token)"], body: Data(stale.utf8)).status == 409)
            // Another process appends meanwhile; the server shows it without a restart.
            #expect(try cli(ledger, "edit", "new/doc", "--actor", "cli", stdin: "Hello again.").status == 0)
            #expect(try server.request("/api/v1/documents/new%2Fdoc/versions/2").text.contains("Hello again."))
        }
    }

    @Test func badServeOptionsAreRefusedInOneSentence() throws {
        try withTemporaryDirectory { dir in
            let ledger = dir + "/ledger"
            #expect(try cli(ledger, "init").status == 0)
            try Data("short".utf8).write(to: URL(fileURLWithPath: dir + "/short"))
            for (arguments, code, words) in [
                (["serve", "--listen", "nonsense"], Int32(2), "--listen \"nonsense\" is not HOST:PORT"),
                (["serve", "--listen", "127.0.0.1:70000"], 2, "is not HOST:PORT"),
                (["serve", "--allow-writes"], 2, "--allow-writes needs --token-file FILE"),
                (["serve", "--token-file", dir + "/short"], 2, "--token-file goes with --allow-writes"),
                (["serve", "--allow-writes", "--token-file", dir + "/missing"], 2, "the token file \(dir)/missing cannot be read"),
                (["serve", "--allow-writes", "--token-file", dir + "/short"], 2, "shorter than 16 characters"),
                (["serve", "--base-url", "ftp://x"], 2, "must start with http:// or https://"),
            ] {
                let result = try palimpsest(["--ledger", ledger] + arguments)
                #expect(result.status == code && result.err.contains(words), "\(arguments): \(result.status) \(result.err)")
            }
            let nowhere = try palimpsest(["--ledger", dir + "/nowhere", "serve"])
            #expect(nowhere.status == 1 && nowhere.err.contains("there is no ledger at \(dir)/nowhere"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere"), "a read-only server created a ledger")
            // The port taken by a running server.
            let server = try ServedLedger(ledger: ledger)
            defer { server.stop() }
            let taken = try palimpsest(["--ledger", ledger, "serve", "--listen", "127.0.0.1:\(server.port)"])
            #expect(taken.status == 2 && taken.err.contains("cannot listen on 127.0.0.1:\(server.port): Address already in use"), "\(taken.err)")
            #expect(taken.err.split(separator: "\n").count == 1)
        }
    }

    @Test func hostileTextIsInertInABrowser() throws {
        try withTemporaryDirectory { dir in
            let ledger = dir + "/ledger"
            #expect(try cli(ledger, "init").status == 0)
            let hostile = """
                <script>document.body.setAttribute("data-pwned","script")</script>
                <img src=x onerror="document.body.setAttribute('data-pwned','img')"> \u{202E}txt.exe <a href="javascript:alert(1)">link</a>
                """
            #expect(try cli(ledger, "publish", "../../etc/passwd", "--actor", "<b>mallory</b>", stdin: hostile).status == 0)
            #expect(try cli(ledger, "edit", "../../etc/passwd", "--actor", "eve\u{202E}", stdin: hostile + "\nmore").status == 0)
            let server = try ServedLedger(ledger: ledger)
            defer { server.stop() }
            let id = Self.segment("../../etc/passwd")
            #expect(id == "..%2F..%2Fetc%2Fpasswd")
            for path in ["/", "/documents/\(id)", "/documents/\(id)/versions/1", "/documents/\(id)/diff", "/documents/\(id)/blame", "/phrase?q=pwned&trace=1", "/events/1"] {
                let reply = try server.request(path)
                #expect(reply.status == 200, "\(path)")
                #expect(!reply.text.contains("<script") && !reply.text.contains("<img") && !reply.text.contains("href=\"javascript:"), "\(path) carries live markup")
                #expect(!reply.text.unicodeScalars.contains("\u{202E}"), "\(path) carries a raw U+202E")
                #expect(reply.headers["content-security-policy"]?.contains("default-src 'none'") == true)
            }
            #expect(try server.request("/documents/..%2F..%2Fetc%2Fpasswd/versions/1").text.contains("&lt;script&gt;"))
            guard HeadlessChromium.executable != nil else { return }
            for path in ["/documents/\(id)/versions/1", "/documents/\(id)/diff?from=1&to=2", "/documents/\(id)/blame"] {
                let dom = try HeadlessChromium.dumpDOM(server.base + path)
                #expect(dom.contains("</body>"), "chromium rendered nothing for \(path)")
                #expect(!dom.contains("<body data-pwned"), "a script ran in \(path)")
            }
        }
    }

    @Test func goReferenceVerifiesCheckpointTilesAndCosignatures() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/go") else {
            Issue.record("Go is not installed (golang-go, golang-golang-x-mod-dev)")
            return
        }
        try withTemporaryDirectory { dir in
            let ledger = dir + "/ledger"
            // 700 events: two full entry tiles, a partial one, and a level-1 tile.
            var lines = ""
            for k in 0..<700 {
                lines += k == 0 ? #"{"type":"publish","doc":"d","actor":"a","at":"2024-01-01T00:00:00Z","text":"v0"}"# : #"{"type":"edit","doc":"d","actor":"a","at":"2024-01-01T00:00:00Z","text":"v\#(k)"}"#
                lines += "\n"
            }
            #expect(try cli(ledger, "init", "--origin", "example.org/palimpsest-test").status == 0)
            #expect(try cli(ledger, "import", "jsonl", "-", stdin: lines).status == 0)
            #expect(try cli(ledger, "checkpoint").status == 0)
            let vkey = try cli(ledger, "checkpoint", "--public-key", "--note-format").out.trimmingCharacters(in: .newlines)
            #expect(vkey.hasPrefix("example.org/palimpsest-test+"))
            let build = try run("/usr/bin/go", ["build", "-o", dir + "/tlog-check", "."],
                environment: ["GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOCACHE": dir + "/gocache", "HOME": dir, "PATH": "/usr/bin:/bin"],
                directory: repositoryRoot.appendingPathComponent("tools/tlog-check").path)
            try #require(build.status == 0, "go build: \(build.err)")

            // A witness cosigns the checkpoint; the ledger verifies and keeps it.
            let witness = Curve25519.Signing.PrivateKey()
            let name = "witness.example/w1"
            let witnessKey = SignedNote.VerifierKey(name: name, algorithm: SignedNote.cosignatureV1, publicKey: Array(witness.publicKey.rawRepresentation))
            #expect(try cli(ledger, "checkpoint", "--add-witness", witnessKey.text).status == 0)
            let note = try SignedNote.Note(parsing: try cli(ledger, "checkpoint", "--note").out)
            let time: UInt64 = 1_700_000_000
            let signature = Array(try witness.signature(for: SignedNote.cosignedMessage(body: note.body, timestamp: time)))
            let cosigned = SignedNote.Note(body: note.body, signatures: note.signatures + [SignedNote.Cosignature(witness: name, keyID: witnessKey.keyID, timestamp: time, signature: signature).signatureLine])
            var forged = cosigned
            forged.signatures[forged.signatures.count - 1].payload[20] ^= 1
            try Data(forged.text.utf8).write(to: URL(fileURLWithPath: dir + "/forged"))
            let refused = try cli(ledger, "checkpoint", "--cosigned", dir + "/forged")
            #expect(refused.status == 2 && refused.err.contains("does not verify"))
            try Data(cosigned.text.utf8).write(to: URL(fileURLWithPath: dir + "/cosigned"))
            #expect(try cli(ledger, "checkpoint", "--cosigned", dir + "/cosigned").status == 0)
            #expect(try cli(ledger, "checkpoint", "--list").out.contains("cosigned by \(name) at 2023-11-14T22:13:20"))
            let listed = try cli(ledger, "checkpoint", "--list", "--json").out
            #expect(try schemaViolations([listed], schema: "checkpoint-output.schema.json") == nil)
            #expect(listed.contains(#""cosignatures":[{"keyId":"\#(Hex.encode(witnessKey.keyID))","time":"2023-11-14T22:13:20Z","timestamp":1700000000,"witness":"\#(name)"}]"#), "\(listed)")

            let server = try ServedLedger(ledger: ledger)
            defer { server.stop() }
            let checkpoint = try server.request("/checkpoint").text
            #expect(checkpoint.hasPrefix("example.org/palimpsest-test\n700\n") && checkpoint.contains("— \(name) "))
            let checked = try run(dir + "/tlog-check", [server.base, vkey])
            #expect(checked.status == 0, "\(checked.err)")
            #expect(checked.out.contains("700 entries") && checked.out.contains("700 inclusion proofs verified"))
            // Tiles the log does not have yet, and paths that are not tiles.
            #expect(try server.request("/tile/0/003").status == 404)
            #expect(try server.request("/tile/0/002.p/188").status == 200)
            #expect(try server.request("/tile/0/002.p/189").status == 404)
            #expect(try server.request("/tile/0/2").status == 404)
            #expect(try server.request("/tile/1/000.p/2").body.count == 64)
        }
    }
}

