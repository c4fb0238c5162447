import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPostgres
import PalimpsestPresentation

struct Checkpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Sign and store a checkpoint: the ledger's ID, its number of events and their Merkle root, and the time.",
        discussion: """
            The signature is Ed25519 with the ledger's key (made by `init`, kept in the ledger directory as \
            signing-key, mode 0600) over the RFC 8785 canonical JSON of {ledgerId, rootHash, time, treeSize}. \
            Each checkpoint is also signed as a C2SP signed note (c2sp.org/tlog-checkpoint: origin, tree size, \
            base64 root), which `serve` publishes at /checkpoint and --note prints; Go's sumdb/note checks it \
            with the key --public-key --note-format prints. Witnesses trusted with --add-witness may send their \
            cosignatures back (--cosigned FILE, or POST /api/v1/cosignatures); --list shows them. \
            Hand the public key (--public-key) to whoever will check your reports.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Flag(help: "List the stored checkpoints instead of signing a new one.") var list = false
    @Flag(name: .customLong("public-key"), help: "Print the ledger's public key (hex) and nothing else.") var publicKey = false
    @Flag(name: .customLong("note-format"), help: "With --public-key: print it as a signed-note verifier key (origin+keyID+base64).") var noteFormat = false
    @Flag(help: "Print the latest checkpoint as a C2SP signed note (with its witnesses' cosignatures).") var note = false
    @Option(help: ArgumentHelp("Name the log's origin (the checkpoints' first line and key name) before signing; fixed once a note is signed.", valueName: "origin"))
    var origin: String?
    @Option(name: .customLong("add-witness"), help: ArgumentHelp("Trust this witness's cosignatures (a verifier key name+hex+base64 of algorithm 4).", valueName: "vkey"))
    var addWitness: String?
    @Option(help: ArgumentHelp("Store the cosignatures a witness sent back: a file holding the cosigned checkpoint note (- for standard input).", valueName: "file"))
    var cosigned: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if noteFormat, !publicKey { throw ValidationError("--note-format goes with --public-key") }
        let modes = [list, publicKey, note, addWitness != nil, cosigned != nil].filter { $0 }.count
        if modes > 1 { throw ValidationError("give one of --list, --public-key, --note, --add-witness and --cosigned") }
        if origin != nil, modes > 0 { throw ValidationError("--origin goes with signing a checkpoint (or with `init`)") }
    }

    func run() throws {
        let ledger = try location.open(readOnly: list || publicKey || note)
        guard let key = try ledger.publicKey() else {
            throw LedgerError(.notFound, "the ledger at \(location.path) has no signing key; run `palimpsest init` on it to create one")
        }
        let keyHex = Hex.encode(key)
        if publicKey {
            let text = noteFormat ? try ledger.noteVerifierKey() ?? keyHex : keyHex
            if output.json { printJSON([noteFormat ? "verifierKey" : "publicKey": .string(text)]) } else { print(text) }
            return
        }
        if note {
            guard let (_, note) = try ledger.latestCheckpointNote() else {
                throw LedgerError(.notFound, "the ledger has no checkpoint signed as a note yet; `palimpsest checkpoint` signs one")
            }
            print(note.text, terminator: "")
            return
        }
        if let addWitness {
            let witness = try SignedNote.VerifierKey(parsing: addWitness)
            try ledger.addWitness(witness)
            print("Trusting the witness \(witness.name) (key ID \(Hex.encode(witness.keyID))).")
            return
        }
        if let cosigned {
            let text = try readText(from: cosigned)
            let (number, added) = try ledger.addCosignatures(try SignedNote.Note(parsing: text))
            for cosignature in added {
                print("Stored \(cosignature.witness)'s cosignature of checkpoint \(number), signed \(Timestamp(milliseconds: Int64(cosignature.timestamp) * 1000).iso8601).")
            }
            return
        }
        if let origin { try ledger.setOrigin(origin) }
        if list, output.json {
            printJSON(try Answers.checkpointList(ledger))
            return
        }
        let checkpoints = list ? try ledger.checkpoints() : [try signCheckpoint(ledger)]
        if output.json {
            printJSON(["publicKey": .string(keyHex), "checkpoint": checkpoints[0].json])
            return
        }
        if list, checkpoints.isEmpty { print("No checkpoints yet; `palimpsest checkpoint` signs one.") }
        for checkpoint in checkpoints {
            print("Checkpoint \(checkpoint.number): \(checkpoint.treeSize) events, Merkle root \(checkpoint.rootHash.hex), signed \(checkpoint.time.iso8601).")
            for cosignature in try ledger.cosignatures(number: checkpoint.number) {
                print("    cosigned by \(cosignature.witness) at \(Timestamp(milliseconds: Int64(cosignature.timestamp) * 1000).iso8601)")
            }
        }
        if !list {
            print("Ledger \(ledger.id.uuidString.lowercased()), origin \(try ledger.origin()), public key \(keyHex).")
        }
    }

    /// Signs a checkpoint; for a shared ledger, on the replica that holds its key, then stores it in
    /// the database, where every replica copies it from.
    private func signCheckpoint(_ ledger: Ledger) throws -> SignedCheckpoint {
        guard let url = location.sharedURL else { return try ledger.signCheckpoint() }
        guard FileManager.default.fileExists(atPath: (location.path as NSString).appendingPathComponent(Ledger.signingKeyFile)) else {
            throw LedgerError(.notFound, "the replica \(location.path) holds no signing key: the shared ledger's checkpoints are signed on the machine that ran `init` (its replica keeps the key)")
        }
        let checkpoint = try ledger.signCheckpoint()
        guard let stored = try ledger.storedCheckpoint(number: checkpoint.number) else {
            throw LedgerError(.storage, "checkpoint \(checkpoint.number) was signed but cannot be read back")
        }
        try PostgresSharedLog(url: url).storeCheckpoint(checkpoint, statement: stored.statement, note: stored.note)
        return checkpoint
    }
}
