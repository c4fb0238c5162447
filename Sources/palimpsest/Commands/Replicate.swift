import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPostgres

struct Replicate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Copy a shared ledger (PostgreSQL) into a local ledger directory, checking every hash, and optionally follow it.",
        discussion: """
            The local ledger gets the same positions, hashes, recorded times and checkpoints as the shared \
            log. Every event is checked as it is copied (its position, version, chain, text and hash); at \
            the first that does not check, replication stops (exit 4) naming its position. All projections \
            are built locally: every reading command, report and `serve` works against DIR. With --follow \
            it keeps copying, woken by the database's notifications (LISTEN) or every --poll seconds, until \
            interrupted.
            """)

    @Argument(help: ArgumentHelp("The shared ledger: postgres://USER@HOST:PORT/DB (PG* variables fill in what it leaves out).", valueName: "url"))
    var url: String
    @Option(name: .customLong("into"), help: ArgumentHelp("The local replica directory (created when missing).", valueName: "dir"))
    var directory: String
    @Flag(help: "Keep following the shared log until interrupted.") var follow = false
    @Option(help: ArgumentHelp("With --follow: seconds between checks when no notification arrives.", valueName: "seconds"))
    var poll: Double = 1
    @Flag(name: .customLong("allow-foreign-owner"), help: "Open a replica directory that belongs to another user.")
    var allowForeignOwner = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard PostgresSharedLog.isURL(url) else { throw ValidationError("\"\(url)\" is not a postgres:// or postgresql:// URL") }
        guard poll > 0, poll <= 3600 else { throw ValidationError("--poll must be between 0 and 3600 seconds") }
    }

    func run() throws {
        let log = try PostgresSharedLog(url: url)
        var options = Ledger.Options()
        options.allowForeignOwner = allowForeignOwner
        let ledger = try Replicator.openReplica(of: log, in: directory, options: options)
        let replicator = Replicator(log: log, ledger: ledger)
        let summary: ImportSummary
        do {
            summary = try withProgress { progress in try replicator.catchUp(waitForProjections: true, progress: progress) }
        } catch let failure as ImportFailure {
            throw failure.error
        }
        let head = try ledger.head()
        if output.json, !follow {
            printJSON(["replica": .string(directory), "copied": .int(Int64(summary.added)), "events": .int(Int64(head.position)), "hash": .string(head.hash.hex)])
        } else if !output.json {
            print("Replicated \(log.shownURL) into \(directory): \(summary.added) events copied, \(head.position) in all (head \(head.hash.hex.prefix(16))…).")
        }
        guard follow else { return }
        installStopHandlers()
        do {
            try replicator.follow(pollSeconds: poll, shouldStop: { stopRequested != 0 }) { copied, first in
                let head = (try? ledger.head().position) ?? 0
                // How long the oldest event copied waited: from its commit (the database's clock) to now.
                let lag = first.map { Double(Timestamp.now().milliseconds - $0.recordedAt.milliseconds) / 1000 }
                if output.json {
                    printJSON(["copied": .int(Int64(copied.added)), "events": .int(Int64(head)), "lagSeconds": lag.map { .double($0) } ?? .null])
                } else {
                    print("Copied \(copied.added) events (\(head) in all)\(lag.map { String(format: ", %.2f s after the first was committed", $0) } ?? "").")
                }
                fflush(nil)  // a reader of the pipe sees each step as it happens
            }
        } catch {
            throw error.error
        }
    }
}
