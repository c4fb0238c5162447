import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPostgres

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a ledger (idempotent: an existing ledger is left as it is).",
        discussion: """
            Given a postgres://USER@HOST:PORT/DB URL, creates a shared ledger's tables in that database \
            (DESIGN.md §10) and a local replica (--replica) holding the ledger's signing key: checkpoints \
            of the shared ledger are signed on this machine. On a database that already holds a ledger, \
            makes a replica of it here.
            """)

    @OptionGroup var location: LedgerOptions
    @Option(help: ArgumentHelp("The log's origin: the first line of its checkpoints as signed notes, and its key's name (default: palimpsest/LEDGER-ID).", valueName: "origin"))
    var origin: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let origin, !SignedNote.isValidKeyName(origin) {
            throw ValidationError("--origin \"\(origin)\" must be non-empty, at most 255 bytes, without spaces or \"+\"")
        }
    }

    func run() throws {
        if let url = location.sharedURL { return try initShared(url: url) }
        let existed = FileManager.default.fileExists(atPath: (location.path as NSString).appendingPathComponent("data.mdb"))
        let ledger = try Ledger.create(at: location.path, options: location.options)
        if let origin { try ledger.setOrigin(origin) }
        let head = try ledger.head()
        let key = try ledger.publicKey().map(Hex.encode)
        if output.json {
            printJSON([
                "ledger": .string(location.path), "ledgerId": .string(ledger.id.uuidString.lowercased()), "created": .bool(!existed),
                "events": .int(Int64(head.position)), "publicKey": .optional(key),
            ])
        } else if existed {
            print("Ledger \(location.path) already exists (id \(ledger.id.uuidString.lowercased()), \(head.position) events).")
        } else {
            print("Created ledger \(location.path) (id \(ledger.id.uuidString.lowercased())); checkpoints are signed with the Ed25519 key \(key ?? "?").")
        }
    }

    /// A shared ledger: the tables in the database, this machine's replica with the signing key.
    private func initShared(url: String) throws {
        let shown: String
        let created: Bool
        if let log = try existingSharedLedger(url: url) {
            // The database already holds a ledger: this machine becomes one of its replicas.
            shown = log.shownURL
            created = false
            if let origin, origin != log.identity.origin {
                throw LedgerError(.conflict, "the shared ledger at \(shown) already exists under the origin \"\(log.identity.origin)\", not \"\(origin)\"")
            }
        } else {
            // A new ledger: its ID and key pair are made here (the private key stays in the replica).
            let replicaExists = FileManager.default.fileExists(atPath: (location.path as NSString).appendingPathComponent("data.mdb"))
            if replicaExists {
                throw LedgerError(.conflict, "\(location.path) already holds a ledger; give the new shared ledger's replica another directory with --replica")
            }
            let (identity, made) = try createSharedLedger(url: url)
            created = made.created
            guard made.identity == identity else {
                throw LedgerError(.conflict, "another `init` created the shared ledger at \(PostgresSharedLog.shownURL(url)) first; remove \(location.path) and run init again to make a replica of it")
            }
            shown = PostgresSharedLog.shownURL(url)
        }
        let ledger = try location.open()
        let head = try ledger.head()
        let key = try ledger.publicKey().map(Hex.encode)
        if output.json {
            printJSON([
                "ledger": .string(shown), "replica": .string(location.path), "ledgerId": .string(ledger.id.uuidString.lowercased()),
                "created": .bool(created), "events": .int(Int64(head.position)), "publicKey": .optional(key),
            ])
        } else if created {
            print("Created the shared ledger \(shown) (id \(ledger.id.uuidString.lowercased())) and its replica \(location.path), which holds the signing key (Ed25519 \(key ?? "?")): sign checkpoints on this machine.")
        } else {
            print("The shared ledger \(shown) already exists (id \(ledger.id.uuidString.lowercased()), \(head.position) events); its replica is \(location.path).")
        }
    }

    /// The shared ledger in the database, or nil when the database holds none.
    private func existingSharedLedger(url: String) throws -> PostgresSharedLog? {
        do {
            return try PostgresSharedLog(url: url)
        } catch let error where error.code == .notFound {
            return nil
        }
    }

    /// Makes the new ledger's identity in a fresh replica (its key stays there), then the tables.
    private func createSharedLedger(url: String) throws -> (SharedLedgerIdentity, (identity: SharedLedgerIdentity, created: Bool)) {
        do {
            let local = try Ledger.create(at: location.path, options: location.options)
            if let origin { try local.setOrigin(origin) }
            guard let key = try local.publicKey() else { throw LedgerError(.storage, "the new ledger at \(location.path) has no key") }
            let identity = SharedLedgerIdentity(id: local.id, origin: try local.origin(), publicKey: key)
            return (identity, try PostgresSharedLog.create(url: url, identity: identity))
        } catch {
            // Nothing of a ledger that could not be created stays behind.
            try? FileManager.default.removeItem(atPath: location.path)
            throw error
        }
    }
}
