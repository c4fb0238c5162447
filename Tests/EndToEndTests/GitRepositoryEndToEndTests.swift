import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// A real repository nobody here wrote — rust-lang/rfcs, 8,140 commits, 1,229 merges, binary files
/// added and deleted, symbolic links — imported end to end through the CLI, interrupted part way and
/// resumed, and its last versions checked byte for byte against `git show` at the branch's head.
@Suite(.serialized, .enabled(if: FileManager.default.fileExists(atPath: Corpora.rustRFCsBundle), "needs ../shared/corpora/git"))
struct GitRepositoryEndToEndTests {
    func git(_ repo: String, _ args: String...) throws -> ProcessOutput {
        let result = try run("/usr/bin/env", ["git", "-C", repo] + args)
        try #require(result.status == 0, "git \(args.joined(separator: " ")): \(result.err)")
        return result
    }

    /// Every file at the head: path → bytes, for regular files (git's own `cat-file --batch`).
    func filesAtHead(_ repo: String) throws -> [String: [UInt8]] {
        let listing = try git(repo, "ls-tree", "-r", "-z", "HEAD")
        var paths: [(String, String)] = []
        for entry in listing.out.split(separator: "\0") {
            let parts = entry.split(separator: "\t", maxSplits: 1)
            let fields = parts[0].split(separator: " ")
            if fields[0].hasPrefix("100") { paths.append((String(parts[1]), String(fields[2]))) }
        }
        let batch = try run("/usr/bin/env", ["git", "-C", repo, "cat-file", "--batch"], input: Data(paths.map { $0.1 + "\n" }.joined().utf8))
        let out = [UInt8](batch.stdout)
        var files: [String: [UInt8]] = [:]
        var i = 0
        for (path, _) in paths {
            let newline = out[i...].firstIndex(of: 0x0A)!
            let size = Int(String(decoding: out[i..<newline], as: UTF8.self).split(separator: " ")[2])!
            files[path] = Array(out[(newline + 1)..<(newline + 1 + size)])
            i = newline + 1 + size + 1
        }
        return files
    }

    @Test func rustRFCsImportsCompletelyAfterAnInterruption() throws {
        try withTemporaryDirectory { dir throws in
            let repo = dir + "/rfcs"
            let cloned = try run("/usr/bin/env", ["git", "clone", "-q", "--branch", "master", Corpora.rustRFCsBundle, repo])
            try #require(cloned.status == 0, "\(cloned.err)")
            let ledger = dir + "/ledger"
            #expect(try palimpsest("--ledger", ledger, "init").status == 0)

            // Interrupted: killed (SIGKILL, no chance to clean up) once its first transaction of
            // events is committed (another process reading the log sees one).
            let first = Process()
            first.executableURL = URL(fileURLWithPath: palimpsestExecutable)
            first.arguments = ["--ledger", ledger, "import", "git", repo]
            first.standardOutput = FileHandle.nullDevice
            first.standardError = FileHandle.nullDevice
            try first.run()
            for _ in 0..<600 where first.isRunning {
                let logged = try palimpsest("--ledger", ledger, "log", "--limit", "1", "--json")
                if logged.status == 0, logged.out.contains("\"position\":1") { break }
                usleep(20_000)
            }
            let interrupted = first.isRunning
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()

            // Run again: it continues where it stopped.
            let resumed = try palimpsest("--ledger", ledger, "import", "git", repo, "--json")
            try #require(resumed.status == 0, "\(resumed.err)")
            let summary = try JSONParser.parse(resumed.out.trimmingCharacters(in: .newlines))
            let added = try #require(summary["added"]?.intValue), skipped = try #require(summary["skipped"]?.intValue)
            #expect(added + skipped == summary["lines"]?.intValue)
            if interrupted { #expect(skipped > 0, "the first run was interrupted after committing events") }
            #expect(summary["passedOver"]?["changes to binary files passed over"]?.intValue ?? 0 > 0)
            #expect(summary["projectionSeconds"]?.doubleValue != nil)
            let again = try JSONParser.parse(try palimpsest("--ledger", ledger, "import", "git", repo, "--json").out.trimmingCharacters(in: .newlines))
            #expect(again["added"] == .int(0))
            #expect(again["skipped"]?.intValue == added + skipped)

            // Every text file at the head is an active document with the same bytes; every other
            // document the history had is retracted.
            let files = try filesAtHead(repo)
            let texts = files.filter { $0.value.count <= Ledger.maximumTextBytes && !$0.value.prefix(8000).contains(0) }
            #expect(texts.count > 500)
            let docs = try JSONParser.parse(try palimpsest("--ledger", ledger, "docs", "--json").out.trimmingCharacters(in: .newlines))
            guard case .array(let items)? = docs["documents"] else { Issue.record("no documents"); return }
            var active = Set<String>()
            for item in items where item["status"] == "active" { active.insert(item["document"]?.stringValue ?? "") }
            #expect(active.count == texts.count)
            #expect(active.symmetricDifference(texts.keys).sorted().prefix(5) == [], "active documents and text files at the head differ")
            let sample = texts.keys.sorted().enumerated().filter { $0.offset % 25 == 0 }.map(\.element)
            for path in sample {
                let shown = try palimpsest("--ledger", ledger, "show", path)
                #expect(shown.status == 0, "\(path): \(shown.err)")
                #expect([UInt8](shown.stdout) == texts[path], "\(path) differs from git show HEAD:\(path)")
            }
            let verified = try palimpsest("--ledger", ledger, "verify")
            #expect(verified.status == 0, "\(verified.err)")
        }
    }
}
