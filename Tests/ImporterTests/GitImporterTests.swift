import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@testable import PalimpsestImporters

/// A scratch git repository driven through the git command line.
struct ScratchRepo {
    let path: String

    init(_ path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("config", "user.name", "Ada Author")
        try git("config", "user.email", "ada@example.org")
    }

    @discardableResult
    func git(_ args: String..., author: String? = nil, date: String? = nil) throws -> String {
        var env = ProcessInfo.processInfo.environment
        if let author { env["GIT_AUTHOR_NAME"] = author }
        if let date { env["GIT_AUTHOR_DATE"] = date; env["GIT_COMMITTER_DATE"] = date }
        let result = try run("/usr/bin/env", ["git", "-C", path] + args, environment: env)
        guard result.status == 0 else { throw GitRepository.Failure(message: result.err) }
        return result.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func write(_ file: String, _ content: String) throws { try write(file, Data(content.utf8)) }

    func write(_ file: String, _ data: Data) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(file)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }

    func commit(_ message: String, author: String = "Ada Author", date: String = "2023-12-28T15:00:00Z") throws {
        try git("add", "-A")
        try git("commit", "-q", "-m", message, author: author, date: date)
    }
}

func importGit(_ ledger: Ledger, _ repo: String, glob: String? = nil, branch: String? = nil, encoding: String.Encoding? = nil) throws(ImportFailure) -> ImportSummary {
    var importer = GitImporter(ledger: ledger)
    importer.pathGlob = glob
    importer.branch = branch
    importer.encoding = encoding
    return try importer.run(repository: repo)
}

