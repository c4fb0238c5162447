import Foundation
import LMDB
import Palimpsest
import PalimpsestTestSupport
import Testing

/// A temporary ledger directory, initialised through the CLI.
func withCLILedger<R>(_ body: (String) throws -> R) throws -> R {
    try withTemporaryDirectory { dir throws in
        let ledger = dir + "/ledger"
        let result = try palimpsest("--ledger", ledger, "init")
        #expect(result.status == 0, "\(result.err)")
        return try body(ledger)
    }
}

/// Runs `palimpsest --ledger L args…` with optional stdin.
@discardableResult
func cli(_ ledger: String, _ args: String..., stdin: String? = nil) throws -> ProcessOutput {
    try palimpsest(["--ledger", ledger] + args, input: Data((stdin ?? "").utf8))
}

/// Every observable byte of a ledger (its export), to show that a failing command wrote nothing.
func ledgerContents(_ ledger: String) throws -> String {
    let result = try cli(ledger, "export")
    #expect(result.status == 0)
    return result.out
}

/// Expects the command to fail with `code`, a one-sentence error containing `fragment`, and an
/// unchanged ledger.
func expectFailure(_ ledger: String, _ args: [String], stdin: String = "", code: Int32, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let before = try ledgerContents(ledger)
    let result = try palimpsest(["--ledger", ledger] + args, input: Data(stdin.utf8))
    #expect(result.status == code, "exit \(result.status): \(result.err)", sourceLocation: sourceLocation)
    #expect(result.err.contains(fragment), "stderr: \(result.err)", sourceLocation: sourceLocation)
    #expect(result.err.hasPrefix("palimpsest: "), sourceLocation: sourceLocation)
    #expect(try ledgerContents(ledger) == before, "the ledger changed", sourceLocation: sourceLocation)
}

let communique = "The leaders discussed the root causes of migration: poverty, inequality, democratic decline, and violence.\n"
let reissued = "The leaders discussed the root causes of migration: poverty, inequality, and violence.\n"
let doc = "whitehouse.gov/joint-communique"

/// A ledger with the communiqué published at 15:00 and edited at 21:00.
func withCommunique<R>(_ body: (String) throws -> R) throws -> R {
    try withCLILedger { ledger throws in
        #expect(try cli(ledger, "publish", doc, "--actor", "White House", "--at", "2023-12-28T15:00:00Z", "--title", "Joint Communiqué", "--language", "en", "--source", "https://www.whitehouse.gov/", stdin: communique).status == 0)
        #expect(try cli(ledger, "edit", doc, "--actor", "White House", "--at", "2023-12-28T21:00:00Z", "--message", "reissued", stdin: reissued).status == 0)
        return try body(ledger)
    }
}

@Suite struct CLICommandTests {
    @Test func initIsIdempotentAndReportsJSON() throws {
        try withTemporaryDirectory { dir throws in
            let first = try palimpsest("--ledger", dir + "/l", "init", "--json")
            let second = try palimpsest("--ledger", dir + "/l", "init", "--json")
            #expect(first.status == 0 && second.status == 0)
            let a = try JSONParser.parse(first.out.trimmingCharacters(in: .newlines))
            let b = try JSONParser.parse(second.out.trimmingCharacters(in: .newlines))
            #expect(a["created"] == true && b["created"] == false)
            #expect(a["ledgerId"] == b["ledgerId"])
            #expect(try schemaViolations([first.out, second.out], schema: "init-output.schema.json") == nil)
            let plain = try palimpsest("--ledger", dir + "/l", "init")
            #expect(plain.out.contains("already exists"))
        }
    }

