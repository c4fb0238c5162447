import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// `palimpsest import git` as a user runs it: the summary in words and as JSON (checked against its
/// schema), and bad input refused by name with its exit code, the ledger unchanged.
@Suite struct ImportGitCommandTests {
    /// A repository of two commits: a text published and then edited, a binary file, a symbolic link.
    func withRepository<R>(_ body: (String, String) throws -> R) throws -> R {
        try withTemporaryDirectory { dir throws in
            let repo = dir + "/policies"
            func git(_ args: String...) throws {
                let env = ["GIT_AUTHOR_NAME": "White House", "GIT_AUTHOR_EMAIL": "wh@example.org", "GIT_COMMITTER_NAME": "WH",
                           "GIT_COMMITTER_EMAIL": "wh@example.org", "GIT_AUTHOR_DATE": "2023-12-28T15:00:00Z", "GIT_COMMITTER_DATE": "2023-12-28T15:00:00Z",
                           "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": dir]
                let result = try run("/usr/bin/env", ["git", "-C", repo] + args, environment: env)
                try #require(result.status == 0, "git \(args): \(result.err)")
            }
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            try git("init", "-q", "-b", "main")
            try Data(communique.utf8).write(to: URL(fileURLWithPath: repo + "/communique.md"))
            try Data([0x89, 0x50, 0, 1]).write(to: URL(fileURLWithPath: repo + "/seal.png"))
            try FileManager.default.createSymbolicLink(atPath: repo + "/latest.md", withDestinationPath: "communique.md")
            try git("add", "-A")
            try git("commit", "-q", "-m", "Publish the communiqué")
            try Data(reissued.utf8).write(to: URL(fileURLWithPath: repo + "/communique.md"))
            try git("commit", "-q", "-a", "-m", "Reissue without the phrase")
            return try withCLILedger { ledger throws in try body(repo, ledger) }
        }
    }

    @Test func importsAndSaysWhatItPassedOverAndWhereTheTimeWent() throws {
        try withRepository { repo, ledger throws in
            let words = try cli(ledger, "import", "git", repo)
            #expect(words.status == 0, "\(words.err)")
            #expect(words.out.contains("Imported \(repo): 2 events added, 0 already present, 1 documents"))
            #expect(words.out.contains("analysis ") && words.out.contains("reading ") && words.out.contains("committing "))
            #expect(words.out.contains("1 changes to binary files passed over."))
            #expect(words.out.contains("1 changes to symbolic links passed over."))
            #expect(try cli(ledger, "show", "communique.md").out == reissued)
            let json = try cli(ledger, "import", "git", repo, "--json")
            #expect(json.status == 0)
            #expect(try schemaViolations([json.out], schema: "import-summary.schema.json") == nil)
            let summary = try JSONParser.parse(json.out.trimmingCharacters(in: .newlines))
            #expect(summary["added"] == 0 && summary["skipped"] == 2)
            #expect(summary["notes"] == .array([]))
        }
    }

    @Test func badInputIsRefusedByNameAndChangesNothing() throws {
        try withRepository { repo, ledger throws in
            try expectFailure(ledger, ["import", "git", repo + "/missing"], code: 1, "is not a git repository")
            try expectFailure(ledger, ["import", "git", repo, "--branch", "nope"], code: 1, "the branch or commit \"nope\" does not exist")
            try expectFailure(ledger, ["import", "git", repo, "--encoding", "klingon"], code: 2, "--encoding \"klingon\" is not one of")
            let empty = repo + "-empty"
            #expect(try run("/usr/bin/env", ["git", "init", "-q", empty]).status == 0)
            try expectFailure(ledger, ["import", "git", empty], code: 1, "has no commits yet; there is nothing to import")
        }
    }
}
