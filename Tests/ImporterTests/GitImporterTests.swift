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
                #expect(summary.passedOver == ["changes to binary files passed over": 1])
                let terms = try #require(try ledger.events(of: "terms.md"))
                #expect(terms.map(\.type) == [.published, .edited, .retracted])
                #expect(terms.map(\.actor) == ["White House", "White House", "Ada Author"])
                #expect(terms[1].at == Timestamp(iso8601: "2023-12-28T21:00:00Z"))
                #expect(terms[1].message == "Reissue without the phrase")
                #expect(terms[2].reason?.hasPrefix("renamed to joint-communique.md in ") == true && terms[2].kind == .deleted)
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

    @Test func aShallowCloneImportsWhatItHasAndSaysSo() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/r")
            for i in 1...4 {
                try repo.write("a.md", "version \(i)\n")
                try repo.commit("v\(i)", date: "2023-01-0\(i)T00:00:00Z")
            }
            let shallow = dir + "/shallow"
            let cloned = try run("/usr/bin/env", ["git", "clone", "-q", "--depth", "2", "file://\(repo.path)", shallow])
            try #require(cloned.status == 0, "\(cloned.err)")
            try withTemporaryLedger { ledger throws in
                let summary = try importGit(ledger, shallow)
                #expect(summary.notes.count == 1)
                #expect(summary.notes.first?.contains("is a shallow clone") == true)
                #expect(try ledger.events(of: "a.md")?.map(\.type) == [.published, .edited])
                #expect(try ledger.state(of: "a.md")?.text == "version 4\n")
            }
        }
    }

    @Test func aRepositoryWithNoCommitsIsRefusedByName() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/empty")
            try withTemporaryLedger { ledger throws in
                #expect {
                    _ = try importGit(ledger, repo.path)
                } throws: { error in
                    let failure = error as? ImportFailure
                    return failure?.error.code == .notFound && failure?.error.message == "the repository \(repo.path) has no commits yet; there is nothing to import"
                }
                #expect(try ledger.head().position == 0)
            }
        }
    }

    @Test func aBareRepositoryIsNamedWithoutItsSuffix() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/work")
            try repo.write("a.md", "a\n")
            try repo.commit("a")
            let bare = dir + "/project.git"
            #expect(try run("/usr/bin/env", ["git", "clone", "-q", "--bare", repo.path, bare]).status == 0)
            try withTemporaryLedger { ledger throws in
                _ = try importGit(ledger, bare)
                #expect(try ledger.events(of: "a.md")?.first?.source?.hasPrefix("project@") == true)
            }
        }
    }

    @Test func aPathThatIsNotUTF8IsNamedOrDecoded() throws {
        try withTemporaryDirectory { dir throws in
            var stream = Data("commit refs/heads/main\nauthor A <a@example.org> 1700000000 +0000\ncommitter A <a@example.org> 1700000000 +0000\ndata 2\nhi\n".utf8)
            stream += Data("M 100644 inline ok.md\ndata 3\nok\n\n".utf8)
            stream += Data("commit refs/heads/main\nauthor A <a@example.org> 1700000060 +0000\ncommitter A <a@example.org> 1700000060 +0000\ndata 2\nho\n".utf8)
            stream += Data("M 100644 inline caf".utf8) + Data([0xE9]) + Data(".md\ndata 5\ncafe\n\n".utf8)
            let repo = dir + "/r.git"
            #expect(try run("/usr/bin/env", ["git", "init", "-q", "--bare", "-b", "main", repo]).status == 0)
            #expect(try run("/usr/bin/env", ["git", "-C", repo, "fast-import", "--quiet"], input: stream).status == 0)
            try withTemporaryLedger { ledger throws in
                #expect {
                    _ = try importGit(ledger, repo)
                } throws: { error in
                    let message = (error as? ImportFailure)?.error.message ?? ""
                    return message.contains("commit ") && message.contains("the path \"caf\\xE9.md\" is not valid UTF-8") && message.contains("--encoding")
                }
                // The commit before it was kept.
                #expect(try ledger.state(of: "ok.md")?.text == "ok\n")
                _ = try importGit(ledger, repo, encoding: .isoLatin1)
                #expect(try ledger.state(of: "café.md")?.text == "cafe\n")
            }
        }
    }

    @Test func submodulesAndFilesOverTheLimitArePassedOverAndCounted() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/r")
            try repo.write("big.md", String(repeating: "a long line of text\n", count: 100))
            try repo.write("small.md", "small\n")
            try repo.git("add", "big.md", "small.md")
            try repo.git("update-index", "--add", "--cacheinfo", "160000,\(String(repeating: "ab", count: 20)),vendor/lib")
            try repo.git("commit", "-q", "-m", "start")
            try repo.write("small.md", String(repeating: "it grew past the limit\n", count: 100))
            try repo.git("add", "small.md")
            try repo.git("commit", "-q", "-m", "grow")
            try withTemporaryLedger { ledger throws in
                var importer = GitImporter(ledger: ledger)
                importer.maximumFileBytes = 1000
                let summary = try importer.run(repository: repo.path)
                #expect(summary.passedOver == [
                    "changes to submodules passed over": 1, "changes to files over the size limit a version passed over": 1,
                ])
                #expect(try ledger.document("big.md") == nil)
                #expect(try ledger.document("vendor/lib") == nil)
                let small = try #require(try ledger.events(of: "small.md"))
                #expect(small.map(\.type) == [.published, .retracted])
                #expect(small[1].reason?.hasPrefix("became larger than the limit a version") == true)
            }
        }
    }

    @Test func anInvalidAuthorDateFallsBackToTheCommitterDateAndSaysSo() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/r")
            try repo.write("a.md", "a\n")
            try repo.commit("a", date: "2023-01-01T00:00:00Z")
            let tree = try repo.git("rev-parse", "HEAD^{tree}")
            let parent = try repo.git("rev-parse", "HEAD")
            func literalCommit(author: String, committer: String, parent: String) throws -> String {
                let body = "tree \(tree)\nparent \(parent)\nauthor \(author)\ncommitter \(committer)\n\nliteral\n"
                let written = try run("/usr/bin/env", ["git", "-C", repo.path, "hash-object", "-t", "commit", "-w", "--literally", "--stdin"], input: Data(body.utf8))
                try #require(written.status == 0, "\(written.err)")
                return written.out.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            // The tree is unchanged, so the commit adds a file through a second, ordinary commit on top.
            let badAuthor = try literalCommit(author: "Bad Date <b@example.org> notadate +0000", committer: "C <c@example.org> 1700000000 +0000", parent: parent)
            try repo.git("reset", "-q", "--soft", badAuthor)
            try repo.write("b.md", "b\n")
            try repo.git("add", "b.md")
            let treeB = try repo.git("write-tree")
            let body = "tree \(treeB)\nparent \(badAuthor)\nauthor Bad Date <b@example.org> 99999999999999999999 +0000\ncommitter C <c@example.org> 1700000100 +0000\n\nb\n"
            let written = try run("/usr/bin/env", ["git", "-C", repo.path, "hash-object", "-t", "commit", "-w", "--literally", "--stdin"], input: Data(body.utf8))
            try repo.git("update-ref", "refs/heads/main", written.out.trimmingCharacters(in: .whitespacesAndNewlines))
            try withTemporaryLedger { ledger throws in
                let summary = try importGit(ledger, repo.path)
                #expect(summary.notes == ["1 commit has an invalid author date; the committer date was used"])
                #expect(try ledger.events(of: "b.md")?.first?.at == Timestamp(milliseconds: 1_700_000_100_000))
                #expect(try ledger.events(of: "b.md")?.first?.actor == "Bad Date")
            }
            // Neither date valid: refused, naming the commit.
            let neither = "tree \(treeB)\nparent \(parent)\nauthor X <x@example.org> soon +0000\ncommitter Y <y@example.org> later +0000\n\nx\n"
            let bad = try run("/usr/bin/env", ["git", "-C", repo.path, "hash-object", "-t", "commit", "-w", "--literally", "--stdin"], input: Data(neither.utf8))
            let badID = bad.out.trimmingCharacters(in: .whitespacesAndNewlines)
            try repo.git("update-ref", "refs/heads/undated", badID)
            try withTemporaryLedger { ledger throws in
                #expect {
                    _ = try importGit(ledger, repo.path, branch: "undated")
                } throws: { error in
                    (error as? ImportFailure)?.error.message.contains("commit \(badID.prefix(12)) has neither a valid author date nor a valid committer date") == true
                }
                #expect(try ledger.state(of: "a.md")?.text == "a\n")
            }
        }
    }

    @Test func aCorruptObjectStopsTheImportNamingTheCommitAndPath() throws {
        try withTemporaryDirectory { dir throws in
            let repo = try ScratchRepo(dir + "/r")
            try repo.write("a.md", "first\n")
            try repo.commit("one", date: "2023-01-01T00:00:00Z")
            try repo.write("b.md", "second file, about to be damaged\n")
            try repo.commit("two", date: "2023-01-02T00:00:00Z")
            let commit = try repo.git("rev-parse", "HEAD")
            let blob = try repo.git("rev-parse", "HEAD:b.md")
            let object = repo.path + "/.git/objects/\(blob.prefix(2))/\(blob.dropFirst(2))"
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: object)
            try Data("this is not a zlib stream".utf8).write(to: URL(fileURLWithPath: object))
            try withTemporaryLedger { ledger throws in
                #expect {
                    _ = try importGit(ledger, repo.path)
                } throws: { error in
                    let message = (error as? ImportFailure)?.error.message ?? ""
                    // git reports a loose object it cannot inflate as missing.
                    return message.contains("commit \(commit.prefix(12)), b.md: the object \(blob)") && message.contains("the 1 event before it was committed")
                }
                #expect(try ledger.state(of: "a.md")?.text == "first\n")
                #expect(try ledger.document("b.md") == nil)
            }
        }
    }
}