    @Test func theLedgerComesFromTheFlagTheEnvironmentOrTheDefault() throws {
        try withTemporaryDirectory { dir throws in
            #expect(try palimpsest(["init"], directory: dir).status == 0)
            #expect(FileManager.default.fileExists(atPath: dir + "/palimpsest.ledger/data.mdb"))
            var env = ProcessInfo.processInfo.environment
            env["PALIMPSEST_LEDGER"] = dir + "/from-env"
            #expect(try palimpsest(["init"], environment: env).status == 0)
            #expect(FileManager.default.fileExists(atPath: dir + "/from-env/data.mdb"))
            // The flag wins, before or after the command name.
            #expect(try palimpsest(["init", "--ledger", dir + "/flag-after"], environment: env).status == 0)
            #expect(try palimpsest(["--ledger=\(dir)/flag-eq", "init"], environment: env).status == 0)
            #expect(FileManager.default.fileExists(atPath: dir + "/flag-after/data.mdb"))
            #expect(FileManager.default.fileExists(atPath: dir + "/flag-eq/data.mdb"))
        }
    }

    @Test func publishEditRetractRestoreAndShowEveryVersion() throws {
        try withCommunique { ledger throws in
            #expect(try cli(ledger, "show", doc, "--at", "2023-12-28T15:00:00Z").out == communique)
            #expect(try cli(ledger, "show", doc, "--at", "2023-12-28T23:00:00Z").out == reissued)
            #expect(try cli(ledger, "show", doc, "--version", "1").out == communique)
            #expect(try cli(ledger, "show", doc).out == reissued)
            // Recorded just now: by now the ledger knew the reissue.
            #expect(try cli(ledger, "show", doc, "--known-at", Timestamp.now().iso8601).out == reissued)

            let retract = try cli(ledger, "retract", doc, "--actor", "White House", "--at", "2023-12-29", "--reason", "page removed", "--kind", "deleted", "--json")
            #expect(retract.status == 0, "\(retract.err)")
            let shown = try cli(ledger, "show", doc)
            #expect(shown.out == reissued && shown.err.contains("was retracted at version 3"))

            let restore = try cli(ledger, "restore", doc, "--actor", "White House", "--at", "2023-12-30", "--json")
            #expect(restore.status == 0, "\(restore.err)")
            #expect(try cli(ledger, "show", doc).out == reissued)
            let restoreFromFile = try withTemporaryDirectory { dir throws in
                try cli(ledger, "retract", doc, "--actor", "x", "--at", "2023-12-31", "--reason", "again")
                try Data("restored text\n".utf8).write(to: URL(fileURLWithPath: dir + "/t.txt"))
                return try cli(ledger, "restore", doc, "--actor", "x", "--at", "2024-01-01", "--text-file", dir + "/t.txt")
            }
            #expect(restoreFromFile.status == 0)
            #expect(try cli(ledger, "show", doc).out == "restored text\n")

            let json = try cli(ledger, "show", doc, "--version", "2", "--json")
            let value = try JSONParser.parse(json.out.trimmingCharacters(in: .newlines))
            #expect(value["text"] == .string(reissued))
            #expect(value["version"] == 2 && value["actor"] == "White House" && value["title"] == "Joint Communiqué")
            // The event's contentHash: a salted commitment (TextCommitment), not the text's plain SHA-256.
            let exported = try cli(ledger, "export").out.split(separator: "\n").map { try JSONParser.parse(String($0)) }
            let event2 = try #require(exported.first { $0["version"] == 2 && $0["document"] == .string(doc) })
            #expect(value["contentHash"] == event2["contentHash"])
            #expect(value["contentHash"] != .string(Digest.sha256(reissued).hex))
            #expect(try schemaViolations([json.out], schema: "show-output.schema.json") == nil)
            #expect(try schemaViolations([retract.out, restore.out], schema: "recorded-output.schema.json") == nil)
        }
    }

    @Test func publishReadsATextFileAndAVariant() throws {
        try withCLILedger { ledger throws in
            try withTemporaryDirectory { dir throws in
                let mexican = "Las causas estructurales de la migración: pobreza, desigualdad y violencia. — López Obrador\n"
                try Data(mexican.utf8).write(to: URL(fileURLWithPath: dir + "/sre.txt"))
                try cli(ledger, "publish", doc, "--actor", "White House", "--at", "2023-12-28T15:00:00Z", stdin: communique)
                let r = try cli(ledger, "publish", "sre.gob.mx/comunicado", "--actor", "SRE", "--at", "2023-12-28T16:00:00Z", "--text-file", dir + "/sre.txt", "--language", "es", "--variant-of", doc, "--json")
                #expect(r.status == 0, "\(r.err)")
                let event = try JSONParser.parse(r.out.trimmingCharacters(in: .newlines))["event"]
                #expect(event?["variantOf"] == .string(doc) && event?["language"] == "es")
                #expect(try cli(ledger, "show", "sre.gob.mx/comunicado").out == mexican)
            }
        }
    }

