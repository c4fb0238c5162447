import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

/// The shared ledger (DESIGN.md §10) against a real PostgreSQL server each suite starts itself
/// (tools/pg-cluster: initdb in a temporary directory, an unprivileged user, a loopback port).
@Suite(.serialized) struct SharedLedgerTests {
    static let cluster: PostgresCluster? = try? PostgresCluster()

    static let sharedWriter = URL(fileURLWithPath: palimpsestExecutable).deletingLastPathComponent().appendingPathComponent("PalimpsestSharedWriter").path

    func withDatabase(_ body: (PostgresCluster, String, String) throws -> Void) throws {
        let cluster = try #require(SharedLedgerTests.cluster, "PostgreSQL's server is not installed or did not start (tools/pg-cluster; .ci/run installs it)")
        let url = try cluster.createDatabase()
        try withTemporaryDirectory { dir in try body(cluster, url, dir) }
    }

    func cli(_ arguments: [String], input: String? = nil) throws -> ProcessOutput {
        try palimpsest(arguments, input: input.map { Data($0.utf8) })
    }

    /// libpq is loaded when a shared ledger is first used, not linked: the executable does not name it
    /// (so a command on a local ledger never loads it and its dependencies), and a shared ledger still
    /// works (the tests after this one).
    @Test func theExecutableDoesNotLinkLibpq() throws {
        let dynamic = try run("/usr/bin/env", ["readelf", "-d", palimpsestExecutable])
        #expect(dynamic.status == 0 && dynamic.out.contains("(NEEDED)"), "\(dynamic.err)")
        #expect(!dynamic.out.contains("libpq"), "\(dynamic.out)")
        let loaded = try run("/usr/bin/env", ["LD_DEBUG=libs", palimpsestExecutable, "--version"])
        #expect(loaded.status == 0 && loaded.err.contains("libc.so") && !loaded.err.contains("libpq"), "\(loaded.err.suffix(2000))")
    }

