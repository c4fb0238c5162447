import Foundation
import Synchronization

/// A real PostgreSQL cluster for the shared-ledger tests, started by tools/pg-cluster: initdb into a
/// temporary directory, run as an unprivileged user, on a free loopback port; stopped and removed
/// when released. `available` is false when the server is not installed (the tests then fail and
/// say so: .ci/run installs it).
public final class PostgresCluster: @unchecked Sendable {  // fixed after init
    public let directory: String
    /// The URL of its database "palimpsest".
    public let url: String
    public var port: Int { URLComponents(string: url)?.port ?? 0 }

    static let script = repositoryRoot.appendingPathComponent("tools/pg-cluster").path

    public init() throws {
        _ = PostgresCluster.stopAtExit
        let base = NSTemporaryDirectory() + "palimpsest-pg-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        directory = base + "/data"
        let started = try run(PostgresCluster.script, ["start", directory])
        guard started.status == 0 else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "PostgreSQL did not start: \(started.err)"])
        }
        url = started.out.trimmingCharacters(in: .whitespacesAndNewlines)
        PostgresCluster.running.withLock { $0.append(base) }
    }

    /// Clusters still running, for the exit handler: a cluster held in a static (a suite's shared
    /// server) is never released, and its server must not outlive the test process.
    static let running = Mutex<[String]>([])
    static let stopAtExit: Void = {
        atexit {
            for base in PostgresCluster.running.withLock({ $0 }) {
                // C's system(): Foundation may already be shutting down here.
                _ = system("'\(PostgresCluster.script)' stop '\(base)/data' >/dev/null 2>&1; rm -rf '\(base)'")
            }
        }
    }()

    deinit {
        let base = (directory as NSString).deletingLastPathComponent
        PostgresCluster.running.withLock { $0.removeAll { $0 == base } }
        _ = try? run(PostgresCluster.script, ["stop", directory])
        try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent)
    }

    /// A new, empty database; its URL.
    public func createDatabase(_ name: String = "db_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")) throws -> String {
        let made = try run(PostgresCluster.script, ["createdb", directory, name])
        guard made.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: made.err]) }
        return made.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `pg_ctl restart -m immediate`: the server dies without a checkpoint and recovers from its WAL.
    public func restartImmediately() throws {
        let done = try run(PostgresCluster.script, ["restart", directory])
        guard done.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: done.err]) }
    }

    /// Runs SQL through psql against `url`; the rows, unaligned, one per line.
    public func sql(_ url: String, _ statement: String) throws -> String {
        let out = try run("/usr/bin/env", ["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", url, "-c", statement])
        guard out.status == 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "psql: \(out.err)"]) }
        return out.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