    @Test func aRepeatedEventIDIsANoOp() throws {
        try withCLILedger { ledger throws in
            let id = "6f2c1a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
            let first = try cli(ledger, "publish", doc, "--actor", "x", "--event-id", id, stdin: communique)
            let second = try cli(ledger, "publish", doc, "--actor", "x", "--event-id", id, stdin: communique)
            #expect(first.status == 0 && second.status == 0)
            #expect(second.out.contains("Already recorded"))
            #expect(try cli(ledger, "log", "--json").out.components(separatedBy: "\"position\"").count == 2)
        }
    }

    @Test func docsListsTheCatalogue() throws {
        try withCommunique { ledger throws in
            try cli(ledger, "publish", "b", "--actor", "y", "--at", "2023-12-29", stdin: "b")
            let plain = try cli(ledger, "docs")
            #expect(plain.out.contains(doc) && plain.out.contains("2 documents, 3 events."))
            let json = try cli(ledger, "docs", "--json")
            #expect(try schemaViolations([json.out], schema: "docs-output.schema.json") == nil)
            let docs = try JSONParser.parse(json.out.trimmingCharacters(in: .newlines))["documents"]
            guard case .array(let items)? = docs else { Issue.record("no documents array"); return }
            #expect(items.map { $0["document"] } == [.string("b"), .string(doc)])
            #expect(items[1]["version"] == 2 && items[1]["lastActor"] == "White House")
        }
    }

    @Test func logFiltersByDocumentActorTimeAndLimit() throws {
        try withCommunique { ledger throws in
            try cli(ledger, "publish", "b", "--actor", "SRE", "--at", "2023-12-28T16:00:00Z", stdin: "b")
            let all = try cli(ledger, "log")
            #expect(all.out.split(separator: "\n").count == 3)
            #expect(all.out.contains("#2  2023-12-28T21:00:00Z  \(doc) v2  edited  by White House  — reissued"))
            #expect(try cli(ledger, "log", doc).out.split(separator: "\n").count == 2)
            #expect(try cli(ledger, "log", "--actor", "SRE").out.split(separator: "\n").count == 1)
            #expect(try cli(ledger, "log", "--since", "2023-12-28T16:00:00Z", "--until", "2023-12-28T20:00:00Z").out.contains("#3"))
            #expect(try cli(ledger, "log", "--limit", "1").out.split(separator: "\n").count == 1)
            #expect(try cli(ledger, "log", "--actor", "nobody").out == "No events match.\n")
            let json = try cli(ledger, "log", "--json")
            #expect(try schemaViolations([json.out, try cli(ledger, "log", "--limit", "0", "--json").out], schema: "log-output.schema.json") == nil)
        }
    }

    @Test func importAndExportRoundTrip() throws {
        try withCommunique { ledger throws in
            let exported = try cli(ledger, "export")
            #expect(exported.status == 0)
            try withTemporaryDirectory { dir throws in
                let file = dir + "/export.jsonl"
                let written = try cli(ledger, "export", "--out", file, "--format", "jsonl")
                #expect(written.status == 0 && written.err.contains("Exported 2 events"))
                #expect(try String(contentsOfFile: file, encoding: .utf8) == exported.out)
                let copy = dir + "/copy"
                try palimpsest("--ledger", copy, "init")
                let imported = try cli(copy, "import", "jsonl", file, "--json")
                #expect(imported.status == 0, "\(imported.err)")
                #expect(try schemaViolations([imported.out], schema: "import-summary.schema.json") == nil)
                #expect(try JSONParser.parse(imported.out.trimmingCharacters(in: .newlines))["added"] == 2)
                #expect(try ledgerContents(copy) == exported.out)
                // From stdin, a second time: nothing added.
                let again = try cli(copy, "import", "jsonl", "-", stdin: exported.out)
                #expect(again.status == 0 && again.out.contains("0 events added, 2 already present"))
            }
        }
    }