@Suite struct GitImporterTests {
    @Test func addsEditsDeletesAndRenames() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/policies")
            try repo.write("terms.md", "Root causes: poverty, inequality, democratic decline, and violence.\n")
            try repo.write("logo.png", Data([0x89, 0x50, 0x4E, 0x47, 0, 0, 1]))
            try repo.commit("Publish terms", author: "White House", date: "2023-12-28T15:00:00Z")
            try repo.write("terms.md", "Root causes: poverty, inequality, and violence.\n")
            try repo.commit("Reissue without the phrase", author: "White House", date: "2023-12-28T21:00:00Z")
            try repo.git("mv", "terms.md", "joint-communique.md")
            try repo.commit("Rename", date: "2023-12-29T10:00:00Z")
            try repo.git("rm", "-q", "joint-communique.md")
            try repo.commit("Withdraw", date: "2023-12-30T10:00:00Z")
            let head = try repo.git("rev-parse", "HEAD")
            try withTemporaryLedger { ledger throws in
                let summary = try importGit(ledger, repo.path)
                #expect(summary.added == 5)
                #expect(summary.passedOver == ["binary files": 1])
                let terms = try #require(try ledger.events(of: "terms.md"))
                #expect(terms.map(\.type) == [.published, .edited, .retracted])
                #expect(terms.map(\.actor) == ["White House", "White House", "Ada Author"])
                #expect(terms[1].at == Timestamp(iso8601: "2023-12-28T21:00:00Z"))
                #expect(terms[1].message == "Reissue without the phrase")
                #expect(terms[2].reason == "renamed to joint-communique.md" && terms[2].kind == .deleted)
                let renamed = try #require(try ledger.events(of: "joint-communique.md"))
                #expect(renamed.map(\.type) == [.published, .retracted])
                #expect(renamed[0].variantOf == "terms.md")
                #expect(renamed[1].source == "policies@\(head)")
                #expect(try ledger.state(of: "terms.md", asOf: .version(1))?.text.contains("democratic decline") == true)
                #expect(try ledger.document("logo.png") == nil)
                // Again: nothing added.
                #expect(try importGit(ledger, repo.path).skipped == 5)
            }
        }
    }

    @Test func aFastForwardableLinearSideBranchIsCreditedToItsAuthors() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/r")
            try repo.write("a.md", "one\n")
            try repo.commit("start", author: "Maintainer", date: "2023-01-01T00:00:00Z")
            try repo.git("checkout", "-q", "-b", "topic")
            try repo.write("a.md", "one\ntwo\n")
            try repo.commit("add two", author: "Contributor", date: "2023-01-02T00:00:00Z")
            try repo.write("b.md", "bee\n")
            try repo.commit("add b", author: "Contributor", date: "2023-01-03T00:00:00Z")
            try repo.git("checkout", "-q", "main")
            try repo.git("merge", "-q", "--no-ff", "topic", "-m", "Merge topic", author: "Maintainer", date: "2023-01-04T00:00:00Z")
            // A second branch that diverged: its merge cannot be a fast-forward, so the merge is the event.
            try repo.git("checkout", "-q", "-b", "diverged", "HEAD~1")
            try repo.write("c.md", "sea\n")
            try repo.commit("add c", author: "Other", date: "2023-01-05T00:00:00Z")
            try repo.git("checkout", "-q", "main")
            try repo.write("a.md", "one\ntwo\nthree\n")
            try repo.commit("three", author: "Maintainer", date: "2023-01-06T00:00:00Z")
            try repo.git("merge", "-q", "--no-ff", "diverged", "-m", "Merge diverged", author: "Merger", date: "2023-01-07T00:00:00Z")
            try withTemporaryLedger { ledger throws in
                _ = try importGit(ledger, repo.path)
                #expect(try ledger.events(of: "a.md")?.map(\.actor) == ["Maintainer", "Contributor", "Maintainer"])
                #expect(try ledger.events(of: "b.md")?.map(\.actor) == ["Contributor"])
                #expect(try ledger.events(of: "c.md")?.map(\.actor) == ["Merger"])
                #expect(try ledger.events().count == 5)
            }
        }
    }

    @Test func pathGlobBranchAndEncoding() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/r")
            try repo.write("Policies/terms.md", "terms\n")
            try repo.write("README.md", "readme\n")
            try repo.commit("start")
            try repo.git("checkout", "-q", "-b", "latin")
            try repo.write("Policies/café.md", Data("caf\u{E9} cr\u{E8}me\n".unicodeScalars.map { UInt8($0.value) }))
            try repo.commit("latin-1 file")
            try withTemporaryLedger { ledger throws in
                _ = try importGit(ledger, repo.path, glob: "Policies/*", branch: "main")
                #expect(try ledger.documents().map(\.id) == ["Policies/terms.md"])
                #expect {
                    _ = try importGit(ledger, repo.path, glob: "Policies/*", branch: "latin")
                } throws: { error in
                    let message = (error as? ImportFailure)?.error.message ?? ""
                    return message.contains("Policies/café.md is not valid UTF-8") && message.contains("commit ") && message.contains("--encoding")
                }
                _ = try importGit(ledger, repo.path, glob: "Policies/*", branch: "latin", encoding: .isoLatin1)
                #expect(try ledger.state(of: "Policies/café.md")?.text == "café crème\n")
            }
        }
    }

    @Test func notARepositoryOrAMissingBranch() throws {
        try withTemporaryDirectory { dir throws in
            try withTemporaryLedger { ledger throws in
                #expect {
                    _ = try importGit(ledger, dir)
                } throws: { error in
                    (error as? ImportFailure)?.error.message == "\(dir) is not a git repository" && (error as? ImportFailure)?.error.code == .notFound
                }
                let repo = try ScratchRepo(dir + "/r")
                try repo.write("a.md", "a")
                try repo.commit("a")
                #expect {
                    _ = try importGit(ledger, repo.path, branch: "nope")
                } throws: { error in
                    (error as? ImportFailure)?.error.message.contains("the branch or commit \"nope\" does not exist") == true
                }
                #expect(try ledger.head().position == 0)
            }
        }
    }
}
