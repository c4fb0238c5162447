import Foundation
import LMDB
import PalimpsestTestSupport
import Testing

/// A reader process killed while holding a read transaction must not pin old pages for ever: opening
/// the environment clears its slot (`mdb_reader_check`), and the space is reused.
@Suite struct StaleReaderTests {
    /// Rewrites 500 values of 2 KB, `rounds` times, one transaction per round (each frees ~1 MB).
    func churn(_ env: Environment, _ db: Database, rounds: Int) throws {
        for round in 0..<rounds {
            try env.write { txn in
                for key: UInt64 in 0..<500 { try txn.put(db, key: BigEndianKey.encode(key), value: [UInt8](repeating: UInt8(round & 0xFF), count: 2048)) }
            }
        }
    }

    func startReader(_ path: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: stressWriterExecutable)
        process.arguments = ["--hold-reader", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // Wait until it holds its read transaction.
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        #expect(line.hasPrefix("holding"), "the reader said \(line.debugDescription)")
        return process
    }

    @Test func aKilledReadersSnapshotIsReleasedAndTheSpaceReused() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/env"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            do {
                let env = try Environment(path: path)
                let db = try #require(try env.openDatabases(["t"])["t"])
                try churn(env, db, rounds: 1)
            }
            // While a reader lives, its snapshot's pages cannot be reused: the file grows.
            let reader = try startReader(path)
            let pinnedGrowth: Int
            do {
                let env = try Environment(path: path)
                let db = try #require(try env.openDatabases(["t"])["t"])
                let before = try env.spaceUsage().pagesUsed
                try churn(env, db, rounds: 20)
                pinnedGrowth = try env.spaceUsage().pagesUsed - before
            }
            // Killed holding it, the reader leaves its slot behind; opening clears it.
            kill(reader.processIdentifier, SIGKILL)
            reader.waitUntilExit()
            do {
                let env = try Environment(path: path)
                let db = try #require(try env.openDatabases(["t"])["t"])
                let before = try env.spaceUsage().pagesUsed
                try churn(env, db, rounds: 20)
                let growth = try env.spaceUsage().pagesUsed - before
                print("stale reader: 20 rounds of 1 MB rewrites grew the file by \(pinnedGrowth) pages with a live reader, \(growth) after the killed reader's slot was cleared")
                #expect(pinnedGrowth > 5_000, "the control did not grow: \(pinnedGrowth) pages")
                #expect(growth < pinnedGrowth / 10, "the space was not reused: \(growth) pages")
            }
        }
    }
}