    @Test func importsTheNeutralFormatFromStdin() throws {
        try withCLILedger { ledger throws in
            let lines = """
                {"type":"publish","doc":"x","at":"2023-12-28T15:00:00Z","actor":"a","text":"one"}
                {"type":"edit","doc":"x","at":"2023-12-28T16:00:00Z","actor":"b","text":"two"}
                {"type":"retract","doc":"x","at":"2023-12-28T17:00:00Z","actor":"c","reason":"gone","kind":"not-found"}
                """
            let r = try cli(ledger, "import", "jsonl", "-", stdin: lines)
            #expect(r.status == 0, "\(r.err)")
            #expect(r.out.contains("3 events added, 0 already present, 1 documents"))
            #expect(try schemaViolations(lines.split(separator: "\n").map(String.init), schema: "import-line.schema.json") == nil)
        }
    }

    @Test func helpListsEveryCommand() throws {
        let help = try palimpsest("--help")
        #expect(help.status == 0)
        for command in ["init", "publish", "edit", "retract", "restore", "docs", "log", "show", "diff", "compare", "blame", "removed", "trace", "replay", "import", "export", "verify", "stats"] {
            #expect(help.out.contains("  \(command)"), "\(command) missing from --help")
        }
    }
}

@Suite struct CLIBadInputTests {
    @Test func editRetractRestoreOfAnUnknownDocument() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["edit", "nope", "--actor", "x"], stdin: "t", code: 1, "no document \"nope\"")
            try expectFailure(ledger, ["retract", "nope", "--actor", "x", "--reason", "r"], code: 1, "no document \"nope\"")
            try expectFailure(ledger, ["restore", "nope", "--actor", "x"], code: 1, "no document \"nope\"")
            try expectFailure(ledger, ["show", "nope"], code: 1, "no document \"nope\"")
            try expectFailure(ledger, ["log", "nope"], code: 1, "no document \"nope\"")
        }
    }

    @Test func publishOfAnExistingDocumentAndEditOfARetractedOne() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["publish", doc, "--actor", "x", "--at", "2024-01-01"], stdin: "t", code: 3, "already published")
            #expect(try cli(ledger, "retract", doc, "--actor", "x", "--at", "2024-01-01", "--reason", "r").status == 0)
            try expectFailure(ledger, ["edit", doc, "--actor", "x", "--at", "2024-01-02"], stdin: "t", code: 3, "is retracted")
            try expectFailure(ledger, ["retract", doc, "--actor", "x", "--at", "2024-01-02", "--reason", "r"], code: 3, "is retracted")
        }
    }

    @Test func restoreOfADocumentThatIsNotRetracted() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["restore", doc, "--actor", "x", "--at", "2024-01-01"], code: 3, "not retracted")
        }
    }

    @Test func wrongExpectedVersion() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["edit", doc, "--actor", "x", "--at", "2024-01-01", "--expect-version", "1"], stdin: "t", code: 3, "is at version 2, but the writer expected version 1")
            #expect(try cli(ledger, "edit", doc, "--actor", "x", "--at", "2024-01-01", "--expect-version", "2", stdin: "t").status == 0)
        }
    }

    @Test func timesThatDoNotParseOrGoBackwards() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["edit", doc, "--actor", "x", "--at", "28 Dec 2023"], stdin: "t", code: 2, "--at \"28 Dec 2023\" is not an ISO 8601 time")
            try expectFailure(ledger, ["edit", doc, "--actor", "x", "--at", "2023-12-28T20:00:00"], stdin: "t", code: 2, "is not an ISO 8601 time with a zone")
            try expectFailure(ledger, ["show", doc, "--at", "noon"], code: 2, "--at \"noon\"")
            try expectFailure(ledger, ["log", "--since", "last week"], code: 2, "--since \"last week\"")
            try expectFailure(ledger, ["edit", doc, "--actor", "x", "--at", "2023-12-28T20:00:00Z"], stdin: "t", code: 3, "earlier than the last event")
            #expect(try cli(ledger, "edit", doc, "--actor", "x", "--at", "2023-12-28T20:00:00Z", "--allow-backdated", stdin: "t").status == 0)
        }
    }

    @Test func textThatIsNotUTF8OrAFileThatIsMissing() throws {
        try withCommunique { ledger throws in
            try withTemporaryDirectory { dir throws in
                try Data([0x61, 0x62, 0xC3, 0x28, 0x63]).write(to: URL(fileURLWithPath: dir + "/latin1.txt"))
                try expectFailure(ledger, ["edit", doc, "--actor", "x", "--text-file", dir + "/latin1.txt"], code: 2, "not valid UTF-8 (first bad byte at offset 2)")
                try expectFailure(ledger, ["edit", doc, "--actor", "x", "--text-file", dir + "/missing.txt"], code: 1, "the text file \(dir)/missing.txt does not exist")
            }
            let before = try ledgerContents(ledger)
            let result = try palimpsest(["--ledger", ledger, "edit", doc, "--actor", "x"], input: Data([0xFF, 0xFE, 0x41]))
            #expect(result.status == 2 && result.err.contains("standard input is not valid UTF-8"))
            #expect(try ledgerContents(ledger) == before)
        }
    }

    @Test func badDocumentIDs() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["publish", "", "--actor", "x"], stdin: "t", code: 2, "may not be empty")
            try expectFailure(ledger, ["publish", String(repeating: "d", count: 1025), "--actor", "x"], stdin: "t", code: 2, "1025 bytes long; the limit is 1024")
            try expectFailure(ledger, ["publish", "tab\there", "--actor", "x"], stdin: "t", code: 2, "control character U+0009")
            try expectFailure(ledger, ["publish", "new\nline", "--actor", "x"], stdin: "t", code: 2, "control character U+000A")
        }
    }

    @Test func usageErrorsExitWithTwo() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["publish", "x"], stdin: "t", code: 2, "Missing expected argument '--actor <name>'")
            try expectFailure(ledger, ["show", doc, "--version", "1", "--at", "2024-01-01"], code: 2, "give one of --version, --at and --known-at")
            try expectFailure(ledger, ["show", doc, "--known-at", "soon"], code: 2, "--known-at \"soon\"")
            try expectFailure(ledger, ["show", doc, "--known-at", "2000-01-01"], code: 1, "the ledger knew nothing of")
            try expectFailure(ledger, ["retract", doc, "--actor", "x", "--reason", "r", "--kind", "vanished"], code: 2, "vanished")
            try expectFailure(ledger, ["publish", "y", "--actor", "x", "--event-id", "123"], stdin: "t", code: 2, "--event-id \"123\" is not a UUID")
            try expectFailure(ledger, ["frobnicate"], code: 2, "frobnicate")
            try expectFailure(ledger, ["show", doc, "--version", "9"], code: 1, "has 2 versions; there is no version 9")
            try expectFailure(ledger, ["show", doc, "--at", "2020-01-01"], code: 1, "did not exist yet at 2020-01-01")
        }
    }

    @Test func badJSONLinesNameTheirLineAndKeepTheLinesBefore() throws {
        try withCLILedger { ledger throws in
            let lines = """
                {"type":"publish","doc":"x","at":"2023-12-28T15:00:00Z","actor":"a","text":"one"}
                {"type":"edit","doc":"x","at":"2023-12-28T16:00:00Z","actor":"b","text":"two"}
                {"type":"edit","doc":"x","at":"2023-12-28T17:00:00Z","actor":"b","text":3}
                {"type":"edit","doc":"x","at":"2023-12-28T18:00:00Z","actor":"b","text":"four"}
                """
            let result = try cli(ledger, "import", "jsonl", "-", stdin: lines)
            #expect(result.status == 2)
            #expect(result.err == "palimpsest: standard input line 3: \"text\" must be a string, not a number; the 2 events before it were committed (2 added, 0 already present)\n")
            #expect(try cli(ledger, "show", "x").out == "two")
            let notJSON = try cli(ledger, "import", "jsonl", "-", stdin: "{\"type\":\"publish\",\"doc\":\"y\",\"at\":\"2023-12-28\",\"actor\":\"a\",\"text\":\"y\"}\nnot json\n")
            #expect(notJSON.status == 2 && notJSON.err.contains("standard input line 2: the line is not valid JSON"))
            let missing = try cli(ledger, "import", "jsonl", "-", stdin: "{\"type\":\"publish\",\"doc\":\"z\",\"actor\":\"a\",\"text\":\"y\"}\n")
            #expect(missing.status == 2 && missing.err.contains("line 1: the required field \"at\" is missing; nothing was imported"))
            let noFile = try cli(ledger, "import", "jsonl", "/nonexistent/file.jsonl")
            #expect(noFile.status == 1 && noFile.err.contains("the file /nonexistent/file.jsonl does not exist"))
        }
    }

    @Test func aDirectoryThatIsNotALedger() throws {
        try withTemporaryDirectory { dir throws in
            let missing = try palimpsest("--ledger", dir + "/none", "docs")
            #expect(missing.status == 1 && missing.err.contains("there is no ledger at \(dir)/none"))
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
            let other = try palimpsest("--ledger", dir, "docs")
            #expect(other.status == 5 && other.err.contains("is not a Palimpsest ledger"))
            let initOther = try palimpsest("--ledger", dir, "init")
            #expect(initOther.status == 5 && initOther.err.contains("not empty"))
        }
    }

    @Test func aReadOnlyLedger() throws {
        try withCommunique { ledger throws in
            try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: ledger)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: ledger) }
            #expect(try cli(ledger, "show", doc).out == reissued)
            try expectFailure(ledger, ["edit", doc, "--actor", "x", "--at", "2024-01-01"], stdin: "t", code: 5, "is read-only")
        }
    }

    @Test func aLedgerNewerThanThisBuild() throws {
        try withCommunique { ledger throws in
            // What a newer build would have written: a higher storage format number in the metadata.
            do {
                let env = try Environment(path: ledger)
                let meta = try #require(try env.openDatabases(["meta"])["meta"])
                try env.write { txn in try txn.put(meta, key: Array("format".utf8), value: BigEndianKey.encode(999)) }
            }
            let result = try cli(ledger, "show", doc)
            #expect(result.status == 5)
            #expect(result.err.contains("written by a newer Palimpsest (storage format 999"))
            let write = try cli(ledger, "edit", doc, "--actor", "x", stdin: "t")
            #expect(write.status == 5)
        }
    }
}

