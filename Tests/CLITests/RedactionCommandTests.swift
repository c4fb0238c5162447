import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// `redact` and `compact` through the CLI, on the demo ledger as the issue's "done when" says: a name
/// redacted from every version that holds it is gone from every file of the ledger and from every
/// command's output, while `verify`, `prove`, the old signed checkpoints and an earlier report's
/// offline check all pass; the README's Python check accepts the redacted export and rejects forgeries.
@Suite(.serialized) struct RedactionCommandTests {
    static let name = "Mayorkas"
    static let reason = "erasure request 7"

    static func runExportCheck(_ export: String, in dir: String) throws -> ProcessOutput {
        let file = dir + "/checked.jsonl"
        try export.write(toFile: file, atomically: true, encoding: .utf8)
        return try runREADMEExportCheck(exportFile: file)
    }

    /// Every byte of every file under `dir`, searched for `needle`.
    static func filesHolding(_ needle: String, under dir: String) throws -> [String] {
        let bytes = Data(needle.utf8)
        var found: [String] = []
        for name in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            let path = dir + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if try Data(contentsOf: URL(fileURLWithPath: path)).range(of: bytes) != nil { found.append(name) }
        }
        return found
    }

    @Test func aNameLeavesTheDemoLedgerAndEveryProofStillHolds() throws {
        try withTemporaryDirectory { dir throws in
            let ledger = dir + "/demo.ledger"
            let demo = try palimpsest("demo", "--ledger", ledger)
            #expect(demo.status == 0, "\(demo.err)")
            let key = try cli(ledger, "checkpoint", "--public-key").out.trimmingCharacters(in: .whitespacesAndNewlines)
            // Evidence made before the redaction: a signed checkpoint, a report, an export.
            #expect(try cli(ledger, "checkpoint").status == 0)
            let wh = "whitehouse.gov/briefing-room/2023/12/28/joint-communique"
            #expect(try cli(ledger, "report", wh, "--out", dir + "/before.json").status == 0)
            // A text short enough to be stored as it is (longer ones are deflated, which would hide the
            // name from a byte search even before the redaction): the search below must be able to fail.
            #expect(try cli(ledger, "publish", "memo", "--actor", "clerk", stdin: "Ask Mr \(Self.name). Thanks.").status == 0)
            let exportBefore = try cli(ledger, "export").out
            #expect(exportBefore.contains(Self.name))
            #expect(try Self.filesHolding(Self.name, under: ledger) == ["data.mdb"])

            let documents = ["state.gov/secretary-blinken-travel-to-mexico-2023-12-22", wh, "sre.gob.mx/joint-press-release-2023-12-28", "memo"]
            for (n, document) in documents.enumerated() {
                var arguments = ["redact", document, "--all-versions", "--phrase", Self.name, "--reason", Self.reason, "--actor", "records officer", "--authority", "data protection officer"]
                if n == documents.count - 1 { arguments.append("--compact") }
                let redacted = try palimpsest(["--ledger", ledger] + arguments)
                #expect(redacted.status == 0, "\(redacted.err)")
                #expect(redacted.out.contains("Redacted"), "\(redacted.out)")
                #expect(redacted.out.contains(n == documents.count - 1 ? "Compacted the ledger" : "run `palimpsest compact`"))
            }
            // Again: nothing left to do, and it says so.
            let again = try cli(ledger, "redact", wh, "--all-versions", "--phrase", Self.name, "--reason", Self.reason, "--actor", "records officer")
            #expect(again.status == 0 && again.out.contains("already redacted; nothing was written"), "\(again.out)\(again.err)")

            // Gone from every file of the ledger directory, byte for byte.
            #expect(try Self.filesHolding(Self.name, under: ledger) == [])

            // Every proof still holds: verify (old checkpoints, rebuilt projections), prove, the earlier report.
            let verify = try cli(ledger, "verify", "--projections")
            #expect(verify.status == 0, "\(verify.out)\(verify.err)")
            #expect(verify.out.contains("2 signed checkpoints checked") || verify.out.contains("3 signed checkpoints checked"), "\(verify.out)")
            #expect(try cli(ledger, "prove", "2").status == 0)
            let earlier = try verifyReport(dir + "/before.json", publicKey: key)
            #expect(earlier.status == 0, "\(earlier.out)\(earlier.err)")

            // No command shows the name; the reading ones show the marker.
            let marker = "[redacted by event #"
            var outputs: [(String, ProcessOutput)] = []
            func record(_ arguments: String...) throws {
                outputs.append((arguments.joined(separator: " "), try palimpsest(["--ledger", ledger] + arguments)))
            }
            for document in documents {
                try record("show", document)
                try record("show", document, "--version", "1")
                try record("blame", document)
                try record("blame", document, "--json")
                try record("log", document)
                try record("replay", document)
                try record("report", document, "--format", "md")
                try record("report", document, "--format", "csv")
                try record("report", document, "--format", "html")
            }
            try record("diff", wh, "1", "2")
            try record("diff", wh, "--json")
            try record("compare", wh, documents[2])
            try record("removed", Self.name)
            try record("removed", Self.name, "--json")
            try record("trace", Self.name, "--json")
            try record("removed", "Alejandro")
            try record("replay", "--json")
            try record("log", "--json")
            try record("docs")
            try record("stats")
            try record("export")
            try record("verify")
            try record("report", "--phrase", "democratic decline", "--format", "json")
            for (command, output) in outputs {
                // A query for the name may repeat the query; nothing else may show it.
                let shown = command.contains(Self.name) ? output.out.replacingOccurrences(of: "\"phrase\":\"\(Self.name)\"", with: "") : output.out
                #expect(!shown.contains(Self.name) && !output.err.contains(Self.name), "\(command) shows the name: \(shown.prefix(300))")
                #expect(output.status == 0, "\(command): \(output.err)")
            }
            for (command, output) in outputs where command.hasPrefix("show") || command.hasPrefix("blame") && !command.contains("json") || command.hasPrefix("report") && command.contains("html") {
                #expect(output.out.contains(marker), "\(command) shows no marker")
            }
            #expect(outputs.first { $0.0 == "removed \(Self.name) --json" }!.1.out.contains("\"removals\":[]"))
            // The redaction is in the log, with its reason and authority, and in replay.
            let log = outputs.first { $0.0 == "log --json" }!.1.out
            #expect(log.contains("\"type\":\"redacted\"") && log.contains("\"authority\":\"data protection officer\""))
            #expect(outputs.first { $0.0 == "replay " + wh }!.1.out.contains("texts withheld: v1 "))

            // A report made now checks offline, and the export checks with the README's Python.
            #expect(try cli(ledger, "report", wh, "--out", dir + "/after.json").status == 0)
            let after = try verifyReport(dir + "/after.json", publicKey: key)
            #expect(after.status == 0, "\(after.out)\(after.err)")
            let export = outputs.first { $0.0 == "export" }!.1.out
            #expect(try schemaViolations(export.split(separator: "\n").map(String.init), schema: "export-line.schema.json") == nil)
            let checked = try Self.runExportCheck(export, in: dir)
            #expect(checked.status == 0, "\(checked.out)\(checked.err)")
            let oldCheck = try Self.runExportCheck(exportBefore, in: dir)
            #expect(oldCheck.status == 0, "the earlier export still checks: \(oldCheck.err)")

            // And the export re-imports into an identical ledger.
            let copy = dir + "/copy.ledger"
            #expect(try palimpsest("--ledger", copy, "init").status == 0)
            let imported = try palimpsest(["--ledger", copy, "import", "jsonl", "-"], input: Data(export.utf8))
            #expect(imported.status == 0, "\(imported.err)")
            #expect(try cli(copy, "export").out == export)
            #expect(try cli(copy, "verify").status == 0)

            try Self.expectForgeriesRejected(export, in: dir)
        }
    }

    /// A redacted export whose text was changed, whose redaction is not the one it names, or whose
    /// withheld segment was moved, fails the README's check.
    static func expectForgeriesRejected(_ export: String, in dir: String) throws {
        let lines = export.split(separator: "\n").map(String.init)
        guard let index = lines.firstIndex(where: { $0.contains("\"parts\"") && $0.contains("\"kept\"") }) else {
            Issue.record("no partly redacted line")
            return
        }
        func forged(_ change: (inout [String: Any]) -> Void) throws -> String {
            var object = try JSONSerialization.jsonObject(with: Data(lines[index].utf8)) as! [String: Any]
            change(&object)
            var copy = lines
            copy[index] = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
            return copy.joined(separator: "\n") + "\n"
        }
        // The readable rest changed.
        let changedText = try forged { o in
            let text = o["text"] as! String
            o["text"] = text.replacingOccurrences(of: "the", with: "tha")
        }
        // Marked as redacted by an event that is not a redaction.
        let wrongRedaction = try forged { o in
            var proof = o["textProof"] as! [String: Any]
            proof["redactedBy"] = 1
            o["textProof"] = proof
        }
        // A withheld segment moved: the proof withholds another segment than its redaction lists.
        let moved = try forged { o in
            var proof = o["textProof"] as! [String: Any]
            var parts = proof["parts"] as! [[String: Any]]
            if let withheld = parts.firstIndex(where: { $0["withheld"] != nil }), let kept = parts.indices.first(where: { parts[$0]["kept"] != nil && $0 != withheld }) {
                parts.swapAt(withheld, kept)
            }
            proof["parts"] = parts
            o["textProof"] = proof
        }
        for (what, text) in [("a changed text", changedText), ("a missing redaction", wrongRedaction), ("a moved span", moved)] {
            let result = try runExportCheck(text, in: dir)
            #expect(result.status != 0, "\(what) passed the README's check")
        }
    }

    @Test func badInputsAreRefusedAndChangeNothing() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["redact", "nope", "--all-versions", "--reason", "r", "--actor", "a"], code: 1, "there is no document \"nope\"")
            try expectFailure(ledger, ["redact", doc, "--version", "3", "--reason", "r", "--actor", "a"], code: 1, "has no version 3 (its versions are 1–2)")
            try expectFailure(ledger, ["redact", doc, "--version", "2", "--phrase", "democratic decline", "--reason", "r", "--actor", "a"], code: 1, "does not appear in the text of version 2")
            try expectFailure(ledger, ["redact", doc, "--all-versions", "--phrase", "Communiqué", "--reason", "r", "--actor", "a"], code: 1, "It appears in the title of version 1, which is hashed into the event itself and can never be redacted")
            try expectFailure(ledger, ["redact", doc, "--version", "1", "--actor", "a"], code: 2, "--reason")
            try expectFailure(ledger, ["redact", doc, "--actor", "a", "--reason", "r"], code: 2, "--version N (repeatable) or --all-versions")
            try expectFailure(ledger, ["redact", doc, "--version", "1", "--all-versions", "--actor", "a", "--reason", "r"], code: 2, "not both")

            // Twice: the second is a no-op that says so.
            let first = try cli(ledger, "redact", doc, "--version", "1", "--reason", "court order", "--actor", "clerk", "--json")
            #expect(first.status == 0, "\(first.err)")
            #expect(try schemaViolations([String(decoding: try JSONSerialization.data(withJSONObject: (try JSONSerialization.jsonObject(with: first.stdout) as! [String: Any])["event"]!), as: UTF8.self)], schema: "event.schema.json") == nil)
            let before = try ledgerContents(ledger)
            let second = try cli(ledger, "redact", doc, "--version", "1", "--reason", "court order", "--actor", "clerk")
            #expect(second.status == 0 && second.out.contains("already redacted"), "\(second.out)")
            #expect(try ledgerContents(ledger) == before)
            #expect(try cli(ledger, "show", doc, "--version", "1").out == "[redacted by event #3: court order]")
            #expect(try cli(ledger, "show", doc).out == reissued, "the current version is not redacted")
        }
    }

    @Test func compactRefusesWhileTheLedgerIsOpenElsewhereOrReadOnly() throws {
        try withCommunique { ledger throws in
            // Another process holding the ledger open: `replay --follow` keeps it open until killed.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: palimpsestExecutable)
            holder.arguments = ["--ledger", ledger, "replay", "--follow"]
            holder.standardError = FileHandle.nullDevice
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            defer {
                if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }
                holder.waitUntilExit()
            }
            // It has the ledger open once it has printed the first event (bounded: it prints at once).
            _ = output.fileHandleForReading.availableData
            let refused = try cli(ledger, "compact")
            #expect(refused.status == 5)
            let message = refused.err
            #expect(message.contains("is open in another process (process \(holder.processIdentifier))") && message.contains("nothing was changed"), "\(message)")
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
            let done = try cli(ledger, "compact", "--json")
            #expect(done.status == 0, "\(done.err)")
            #expect(try cli(ledger, "verify").status == 0)

            // No room for the copy (a file-size limit stands in for a full disk): refused, untouched.
            let before = try ledgerContents(ledger)
            let full = try run("/bin/bash", ["-c", "ulimit -f 16; exec \"$0\" --ledger \"$1\" compact", palimpsestExecutable, ledger])
            #expect(full.status == 5 && full.err.contains("not enough disk space for a compacted copy"), "\(full.status): \(full.err)")
            #expect(try ledgerContents(ledger) == before)
            #expect(!FileManager.default.fileExists(atPath: ledger + "/data.mdb.compacting"))
            #expect(try cli(ledger, "verify").status == 0)

            try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: ledger)
            defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: ledger) }
            let readOnly = try cli(ledger, "compact")
            #expect(readOnly.status == 5 && readOnly.err.contains("is read-only, so it cannot be compacted"), "\(readOnly.err)")
        }
    }

    @Test func aLedgerOfThePlainRecipeRedactsWholeTextsOnly() throws {
        try withTemporaryDirectory { dir throws in
            #expect(try run("/bin/tar", ["-xJf", PreviousFormatTests.fixture, "-C", dir]).status == 0)
            let ledger = dir + "/previous-format/ledger"
            let docs = try cli(ledger, "docs", "--json").out
            let parsed = try JSONSerialization.jsonObject(with: Data(docs.utf8)) as! [String: Any]
            let first = try #require((parsed["documents"] as? [[String: Any]])?.first?["document"] as? String)
            let word = try #require(try cli(ledger, "show", first).out.split(separator: " ").first.map(String.init))
            try expectFailure(ledger, ["redact", first, "--version", "1", "--phrase", word, "--reason", "r", "--actor", "a"], code: 3, "can only be withheld whole")
            let whole = try cli(ledger, "redact", first, "--version", "1", "--reason", "r", "--actor", "a")
            #expect(whole.status == 0, "\(whole.err)")
            let verify = try cli(ledger, "verify")
            #expect(verify.status == 0, "\(verify.out)\(verify.err)")
            let checked = try Self.runExportCheck(try cli(ledger, "export").out, in: dir)
            #expect(checked.status == 0, "\(checked.err)")
        }
    }

    /// A redaction or compaction killed at any moment leaves the ledger before or after, verifying,
    /// with no half-redacted text readable.
    @Test func killedRedactionsAndCompactionsLeaveTheLedgerBeforeOrAfter() throws {
        try withTemporaryDirectory { dir throws in
            let source = dir + "/source"
            #expect(try palimpsest("demo", "--ledger", source).status == 0)
            var outcomes: Set<String> = []
            for trial in 0..<8 {
                let ledger = dir + "/trial\(trial)"
                #expect(try run("/bin/cp", ["-r", source, ledger]).status == 0)
                let delay = Double(trial) * 0.01
                let killedRedaction = try runAndKill(palimpsestExecutable, ["--ledger", ledger, "redact", "whitehouse.gov/briefing-room/2023/12/28/joint-communique", "--all-versions", "--phrase", Self.name, "--reason", Self.reason, "--actor", "a"], after: delay)
                _ = try runAndKill(palimpsestExecutable, ["--ledger", ledger, "compact"], after: delay)
                let verify = try cli(ledger, "verify")
                #expect(verify.status == 0, "trial \(trial): \(verify.out)\(verify.err)")
                let shown = try cli(ledger, "show", "whitehouse.gov/briefing-room/2023/12/28/joint-communique").out
                let redacted = shown.contains("[redacted by event #")
                #expect(redacted != shown.contains(Self.name), "trial \(trial): half-redacted")
                outcomes.insert("\(killedRedaction ? "killed" : "finished") \(redacted ? "after" : "before")")
            }
            #expect(outcomes.contains { $0.hasSuffix("after") }, "\(outcomes)")
        }
    }
}