    @Test func twoMachinesWriteAThirdFollowsAndEveryReplicaAnswersAlike() throws {
        try withDatabase { cluster, url, dir in
            let (r1, r2, r3) = (dir + "/machine1", dir + "/machine2", dir + "/follower")
            let made = try cli(["--ledger", url, "init", "--replica", r1, "--origin", "example.org/shared", "--json"])
            #expect(made.status == 0, "\(made.err)")
            #expect(made.out.contains("\"created\":true"))
            #expect(FileManager.default.fileExists(atPath: r1 + "/signing-key"))
            // Init again: the database already holds the ledger; nothing is recreated.
            let again = try cli(["--ledger", url, "--replica", r2, "init"])
            #expect(again.status == 0)
            #expect(again.out.contains("already exists"))
            #expect(!FileManager.default.fileExists(atPath: r2 + "/signing-key"))

            // The follower starts before any event and trails the writers.
            let follower = Process()
            follower.executableURL = URL(fileURLWithPath: palimpsestExecutable)
            follower.arguments = ["replicate", url, "--into", r3, "--follow", "--poll", "0.2"]
            follower.standardOutput = FileHandle.nullDevice
            follower.standardError = FileHandle.nullDevice
            try follower.run()
            defer { if follower.isRunning { kill(follower.processIdentifier, SIGKILL) } }

            #expect(try cli(["publish", "--ledger", url, "--replica", r1, "communique", "--actor", "White House", "--text-file", "-"], input: "Root causes of migration, including democratic decline.\n").status == 0)
            #expect(try cli(["edit", "--ledger", url, "--replica", r2, "communique", "--actor", "White House", "--text-file", "-"], input: "Root causes of migration.\n").status == 0)
            #expect(try cli(["publish", "--ledger", url, "--replica", r2, "comunicado", "--actor", "SRE", "--language", "es", "--text-file", "-"], input: "Causas estructurales de la migración.\n").status == 0)
            // Machine 1 has not seen machine 2's edit, yet its expectation is checked against the shared log.
            let stale = try cli(["edit", "--ledger", url, "--replica", r1, "communique", "--actor", "x", "--expect-version", "1", "--text-file", "-"], input: "stale\n")
            #expect(stale.status == 3)
            #expect(stale.err.contains("version 2"), "\(stale.err)")
            #expect(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events") == "3")
            #expect(try cli(["retract", "--ledger", url, "--replica", r1, "comunicado", "--actor", "SRE", "--reason", "superseded"]).status == 0)

            let signed = try cli(["checkpoint", "--ledger", url, "--replica", r1, "--json"])
            #expect(signed.status == 0, "\(signed.err)")
            let unsigned = try cli(["checkpoint", "--ledger", url, "--replica", r2])
            #expect(unsigned.status == 1)
            #expect(unsigned.err.contains("holds no signing key"))

            // The follower catches up within a few seconds (bounded wait).
            let deadline = Date().addingTimeInterval(20)
            var followed = ""
            while Date() < deadline {
                followed = (try? cli(["log", "--ledger", r3, "--json"]).out) ?? ""
                if followed.contains("\"position\":4") { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            kill(follower.processIdentifier, SIGTERM)
            #expect(waitForExit(follower, seconds: 10))
            #expect(try cli(["replicate", url, "--into", r3]).status == 0)

            // Every reading command gives the same answer on every replica.
            let questions: [[String]] = [
                ["log", "--json"], ["show", "communique", "--version", "1"], ["diff", "communique", "1", "2"],
                ["removed", "democratic decline", "--json"], ["blame", "communique", "--json"], ["docs", "--json"],
                ["checkpoint", "--list", "--json"], ["export"],
            ]
            for question in questions {
                let answers = try [r1, r2, r3].map { replica in
                    let out = try cli([question[0], "--ledger", replica] + question.dropFirst())
                    #expect(out.status == 0, "\(question) on \(replica): \(out.err)")
                    return out.out
                }
                #expect(answers[0] == answers[1] && answers[1] == answers[2], "\(question) differs between replicas")
                #expect(!answers[0].isEmpty)
            }
            let removed = try cli(["removed", "--ledger", r3, "democratic decline"])
            #expect(removed.out.contains("White House"))
            // The database's own export (through a fresh replica) equals the replicas'.
            let direct = try cli(["export", "--ledger", url, "--replica", dir + "/fresh"])
            #expect(direct.status == 0)
            #expect(direct.out == (try cli(["export", "--ledger", r3]).out))
            for replica in [r1, r2, r3] {
                let verified = try cli(["verify", "--ledger", replica])
                #expect(verified.status == 0, "\(verified.out)\(verified.err)")
            }
        }
    }

    @Test func aLocalLedgerMovesIntoASharedOneThroughItsExport() throws {
        try withDatabase { cluster, url, dir in
            let local = dir + "/local"
            #expect(try cli(["init", "--ledger", local]).status == 0)
            #expect(try cli(["publish", "--ledger", local, "memo", "--actor", "a", "--at", "2024-01-02T10:00:00Z", "--text-file", "-"], input: "First draft of the memo.\n").status == 0)
            #expect(try cli(["edit", "--ledger", local, "memo", "--actor", "b", "--at", "2024-01-03T10:00:00Z", "--text-file", "-"], input: "Second draft of the memo, longer.\n").status == 0)
            #expect(try cli(["retract", "--ledger", local, "memo", "--actor", "a", "--at", "2024-01-04T10:00:00Z", "--reason", "superseded"]).status == 0)
            let exported = try cli(["export", "--ledger", local])
            #expect(exported.status == 0)
            let file = dir + "/local.jsonl"
            try exported.stdout.write(to: URL(fileURLWithPath: file))

            #expect(try cli(["--ledger", url, "init", "--replica", dir + "/r1"]).status == 0)
            let imported = try cli(["import", "jsonl", "--ledger", url, "--replica", dir + "/r1", file, "--json"])
            #expect(imported.status == 0, "\(imported.err)")
            #expect(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events") == "3")
            // Importing it again adds nothing; a line that does not follow the shared head is a conflict.
            #expect(try cli(["import", "jsonl", "--ledger", url, "--replica", dir + "/r1", file]).status == 0)
            #expect(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events") == "3")
            // Another machine's replica holds exactly the local ledger's events: same positions, times, hashes.
            #expect(try cli(["replicate", url, "--into", dir + "/r2"]).status == 0)
            #expect(try cli(["export", "--ledger", dir + "/r2"]).out == exported.out)
            #expect(try cli(["verify", "--ledger", dir + "/r2"]).status == 0)
        }
    }

    @Test func aCaptureOnOneMachineIsEvidenceOnEveryReplica() throws {
        try withDatabase { _, url, dir in
            let root = dir + "/site"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let server = try CaptureServer(root: root)
            defer { server.stop() }
            let article = "<html><head><title>Joint statement</title></head><body><article><h1>Joint statement</h1>"
            try server.put("statement.html", article + "<p>The leaders discussed the root causes of migration, including democratic decline, and agreed to act.</p></article></body></html>")
            #expect(try cli(["--ledger", url, "init", "--replica", dir + "/capturer"]).status == 0)
            let first = try cli(["capture", "--ledger", url, "--replica", dir + "/capturer", server.url("statement.html"), "--doc", "statement", "--delay", "0", "--json"])
            #expect(first.status == 0, "\(first.err)")
            try server.put("statement.html", article + "<p>The leaders discussed the root causes of migration and agreed to act.</p></article></body></html>")
            #expect(try cli(["capture", "--ledger", url, "--replica", dir + "/capturer", server.url("statement.html"), "--doc", "statement", "--delay", "0"]).status == 0)

            // Another machine's replica gets the events and the WARC files, and verifies both.
            #expect(try cli(["replicate", url, "--into", dir + "/reader"]).status == 0)
            let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/capturer/warc").filter { $0.hasSuffix(".warc.gz") }
            #expect(!files.isEmpty)
            for file in files {
                let here = try Data(contentsOf: URL(fileURLWithPath: dir + "/capturer/warc/" + file))
                let there = try Data(contentsOf: URL(fileURLWithPath: dir + "/reader/warc/" + file))
                #expect(here == there, "\(file) differs between the replicas")
            }
            let verified = try cli(["verify", "--ledger", dir + "/reader"])
            #expect(verified.status == 0, "\(verified.out)\(verified.err)")
            let removed = try cli(["removed", "--ledger", dir + "/reader", "democratic decline"])
            #expect(removed.out.contains("statement"), "\(removed.out)")
        }
    }

    @Test func badInputIsRefusedInOneSentenceAndLeavesEverythingAsItWas() throws {
        try withDatabase { cluster, url, dir in
            let port = cluster.port
            // Unreachable: nothing listens on the port after the cluster's; the password is never shown.
            let unreachable = try cli(["--ledger", "postgres://palimpsest:s3cret@127.0.0.1:1/none", "log", "--replica", dir + "/u"])
            #expect(unreachable.status == 5)
            #expect(unreachable.err.contains("cannot connect to the shared ledger at postgres://palimpsest:***@127.0.0.1:1/none"), "\(unreachable.err)")
            #expect(!unreachable.err.contains("s3cret"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/u"))

            // A database without a ledger.
            let none = try cli(["replicate", url, "--into", dir + "/none"])
            #expect(none.status == 1)
            #expect(none.err.contains("holds no Palimpsest ledger"), "\(none.err)")
            #expect(try cli(["replicate", "/not/a/url", "--into", dir + "/x"]).status == 2)

            #expect(try cli(["--ledger", url, "init", "--replica", dir + "/r1"]).status == 0)
            for n in 1...3 {
                #expect(try cli(["publish", "--ledger", url, "--replica", dir + "/r1", "doc\(n)", "--actor", "a", "--text-file", "-"], input: "text \(n)\n").status == 0)
            }
            // libpq's PG* variables fill in what the URL leaves out (here the user).
            var environment = ProcessInfo.processInfo.environment
            environment["PGUSER"] = "palimpsest"
            let userless = url.replacingOccurrences(of: "palimpsest@", with: "")
            let viaEnvironment = try palimpsest(["replicate", userless, "--into", dir + "/env", "--json"], environment: environment)
            #expect(viaEnvironment.status == 0, "\(viaEnvironment.err)")
            #expect(viaEnvironment.out.contains("\"events\":3"))
            // TLS when the URL asks for it: this server has none, and says so.
            let tls = try cli(["replicate", url + "?sslmode=require", "--into", dir + "/tls"])
            #expect(tls.status == 5)
            #expect(tls.err.contains("SSL"), "\(tls.err)")
            // A user without privileges on the tables.
            _ = try cluster.sql(url, "CREATE ROLE reader LOGIN")
            let reader = url.replacingOccurrences(of: "palimpsest@", with: "reader@")
            let refused = try cli(["replicate", reader, "--into", dir + "/reader"])
            #expect(refused.status == 5)
            #expect(refused.err.contains("lacks the privilege"), "\(refused.err)")

            // Redaction is refused on a shared ledger, and nothing changes.
            let redact = try cli(["redact", "--ledger", url, "--replica", dir + "/r1", "doc1", "--version", "1", "--reason", "test", "--actor", "a"])
            #expect(redact.status == 2, "\(redact.err)")
            #expect(redact.err.contains("not supported"))
            #expect(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events") == "3")

            // A tampered row: replication stops at it (exit 4, naming the position), keeping what checked.
            _ = try cluster.sql(url, "UPDATE palimpsest_events SET hash = sha256(hash) WHERE position = 2")
            let tampered = try cli(["replicate", url, "--into", dir + "/r2"])
            #expect(tampered.status == 4)
            #expect(tampered.err.contains("position 2"), "\(tampered.err)")
            #expect(try cli(["log", "--ledger", dir + "/r2", "--json"]).out.contains("\"position\":1"))
            #expect(!(try cli(["log", "--ledger", dir + "/r2", "--json"]).out.contains("\"position\":2")))

            // A schema of another version is refused by name.
            _ = try cluster.sql(url, "UPDATE palimpsest_meta SET value = '99' WHERE key = 'schemaVersion'")
            let newer = try cli(["replicate", url, "--into", dir + "/r3"])
            #expect(newer.status == 5)
            #expect(newer.err.contains("schema version 99"), "\(newer.err)")
            _ = port
        }
    }

    @Test func eightWritersTwoReplicasKillsAndAnImmediateRestart() throws {
        // Its own cluster: the restart must not disturb the other tests' databases.
        let cluster = try PostgresCluster()
        let url = cluster.url
        try withTemporaryDirectory { dir in
            #expect(try cli(["--ledger", url, "init", "--replica", dir + "/origin"]).status == 0)
            let eventsPerWriter = 600, batch = 5
            func startWriter(_ n: Int) throws -> Process {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: SharedLedgerTests.sharedWriter)
                p.arguments = [url, dir + "/writer\(n)", "w\(n)", String(eventsPerWriter), String(batch)]
                let out = dir + "/writer\(n).out"
                if !FileManager.default.fileExists(atPath: out) { FileManager.default.createFile(atPath: out, contents: nil) }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
                handle.seekToEndOfFile()
                p.standardOutput = handle
                p.standardError = FileHandle.nullDevice
                try p.run()
                return p
            }
            func startReplica(_ n: Int) throws -> Process {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: palimpsestExecutable)
                p.arguments = ["replicate", url, "--into", dir + "/replica\(n)", "--follow", "--poll", "0.2"]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                return p
            }
            var writers = try (0..<8).map(startWriter)
            var replicas = try (0..<2).map(startReplica)
            defer { for p in writers + replicas where p.isRunning { kill(p.processIdentifier, SIGKILL) } }

            var rng = SeededGenerator(seed: 20)
            // SIGKILL two writers and one replica at random moments, and restart them.
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...0.8, using: &rng))
            for victim in [1, 5] {
                kill(writers[victim].processIdentifier, SIGKILL)
                writers[victim].waitUntilExit()
                writers[victim] = try startWriter(victim)
                Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.3, using: &rng))
            }
            kill(replicas[0].processIdentifier, SIGKILL)
            replicas[0].waitUntilExit()
            replicas[0] = try startReplica(0)
            // The server dies in the middle of the load and recovers.
            try cluster.restartImmediately()

            for (n, writer) in writers.enumerated() {
                #expect(waitForExit(writer, seconds: 240), "writer \(n) did not finish")
                #expect(writer.terminationStatus == 0, "writer \(n) exited \(writer.terminationStatus)")
            }
            for replica in replicas {
                kill(replica.processIdentifier, SIGTERM)
                #expect(waitForExit(replica, seconds: 20))
            }

            // Every acknowledged event is in the database exactly once.
            var acked = Set<String>()
            var conflicts = 0, retries = 0
            for n in 0..<8 {
                let lines = try String(contentsOfFile: dir + "/writer\(n).out", encoding: .utf8).split(separator: "\n")
                for line in lines where line.hasPrefix("ack ") { acked.insert(String(line.split(separator: " ")[1])) }
                conflicts += lines.filter { $0 == "conflict" }.count
                #expect(lines.last?.hasPrefix("{") == true, "writer \(n) did not finish its run")
                if let last = lines.last, let summary = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] {
                    retries += summary["retries"] as? Int ?? 0
                }
            }
            #expect(acked.count >= 8 * eventsPerWriter)
            // The restart came in the middle of the load: writers lost their connections and retried.
            #expect(retries > 0)
            let ids = Set(try cluster.sql(url, "SELECT event_id FROM palimpsest_events").split(separator: "\n").map(String.init))
            #expect(acked.isSubset(of: ids), "\(acked.subtracting(ids).count) acknowledged events are missing")
            #expect(ids.count == Int(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events")))
            // Positions 1…N without a gap; every document's versions 1…n without a gap.
            #expect(try cluster.sql(url, "SELECT count(*) = max(position) AND min(position) = 1 FROM palimpsest_events") == "t")
            #expect(try cluster.sql(url, "SELECT count(*) FROM (SELECT document FROM palimpsest_events GROUP BY document HAVING count(*) <> max(version)) gaps") == "0")
            #expect(try cluster.sql(url, "SELECT position FROM palimpsest_head") == (try cluster.sql(url, "SELECT max(position) FROM palimpsest_events")))
            // Every writer's own events, and the contended document's successful edits, are there.
            #expect(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events WHERE document <> 'contended'") == String(8 * eventsPerWriter))
            let contended = Int(try cluster.sql(url, "SELECT count(*) FROM palimpsest_events WHERE document = 'contended'")) ?? -1
            // Every try at the contended document was either recorded or reported as a conflict.
            #expect(contended >= 1)
            #expect(contended + conflicts >= 8)

            // Replicas byte-identical to each other and to the database; verify clean everywhere.
            for n in 0..<2 { #expect(try cli(["replicate", url, "--into", dir + "/replica\(n)"]).status == 0) }
            let exports = try [dir + "/replica0", dir + "/replica1", dir + "/writer3", dir + "/origin"].map { replica in
                _ = try cli(["replicate", url, "--into", replica])
                return try cli(["export", "--ledger", replica]).out
            }
            #expect(exports.allSatisfy { $0 == exports[0] })
            #expect(exports[0].split(separator: "\n").count == ids.count)
            for replica in [dir + "/replica0", dir + "/replica1", dir + "/writer3"] {
                let verified = try cli(["verify", "--ledger", replica])
                #expect(verified.status == 0, "\(replica): \(verified.out)\(verified.err)")
            }
        }
    }
}