@Suite struct CLIProgressTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a terminal"))
    func importShowsProgressOnATerminalOnly() throws {
        try withCLILedger { ledger throws in
            try withTemporaryDirectory { dir throws in
                let lines = (0..<50).map { #"{"type":"publish","doc":"d\#($0)","at":"2023-12-28","actor":"a","text":"t"}"# }
                try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: dir + "/in.jsonl"))
                // script(1) runs the command on a pseudo-terminal.
                let command = "'\(palimpsestExecutable)' --ledger '\(ledger)' import jsonl '\(dir)/in.jsonl'"
                let onTerminal = try run("/usr/bin/script", ["-qec", command, "/dev/null"])
                #expect(onTerminal.status == 0)
                #expect(onTerminal.out.contains("\r\u{1B}[K"), "no progress line")
                #expect(onTerminal.out.contains(" events, "))
                #expect(onTerminal.out.contains("MB read"))
                let piped = try cli(ledger, "import", "jsonl", dir + "/in.jsonl")
                #expect(!piped.err.contains("\u{1B}") && !piped.out.contains("\u{1B}"))
                #expect(piped.out.contains("0 events added, 50 already present"))
            }
        }
    }
}

@Suite struct CLIMediaWikiTests {
    let xml = """
        <mediawiki version="0.10"><siteinfo><dbname>testwiki</dbname></siteinfo>
        <page><title>Communiqué</title><id>1</id>
        <revision><id>10</id><timestamp>2023-12-28T15:00:00Z</timestamp><contributor><username>WH</username></contributor><text>democratic decline</text></revision>
        <revision><id>11</id><timestamp>2023-12-28T21:00:00Z</timestamp><contributor><ip>192.0.2.1</ip></contributor><comment>trim</comment><text>and violence</text></revision>
        </page></mediawiki>
        """

