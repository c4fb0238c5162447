import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@testable import PalimpsestImporters

/// A repository written in one `git fast-import` stream: every kind of tree entry (text, binary,
/// symbolic link, submodule pointer, a file over the importer's limit), renames, merges and side
/// branches, without a work tree (a submodule pointer needs none).
struct FastImportRepo {
    enum Content: Equatable {
        case text(String), binary(String), symbolicLink(String), submodule(String), tooLarge(String)
        case executable(String)  // a text file with mode 100755

        var kind: GitPathKind {
            switch self {
            case .text, .executable: .text
            case .binary: .binary
            case .symbolicLink: .symbolicLink
            case .submodule: .submodule
            case .tooLarge: .tooLarge
            }
        }
    }

    enum Operation {
        case set(String, Content)
        case delete(String)
        case rename(String, String)
    }

    /// The limit on file size the tests give the importer: `tooLarge` content is over it.
    static let limit = 600

    private(set) var stream = ""
    private var marks = 0
    private var time: Int64 = 1_700_000_000
    /// The author time of every commit, by mark.
    private(set) var times: [Int: Int64] = [:]

    /// Adds a commit on `branch` and returns its mark. `from` and `merge` are marks.
    @discardableResult
    mutating func commit(_ branch: String, from: Int?, merge: Int? = nil, author: String = "Ada", _ operations: [Operation]) -> Int {
        marks += 1
        time += 60
        times[marks] = time
        let message = "commit \(marks)"
        stream += "commit refs/heads/\(branch)\nmark :\(marks)\n"
        stream += "author \(author) <\(author.lowercased())@example.org> \(time) +0000\n"
        stream += "committer \(author) <\(author.lowercased())@example.org> \(time) +0000\n"
        stream += "data \(message.utf8.count)\n\(message)\n"
        if let from { stream += "from :\(from)\n" }
        if let merge { stream += "merge :\(merge)\n" }
        for operation in operations {
            switch operation {
            case .set(let path, let content):
                switch content {
                case .text(let s), .tooLarge(let s): stream += inline("100644", path, s)
                case .executable(let s): stream += inline("100755", path, s)
                case .binary(let s): stream += inline("100644", path, s + "\u{0}\u{1}")
                case .symbolicLink(let target): stream += inline("120000", path, target)
                case .submodule(let commit): stream += "M 160000 \(commit) \(path)\n"
                }
            case .delete(let path): stream += "D \(path)\n"
            case .rename(let from, let to): stream += "R \(from) \(to)\n"
            }
        }
        stream += "\n"
        return marks
    }

    private func inline(_ mode: String, _ path: String, _ data: String) -> String {
        "M \(mode) inline \(path)\ndata \(data.utf8.count)\n\(data)\n"
    }

    /// Writes the repository at `path` (bare).
    func write(to path: String) throws {
        #expect(try run("/usr/bin/env", ["git", "init", "-q", "--bare", "-b", "main", path]).status == 0)
        let result = try run("/usr/bin/env", ["git", "-C", path, "fast-import", "--quiet"], input: Data(stream.utf8))
        try #require(result.status == 0, "git fast-import: \(result.err)")
    }
}

/// What git itself says a path was in a commit: its mode and bytes (from `ls-tree` and `cat-file`).
struct GitTruth {
    let repo: String

    /// Every path in the commit's tree: mode and content (nil for a submodule pointer).
    func tree(_ commit: String) throws -> [String: (mode: String, bytes: [UInt8]?)] {
        let listing = try run("/usr/bin/env", ["git", "-C", repo, "ls-tree", "-r", "-z", commit])
        try #require(listing.status == 0, "\(listing.err)")
        var result: [String: (String, [UInt8]?)] = [:]
        for entry in listing.out.split(separator: "\0") {
            let parts = entry.split(separator: "\t", maxSplits: 1)
            let fields = parts[0].split(separator: " ")
            let path = String(parts[1])
            if fields[0] == "160000" {
                result[path] = (String(fields[0]), nil)
            } else {
                let shown = try run("/usr/bin/env", ["git", "-C", repo, "show", "\(commit):\(path)"])
                try #require(shown.status == 0, "git show \(commit):\(path): \(shown.err)")
                result[path] = (String(fields[0]), Array(shown.stdout))
            }
        }
        return result
    }

