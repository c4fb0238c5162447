import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// Files and permissions, hostile document IDs, a full disk, and malformed input thrown at the
/// importers (issue: reliability).
@Suite struct ReliabilityTests {
    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func everyFileOfALedgerIsOwnerOnly() throws {
        try withCLILedger { ledger throws in
            #expect(try cli(ledger, "publish", "a", "--actor", "x", stdin: "text").status == 0)
            #expect(try mode(ledger) == 0o700)
            for file in ["data.mdb", "lock.mdb", Ledger.signingKeyFile] { #expect(try mode(ledger + "/" + file) == 0o600, "\(file)") }
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give a directory to another user"))
    func aLedgerOwnedBySomeoneElseIsRefusedUnlessAllowed() throws {
        try withCLILedger { ledger throws in
            #expect(try cli(ledger, "publish", "a", "--actor", "x", stdin: "text").status == 0)
            #expect(chown(ledger, 4242, 4242) == 0)
            let refused = try cli(ledger, "show", "a")
            #expect(refused.status == 5 && refused.err.contains("belongs to user 4242"), "\(refused.err)")
            let allowed = try cli(ledger, "show", "a", "--allow-foreign-owner")
            #expect(allowed.status == 0 && allowed.out == "text", "\(allowed.err)")
            let library = try #require(throws: LedgerError.self) { try Ledger.open(at: ledger) }
            #expect(library.code == .storage)
            var options = Ledger.Options()
            options.allowForeignOwner = true
            #expect(try Ledger.open(at: ledger, options: options).state(of: "a")?.text == "text")
        }
    }

    @Test func nothingIsWrittenOutsideTheLedgerAndTheNamedFiles() throws {
        try withTemporaryDirectory { dir throws in
            let (home, temporary, work) = (dir + "/home", dir + "/tmp", dir + "/work")
            for path in [home, temporary, work] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            let environment = ["HOME": home, "TMPDIR": temporary, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            let ledger = dir + "/ledger", report = dir + "/report.html"
            func run(_ arguments: [String], input: String = "") throws {
                let result = try palimpsest(["--ledger", ledger] + arguments, input: Data(input.utf8), environment: environment, directory: work)
                #expect(result.status == 0, "\(arguments): \(result.err)")
            }
            try run(["init"])
            try run(["publish", "../../etc/passwd", "--actor", "x"], input: "root causes: democratic decline")
            try run(["edit", "../../etc/passwd", "--actor", "x"], input: "root causes")
            for command in [["verify"], ["checkpoint"], ["removed", "democratic decline"], ["blame", "../../etc/passwd"], ["export"], ["report", "--phrase", "democratic decline", "--out", report], ["replay"], ["stats"]] {
                try run(command)
            }
            for path in [home, temporary, work] {
                #expect(try FileManager.default.contentsOfDirectory(atPath: path).isEmpty, "\(path) was written to")
            }
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == ["home", "tmp", "work", "ledger", "report.html"])
            #expect(!FileManager.default.fileExists(atPath: dir + "/etc"))
        }
    }

    @Test func hostileDocumentIDsAreRefusedOrHarmless() throws {
        try withCLILedger { ledger throws in
            // A NUL cannot pass through a command line (C strings end there); it can through an import.
            let nul = CanonicalJSON.string(["type": "publish", "doc": "a\u{0}b", "at": "2023-12-28", "actor": "x", "text": "t"])
            try expectFailure(ledger, ["import", "jsonl", "-"], stdin: nul, code: 2, "contains the control character U+0000")
            try expectFailure(ledger, ["publish", "two\nlines", "--actor", "x"], stdin: "t", code: 2, "contains the control character U+000A")
            try expectFailure(ledger, ["publish", String(repeating: "x", count: 1025), "--actor", "x"], stdin: "t", code: 2, "is 1025 bytes long; the limit is 1024")
            // A path-like ID is only a name: stored, shown, never used as a path.
            #expect(try cli(ledger, "publish", "../../../tmp/evil", "--actor", "x", stdin: "t").status == 0)
            #expect(try cli(ledger, "show", "../../../tmp/evil").out == "t")
            #expect(!FileManager.default.fileExists(atPath: "/tmp/evil"))
            let long = String(repeating: "é", count: 512)  // 1,024 bytes: the limit exactly
            #expect(try cli(ledger, "publish", long, "--actor", "x", stdin: "t").status == 0)
        }
    }

    /// Invalid UTF-8 wherever it can come in — an argument (document ID, actor, message, phrase), the
    /// text on standard input, any field or key of a jsonl line, any element of a MediaWiki export —
    /// is refused with exit 2 and a sentence saying where; the ledger is left as it was. (Swift would
    /// quietly turn a bad argument into U+FFFD: the CLI checks the raw bytes first.)
    @Test func invalidUTF8AnywhereIsRefusedByName() throws {
        try withCLILedger { ledger throws in
            #expect(try cli(ledger, "publish", "kept", "--actor", "x", stdin: "democratic decline").status == 0)
            func expectRefused(_ arguments: [String], input: [UInt8] = [], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
                let before = try ledgerContents(ledger)
                // Arguments pass through printf so that they can carry any bytes (Process takes Strings).
                let script = "exec \"$0\" --ledger \"$1\" " + arguments.map { "\"$(printf '%b' '\($0)')\"" }.joined(separator: " ")
                let result = try run("/bin/sh", ["-c", script, palimpsestExecutable, ledger], input: Data(input))
                #expect(result.status == 2, "exit \(result.status): \(result.err)", sourceLocation: sourceLocation)
                #expect(result.err.hasPrefix("palimpsest: ") && result.err.contains(fragment), "\(result.err)", sourceLocation: sourceLocation)
                #expect(try ledgerContents(ledger) == before, "the ledger changed", sourceLocation: sourceLocation)
            }
            let bad = "\\0377\\0376"
            try expectRefused(["publish", "doc\(bad)", "--actor", "x"], input: Array("t".utf8), "argument 4 is not valid UTF-8 (first bad byte at offset 3)")
            try expectRefused(["publish", "doc", "--actor", "x\(bad)"], input: Array("t".utf8), "argument 6 is not valid UTF-8 (first bad byte at offset 1)")
            try expectRefused(["edit", "kept", "--actor", "x", "--message", "why \(bad)"], input: Array("t".utf8), "argument 8 is not valid UTF-8 (first bad byte at offset 4)")
            try expectRefused(["removed", "democratic\(bad)"], "argument 4 is not valid UTF-8 (first bad byte at offset 10)")
            try expectRefused(["publish", "doc", "--actor", "x"], input: Array("root ".utf8) + [0xC3, 0x28], "the text in standard input is not valid UTF-8 (first bad byte at offset 5)")
            // jsonl: every field, a key, and bytes outside any string.
            let line = Array(#"{"type":"publish","doc":"D","at":"2023-12-28","actor":"A","text":"T","message":"M","id":"6c9f3ad2-3d5e-4f7e-9d55-1f0a7c1e2b3a"}"#.utf8)
            func spoiled(_ field: String) -> [UInt8] {
                let marker = Array(field.utf8)
                let at = (0...(line.count - marker.count)).first { Array(line[$0..<($0 + marker.count)]) == marker }!
                return Array(line[..<(at + marker.count - 1)]) + [0xFF] + Array(line[(at + marker.count - 1)...])
            }
            for field in [#""publish""#, #""D""#, #""2023-12-28""#, #""A""#, #""T""#, #""M""#, #""6c9f3ad2-3d5e-4f7e-9d55-1f0a7c1e2b3a""#, #""actor""#] {
                try expectRefused(["import", "jsonl", "-"], input: spoiled(field), "standard input line 1: the line is not valid JSON: a string is not valid UTF-8")
            }
            try expectRefused(["import", "jsonl", "-"], input: line + [0x20, 0xFF], "standard input line 1: the line is not valid JSON: unexpected characters after the JSON value")
            // MediaWiki: every element the importer reads.
            for element in ["title", "username", "comment", "text"] {
                var values = ["title": "Page", "username": "Bob", "comment": "c", "text": "hello world"]
                values[element] = "\u{1}"  // a placeholder, replaced by a bad byte below
                let xml = """
                    <mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><page><title>\(values["title"]!)</title><ns>0</ns><id>1</id>\
                    <revision><id>10</id><timestamp>2023-12-28T00:00:00Z</timestamp><contributor><username>\(values["username"]!)</username><id>3</id></contributor>\
                    <comment>\(values["comment"]!)</comment><text bytes="11">\(values["text"]!)</text></revision></page></mediawiki>
                    """
                let file = ledger + ".\(element).xml"
                try Data(Array(xml.utf8).map { $0 == 1 ? 0xFF : $0 }).write(to: URL(fileURLWithPath: file))
                try expectRefused(["import", "mediawiki", file], "the <\(element)> of revision")
            }
        }
    }

    /// A 10 MB single line is imported; a text over the limit (32 MiB and one word, 200 MB) is refused
    /// by name, the ledger unchanged.
    @Test func oversizedInputsWithinAndBeyondTheLimits() throws {
        try withCLILedger { ledger throws in
            var rng = SeededGenerator(seed: 5)
            let words = ["root", "causes", "of", "migration", "democratic", "decline", "and", "violence"]
            var ten = ""
            while ten.utf8.count < 10_000_000 { ten += words[Int(rng.next() % 8)] + " " }
            let line = CanonicalJSON.string(["type": "publish", "doc": "ten-megabytes", "at": "2023-12-28", "actor": "x", "text": .string(ten)])
            let imported = try cli(ledger, "import", "jsonl", "-", stdin: line)
            #expect(imported.status == 0, "\(imported.err)")
            #expect(try cli(ledger, "show", "ten-megabytes").out == ten)
            let huge = String(repeating: "a ", count: Ledger.maximumTextBytes / 2 + 1)
            try expectFailure(ledger, ["publish", "huge", "--actor", "x"], stdin: huge, code: 2,
                              "the text of \"huge\" is \(huge.utf8.count) bytes; the limit is \(Ledger.maximumTextBytes) bytes (32 MiB) a version")
            // A 200 MB document from a file: refused the same way.
            let file = ledger + ".200mb.txt"
            let chunk = Data(String(repeating: "democratic decline ", count: 1 << 16).utf8)
            #expect(FileManager.default.createFile(atPath: file, contents: nil))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            while try handle.offset() < 200_000_000 { handle.write(chunk) }
            let size = try handle.offset()
            try handle.close()
            try expectFailure(ledger, ["publish", "two-hundred", "--actor", "x", "--text-file", file], code: 2,
                              "the text of \"two-hundred\" is \(size) bytes; the limit is \(Ledger.maximumTextBytes) bytes (32 MiB) a version")
            try FileManager.default.removeItem(atPath: file)
        }
    }

    /// The data file may not grow past a limit (RLIMIT_FSIZE, the way a full disk behaves for one
    /// process): the import stops with "storage full", exit 5, and the ledger still opens and verifies.
    @Test func aFullDiskIsAClearErrorAndTheLedgerSurvives() throws {
        try withCLILedger { ledger throws in
            #expect(try cli(ledger, "publish", "a", "--actor", "x", stdin: "first").status == 0)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: ledger + "/data.mdb")[.size] as? Int)
            var rng = SeededGenerator(seed: 3)
            let lines = (0..<60).map { i in
                CanonicalJSON.string(["type": "publish", "doc": .string("big-\(i)"), "at": "2023-12-28", "actor": "y",
                    "text": .string(String((0..<100_000).map { _ in Character(Unicode.Scalar(UInt8.random(in: 97...122, using: &rng))) }))])
            }
            let file = ledger + ".jsonl"
            try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            // ulimit -f counts 512-byte blocks (POSIX sh): room for the file as it is plus 1 MB.
            let blocks = size / 512 + 2048
            let full = try run("/bin/sh", ["-c", "ulimit -f \(blocks) && exec \"$0\" --ledger \"$1\" import jsonl \"$2\"", palimpsestExecutable, ledger, file])
            #expect(full.status == 5, "exit \(full.status): \(full.err)")
            #expect(full.err.contains("storage full"), "\(full.err)")
            let after = try Ledger.open(at: ledger)
            #expect(try after.verify(projections: true).isClean)
            #expect(try after.state(of: "a")?.text == "first")
        }
    }

    /// Whether this process may mount a small tmpfs (root, and a kernel that lets it): the real
    /// full-disk test needs one.
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, let probe = try? withTemporaryDirectory({ dir in
            try run("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]).status == 0
                && (try run("/usr/bin/env", ["umount", dir])).status == 0
        }) else { return false }
        return probe
    }()

    /// A real full file system: a 16 MB tmpfs, a library writer appending until it is full. The writer
    /// stops with "storage full"; every event it acknowledged is there; the ledger opens and verifies
    /// where it is, its projections equal a rebuild (in a copy: rebuilding needs room); the CLI refuses a write with exit 5 and
    /// leaves the ledger as it was.
    @Test(.enabled(if: canMountTmpfs, "needs root to mount a 16 MB tmpfs"))
    func aFullFileSystemStopsWritersCleanly() throws {
        try withTemporaryDirectory { dir throws in
            let mountPoint = dir + "/small"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            #expect(try run("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", mountPoint]).status == 0)
            defer { _ = try? run("/usr/bin/env", ["umount", "-l", mountPoint]) }
            let ledger = mountPoint + "/ledger", side = dir + "/acknowledged"
            let writer = try run(stressWriterExecutable, [ledger, side, "77"])
            #expect(writer.status == 1, "the writer should stop with an error: exit \(writer.status) \(writer.err)")
            #expect(writer.err.contains("storage full"), "\(writer.err)")
            // Rebuilding the projections to compare them needs room to write: check them in a copy.
            var figures = CrashFigures()
            checkAfterCrash(ledger, sideFile: side, projections: false, into: &figures)
            #expect(figures.problems.isEmpty, "\(figures.problems)")
            let copy = dir + "/copy"
            try FileManager.default.copyItem(atPath: ledger, toPath: copy)
            let rebuilt = try Ledger.open(at: copy).verify(projections: true)
            #expect(rebuilt.isClean && rebuilt.projectionMismatches.isEmpty, "\(rebuilt.firstProblem ?? "") \(rebuilt.projectionMismatches)")
            #expect(figures.lost == 0 && figures.mismatched == 0 && figures.acknowledged > 1_000, "\(figures)")
            let head = try Ledger.open(at: ledger).head().position
            // A write through the CLI on the full file system: refused by name, nothing added.
            var big = ""
            while big.utf8.count < 4_000_000 { big += UUID().uuidString + " " }
            let refused = try cli(ledger, "publish", "one-more", "--actor", "x", stdin: big)
            #expect(refused.status == 5 && refused.err.contains("storage full"), "exit \(refused.status): \(refused.err)")
            let verified = try cli(ledger, "verify")
            #expect(verified.status == 0, "\(verified.err)")
            #expect(try Ledger.open(at: ledger).head().position == head)
            print("full file system: the writer stopped with \"\(writer.err.trimmingCharacters(in: .whitespacesAndNewlines))\" after \(figures.acknowledged) acknowledged events, all found")
        }
    }
}