    @Test func importsAFileStdinOrACompressedFile() throws {
        try withCLILedger { ledger throws in
            try withTemporaryDirectory { dir throws in
                try Data(xml.utf8).write(to: URL(fileURLWithPath: dir + "/export.xml"))
                let r = try cli(ledger, "import", "mediawiki", dir + "/export.xml", "--doc-prefix", "en:", "--json")
                #expect(r.status == 0, "\(r.err)")
                #expect(try schemaViolations([r.out], schema: "import-summary.schema.json") == nil)
                #expect(try cli(ledger, "show", "en:Communiqué", "--version", "1").out == "democratic decline")
                let log = try cli(ledger, "log", "en:Communiqué")
                #expect(log.out.contains("edited  by 192.0.2.1  — trim"))
                // From standard input, under another prefix, with the wiki named.
                let piped = try cli(ledger, "import", "mediawiki", "-", "--doc-prefix", "copy:", "--wiki", "other", stdin: xml)
                #expect(piped.status == 0 && piped.out.contains("2 events added"))
                // xz-compressed, read directly: the same events again, so nothing added.
                #expect(try run("/usr/bin/env", ["xz", "-k", dir + "/export.xml"]).status == 0)
                let compressed = try cli(ledger, "import", "mediawiki", dir + "/export.xml.xz", "--doc-prefix", "en:")
                #expect(compressed.status == 0, "\(compressed.err)")
                #expect(compressed.out.contains("0 events added, 2 already present"))
            }
        }
    }