    /// The text the ledger must show for an entry, or nil when it must show none (absent, retracted).
    static func expectedText(mode: String, bytes: [UInt8]?, limit: Int) -> String? {
        guard mode.hasPrefix("100"), let bytes, bytes.count <= limit, !bytes.prefix(8000).contains(0) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

@Suite struct GitTransitionPropertyTests {
    static let kinds: [GitPathKind] = [.absent, .text, .binary, .symbolicLink, .submodule, .tooLarge]

    static func content(_ kind: GitPathKind, _ salt: String) -> FastImportRepo.Content? {
        switch kind {
        case .absent: nil
        case .text: .text("words about \(salt), and more words\n")
        case .binary: .binary("bytes of \(salt)")
        case .symbolicLink: .symbolicLink("target-\(salt)")
        case .submodule: .submodule(String(Digest.sha256(salt).hex.prefix(40)))
        case .tooLarge: .tooLarge(String(repeating: "long text of \(salt). ", count: 60))
        }
    }

    /// Every (before, after) pair of kinds on its own path in two commits, then renames across
    /// kinds, a side branch that deletes a path and adds it back (fast-forwardable, so inlined), a
    /// diverged branch merged over a type change, and then random operations and merges.
    static func repository(seed: UInt64) -> (FastImportRepo, pairs: Set<String>) {
        var rng = SeededGenerator(seed: seed)
        var repo = FastImportRepo()
        var pairs = Set<String>()
        var first: [FastImportRepo.Operation] = [], second: [FastImportRepo.Operation] = []
        for a in kinds {
            for b in kinds {
                let path = "pair-\(a.rawValue)-\(b.rawValue).txt"
                if let c = content(a, "\(path) one") { first.append(.set(path, c)) }
                if let c = content(b, "\(path) two") { second.append(.set(path, c)) } else if a != .absent { second.append(.delete(path)) }
                pairs.insert("\(a.rawValue)>\(b.rawValue)")
            }
        }
        first.append(.set("mode.txt", .text("the same words\n")))
        second.append(.set("mode.txt", .executable("the same words\n")))
        var main = repo.commit("main", from: nil, first)
        main = repo.commit("main", from: main, second)

        // Renames across kinds: text, a link, a binary file, a text file renamed into a link's place.
        let renameSources: [(String, FastImportRepo.Content)] = [
            ("r-text.txt", .text("a paragraph that will move to another path\n")), ("r-link", .symbolicLink("somewhere")),
            ("r-binary.bin", .binary("renamed bytes")), ("r-text2.txt", .text("a text renamed and changed a little\n")),
        ]
        main = repo.commit("main", from: main, renameSources.map { .set($0.0, $0.1) })
        main = repo.commit("main", from: main, [
            .rename("r-text.txt", "r-text-moved.txt"), .rename("r-link", "r-link-moved"), .rename("r-binary.bin", "r-binary-moved.bin"),
            .rename("r-text2.txt", "r-text2-moved.txt"), .set("r-text2-moved.txt", .text("a text renamed and changed a little more\n")),
        ])

        // A fast-forwardable side branch: the path deleted, then added back (inlined: retract, restore).
        let side1 = repo.commit("topic", from: main, author: "Side", [.delete("pair-text-text.txt")])
        let side2 = repo.commit("topic", from: side1, author: "Side", [.set("pair-text-text.txt", .text("back again\n"))])
        main = repo.commit("main", from: main, merge: side2, author: "Merger", [.set("pair-text-text.txt", .text("back again\n"))])

        // A diverged branch: its merge is one event, measured against the first parent; the merge
        // itself deletes a path and adds it back as a link (one type change).
        let diverged = repo.commit("diverged", from: main, author: "Other", [.set("d.txt", .text("diverged\n"))])
        main = repo.commit("main", from: main, [.set("e.txt", .text("mainline\n"))])
        main = repo.commit("main", from: main, merge: diverged, author: "Merger", [
            .set("d.txt", .text("diverged\n")), .set("e.txt", .symbolicLink("e-target")),
        ])

        // Random operations on a few paths, with side branches now and then.
        let pool = ["x.txt", "y.txt", "z.md", "w.bin"]
        var current: [String: GitPathKind] = [:]
        for step in 0..<24 {
            var operations: [FastImportRepo.Operation] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let path = pool.randomElement(using: &rng)!
                let kind = kinds.randomElement(using: &rng)!
                if Int.random(in: 0..<6, using: &rng) == 0, current[path] != nil,
                    let target = pool.first(where: { candidate in current[candidate] == nil && !operations.contains(where: { Self.touches($0, candidate) }) }),
                    !operations.contains(where: { Self.touches($0, path) })
                {
                    operations.append(.rename(path, target))
                    current[target] = current[path]
                    current[path] = nil
                    continue
                }
                guard !operations.contains(where: { Self.touches($0, path) }) else { continue }
                if let c = content(kind, "\(path) step \(step) \(Int.random(in: 0..<3, using: &rng))") {
                    operations.append(.set(path, c))
                    current[path] = kind
                } else if current[path] != nil {
                    operations.append(.delete(path))
                    current[path] = nil
                }
            }
            if Int.random(in: 0..<5, using: &rng) == 0 {
                let tip = repo.commit("side\(step)", from: main, author: "Side", operations)
                main = repo.commit("main", from: main, merge: tip, author: "Merger", operations)
            } else {
                main = repo.commit("main", from: main, operations)
            }
        }
        return (repo, pairs)
    }

    static func touches(_ operation: FastImportRepo.Operation, _ path: String) -> Bool {
        switch operation {
        case .set(let p, _), .delete(let p): p == path
        case .rename(let a, let b): a == path || b == path
        }
    }

    /// After every first-parent commit, every path the repository ever had reads in the ledger as
    /// `git show COMMIT:PATH` when that is a text file within the limit, and as absent or retracted
    /// otherwise.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func everyTransitionMatchesGit(seed: UInt64) throws {
        let (built, pairs) = Self.repository(seed: seed)
        #expect(pairs.count == Self.kinds.count * Self.kinds.count)
        try withTemporaryDirectory { dir throws in
            let path = dir + "/generated.git"
            try built.write(to: path)
            let truth = GitTruth(repo: path)
            try withTemporaryLedger { ledger throws in
                var importer = GitImporter(ledger: ledger)
                importer.maximumFileBytes = FastImportRepo.limit
                let summary = try importer.run(repository: path)
                #expect(summary.passedOver["changes to submodules passed over", default: 0] > 0)
                #expect(summary.passedOver["changes to symbolic links passed over", default: 0] > 0)
                #expect(summary.passedOver["changes to binary files passed over", default: 0] > 0)
                #expect(summary.passedOver["changes to files over the size limit a version passed over", default: 0] > 0)
                #expect(summary.passedOver["changes of file mode alone passed over"] == 1)

                let firstParents = try run("/usr/bin/env", ["git", "-C", path, "rev-list", "--first-parent", "--reverse", "--format=%at", "main"])
                let lines = firstParents.out.split(separator: "\n")
                var everPath = Set<String>()
                for i in stride(from: 0, to: lines.count, by: 2) {
                    let commit = String(lines[i].dropFirst("commit ".count))
                    let at = Timestamp(milliseconds: Int64(lines[i + 1])! * 1000)
                    let tree = try truth.tree(commit)
                    everPath.formUnion(tree.keys)
                    for p in everPath.sorted() {
                        let expected = tree[p].flatMap { GitTruth.expectedText(mode: $0.mode, bytes: $0.bytes, limit: FastImportRepo.limit) }
                        let state = try ledger.state(of: p, asOf: .time(at))
                        if let expected {
                            #expect(state?.status == .active && state?.text == expected, "\(p) at \(commit.prefix(8)) (seed \(seed))")
                        } else {
                            #expect(state == nil || state?.status == .retracted, "\(p) at \(commit.prefix(8)) should not be text (seed \(seed))")
                        }
                    }
                }
                // The rename of a text keeps the link to where it came from; the side branch's
                // deletion and re-addition are credited to its author, the merge's own change to the merger.
                #expect(try ledger.state(of: "r-text-moved.txt")?.variantOf == "r-text.txt")
                #expect(try ledger.events(of: "r-text.txt")?.last?.reason?.hasPrefix("renamed to r-text-moved.txt") == true)
                #expect(try ledger.events(of: "r-link-moved") == nil)
                let readded = try #require(try ledger.events(of: "pair-text-text.txt"))
                #expect(readded.suffix(2).map(\.type) == [.retracted, .restored])
                #expect(readded.suffix(2).map(\.actor) == ["Side", "Side"])
                #expect(try ledger.events(of: "e.txt")?.last?.reason?.hasPrefix("became a symbolic link") == true)
                #expect(try ledger.events(of: "d.txt")?.map(\.actor) == ["Merger"])
                // Again: nothing added.
                let again = try importer.run(repository: path)
                #expect(again.added == 0 && again.skipped == summary.added)
            }
        }
    }