    @Test func badExportsExitWithTwoAndNameThePlace() throws {
        try withCLILedger { ledger throws in
            try expectFailure(ledger, ["import", "mediawiki", "-"], stdin: String(xml.prefix(150)), code: 2, "standard input byte")
            try expectFailure(ledger, ["import", "mediawiki", "-"], stdin: "<!DOCTYPE m [<!ENTITY x \"y\">]>" + xml, code: 2, "document type declarations are refused")
            try expectFailure(ledger, ["import", "mediawiki", "/nonexistent.xml"], code: 1, "does not exist")
            try withTemporaryDirectory { dir throws in
                try Data("not xz at all".utf8).write(to: URL(fileURLWithPath: dir + "/bad.xml.xz"))
                try expectFailure(ledger, ["import", "mediawiki", dir + "/bad.xml.xz"], code: 2, "bad.xml.xz")
            }
        }
    }
}

@Suite struct CLIAuditTests {
    @Test func verifyStatsAndRebuild() throws {
        try withCommunique { ledger throws in
            let ok = try cli(ledger, "verify", "--projections")
            #expect(ok.status == 0 && ok.out.contains("OK: 2 events") && ok.out.contains("every projection equals a rebuild"))
            let json = try cli(ledger, "verify", "--json")
            #expect(try schemaViolations([json.out], schema: "verify-output.schema.json") == nil)
            let stats = try cli(ledger, "stats", "--json")
            #expect(try schemaViolations([stats.out], schema: "stats-output.schema.json") == nil)
            #expect(try JSONParser.parse(stats.out.trimmingCharacters(in: .newlines))["eventsByType"]?["edited"] == 1)
            #expect(try cli(ledger, "stats").out.contains("2 events, 1 documents (0 retracted), 1 actors."))
            let rebuilt = try cli(ledger, "replay", "--rebuild")
            #expect(rebuilt.status == 0 && rebuilt.out.contains("Rebuilt the projection \"statistics\" from position 1 to 2."))
            #expect(rebuilt.out.contains("Rebuilt the catalogue, the document streams and the ID indexes from the log (2 events)."))
            let before = try cli(ledger, "docs", "--json").out
            #expect(try cli(ledger, "replay", "--rebuild", "indexes").status == 0)
            #expect(try cli(ledger, "docs", "--json").out == before)
            #expect(try cli(ledger, "show", doc, "--version", "1").out == communique)
            try expectFailure(ledger, ["replay", "--rebuild", "nope"], code: 1, "there is no projection named \"nope\"")
        }
    }
}