    /// The rule itself, pair by pair: text on both sides is an edit (or nothing, for a mode change);
    /// becoming text publishes; stopping being text retracts, saying why; the rest is passed over.
    @Test func theRuleForEveryPairOfKinds() {
        for a in Self.kinds {
            for b in Self.kinds {
                let t = GitPathTransition(path: "p", old: a, new: b, oldBlob: "1", newBlob: "2", from: nil, renamedTo: nil)
                switch (a, b) {
                case (.text, .text): #expect(t.action == .edit)
                case (_, .text): #expect(t.action == .publish(variantOf: nil, renamed: false))
                case (.text, .absent): #expect(t.action == .retract(reason: "deleted", renamed: false))
                case (.text, _): #expect(t.action == .retract(reason: b.becameReason, renamed: false))
                default:
                    guard case .passOver = t.action else { Issue.record("\(a) → \(b): \(t.action)"); continue }
                }
            }
        }
        let renamed = GitPathTransition(path: "new", old: .absent, new: .text, oldBlob: "0", newBlob: "2", from: ("old", .text, false), renamedTo: nil)
        #expect(renamed.action == .publish(variantOf: "old", renamed: true))
        let fromLink = GitPathTransition(path: "new", old: .absent, new: .text, oldBlob: "0", newBlob: "2", from: ("old", .symbolicLink, false), renamedTo: nil)
        #expect(fromLink.action == .publish(variantOf: nil, renamed: true))
        let away = GitPathTransition(path: "old", old: .text, new: .absent, oldBlob: "1", newBlob: "0", from: nil, renamedTo: "new")
        #expect(away.action == .retract(reason: "renamed to new", renamed: true))
        let mode = GitPathTransition(path: "p", old: .text, new: .text, oldBlob: "1", newBlob: "1", from: nil, renamedTo: nil)
        #expect(mode.action == .passOver("changes of file mode alone passed over"))
    }
}
