import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the ledger: every event's hash and the chain, gap-free positions and versions, every text against its hash, the Merkle tree and signed checkpoints, the indexes.",
        discussion: "Exits 4, naming the first bad position, when anything does not check. --projections also rebuilds every projection into scratch tables and compares them with the live ones."
    )

    @OptionGroup var location: LedgerOptions
    @Flag(help: "Also rebuild every projection into scratch tables and compare.") var projections = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let ledger = try location.open(readOnly: !projections)
        let report = try ledger.verify(projections: projections)
        if output.json {
            printJSON([
                "ok": .bool(report.isClean), "events": .int(Int64(report.events)), "texts": .int(Int64(report.texts)),
                "textBytes": .int(Int64(report.textBytes)), "merkleRoot": .string(report.merkleRoot.hex), "checkpoints": .int(Int64(report.checkpoints)),
                "capturedRecords": .int(Int64(report.capturedRecords)),
                "firstProblem": .optional(report.firstProblem),
                "projectionMismatches": .array(report.projectionMismatches.map { .string($0.description) }),
            ])
        } else if report.isClean {
            print("OK: \(report.events) events, hashes and chain recomputed; \(report.texts) texts match their hashes; Merkle root \(report.merkleRoot.hex); \(report.checkpoints) signed checkpoint\(report.checkpoints == 1 ? "" : "s") checked; \(report.capturedRecords > 0 ? "\(report.capturedRecords) captured WARC record\(report.capturedRecords == 1 ? "" : "s") match their digests; " : "")indexes match the log\(projections ? "; every projection equals a rebuild" : "").")
        }
        guard report.isClean else {
            let problems = [report.firstProblem].compactMap { $0 } + report.projectionMismatches.map(\.description)
            throw LedgerError(.integrity, "verification failed: \(problems.joined(separator: "; "))")
        }
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Figures: events, documents, events by type, and per actor.")

    @OptionGroup var location: LedgerOptions
    @Option(help: "Show at most this many actors.") var limit: Int = 20
    @OptionGroup var output: OutputOptions

    func run() throws {
        let stats = try location.open(readOnly: true).statistics()
        if output.json {
            printJSON(Answers.statistics(stats, actors: limit))
            return
        }
        print("\(stats.events) events, \(stats.documents) documents (\(stats.retractedDocuments) retracted), \(stats.actors.count) actors.")
        print(EventType.allCases.map { "\(stats.eventsByType[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", "))
        if !stats.actors.isEmpty { print("\nEVENTS  DOCUMENTS  FIRST                 LAST                  ACTOR") }
        for actor in stats.actors.prefix(max(0, limit)) {
            print("\(String(actor.events).leftPadded(6, " "))  \(String(actor.documents).leftPadded(9, " "))  \(actor.firstAt.iso8601.padding(toLength: 20, withPad: " ", startingAt: 0))  \(actor.lastAt.iso8601.padding(toLength: 20, withPad: " ", startingAt: 0))  \(actor.name)")
        }
    }
}

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
        let checkpoints = list ? try ledger.checkpoints() : [try ledger.signCheckpoint()]
        if output.json {
            let objects = checkpoints.map(\.json)
            printJSON(list ? ["publicKey": .string(keyHex), "checkpoints": .array(objects)] : ["publicKey": .string(keyHex), "checkpoint": objects[0]])
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
}

struct Prove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove",
        abstract: "Print an inclusion proof (an event is in a signed checkpoint's tree) or a consistency proof (one checkpoint's tree extends another's).",
        discussion: """
            `prove POS` proves the event at position POS against checkpoint N (--checkpoint), by default the \
            latest checkpoint that covers POS. `prove --consistency OLD NEW` proves checkpoint NEW's tree \
            extends checkpoint OLD's. Proofs follow RFC 9162 §2.1; each is checked before it is printed.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "POS, or with --consistency the numbers of the old and new checkpoints.") var numbers: [UInt64] = []
    @Option(help: "Prove against this checkpoint (its number, see `checkpoint --list`).") var checkpoint: UInt64?
    @Flag(help: "Prove consistency between two checkpoints.") var consistency = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if consistency {
            guard numbers.count == 2, checkpoint == nil else { throw ValidationError("prove --consistency takes two checkpoint numbers, OLD and NEW, and no --checkpoint") }
        } else {
            guard numbers.count == 1 else { throw ValidationError("prove takes one position (or --consistency OLD NEW)") }
        }
    }

    func run() throws {
        let ledger = try location.open(readOnly: true)
        let checkpoints = try ledger.checkpoints()
        func checkpoint(_ number: UInt64) throws -> SignedCheckpoint {
            guard let found = checkpoints.first(where: { $0.number == number }) else {
                throw LedgerError(.notFound, "the ledger has no checkpoint \(number) (it has \(checkpoints.count))")
            }
            return found
        }
        if consistency {
            let (old, new) = (try checkpoint(numbers[0]), try checkpoint(numbers[1]))
            guard old.treeSize <= new.treeSize else {
                throw LedgerError(.invalidInput, "checkpoint \(old.number) covers \(old.treeSize) events, more than checkpoint \(new.number) (\(new.treeSize)); give the older one first")
            }
            let proof = try ledger.consistencyProof(oldSize: old.treeSize, newSize: new.treeSize)
            guard proof.isValid, proof.oldRoot == old.rootHash, proof.newRoot == new.rootHash else {
                throw LedgerError(.integrity, "the ledger's Merkle tree does not agree with checkpoints \(old.number) and \(new.number); run `palimpsest verify`")
            }
            if output.json {
                printJSON(["oldCheckpoint": old.json, "newCheckpoint": new.json, "proof": proof.json])
            } else {
                print("Checkpoint \(new.number) (\(new.treeSize) events, root \(new.rootHash.hex))")
                print("extends checkpoint \(old.number) (\(old.treeSize) events, root \(old.rootHash.hex)).")
                print("Consistency proof (RFC 9162 §2.1.4), \(proof.path.count) hashes:")
                for hash in proof.path { print("  \(hash.hex)") }
            }
            return
        }
        let position = numbers[0]
        let head = try ledger.head().position
        guard position >= 1, position <= head else { throw LedgerError(.notFound, "there is no event at position \(position); the ledger has \(head)") }
        let target: SignedCheckpoint
        if let number = self.checkpoint {
            target = try checkpoint(number)
            guard position <= target.treeSize else {
                throw LedgerError(.notFound, "checkpoint \(number) covers the first \(target.treeSize) events, not position \(position)")
            }
        } else {
            guard let latest = checkpoints.last(where: { $0.treeSize >= position }) else {
                throw LedgerError(.notFound, "no checkpoint covers position \(position) yet; sign one with `palimpsest checkpoint`")
            }
            target = latest
        }
        let proof = try ledger.inclusionProof(position: position, treeSize: target.treeSize)
        guard proof.isValid, proof.rootHash == target.rootHash else {
            throw LedgerError(.integrity, "the ledger's Merkle tree does not agree with checkpoint \(target.number); run `palimpsest verify`")
        }
        if output.json {
            printJSON(["checkpoint": target.json, "proof": proof.json])
        } else {
            print("Event \(position) (hash \(proof.eventHash.hex))")
            print("is in checkpoint \(target.number) (\(target.treeSize) events, root \(target.rootHash.hex), signed \(target.time.iso8601)).")
            print("Inclusion proof (RFC 9162 §2.1.3), leaf index \(position - 1), \(proof.path.count) hashes, nearest first:")
            for hash in proof.path { print("  \(hash.hex)") }
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an audit report: a document's whole life, or a phrase's life across documents.",
        discussion: """
            JSON reports (schema Schemas/report.schema.json) carry the events they cite, an inclusion proof \
            of each in a signed checkpoint, the texts they quote and the diffs between them, and a signature \
            over the whole report: `python3 tools/verify-report.py REPORT.json --public-key KEY` checks one \
            offline. HTML is one self-contained page (no network, prints well); Markdown and CSV are for \
            reading and spreadsheets. When no checkpoint covers the cited events, one is signed first. \
            The format defaults to the --out file's extension, else md.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, md, html, csv
    }

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The document to report on (or use --phrase).") var document: String?
    @Option(help: ArgumentHelp("Report on this phrase, across documents (with --doc: in one).", valueName: "phrase")) var phrase: String?
    @Option(help: ArgumentHelp("With --phrase: only this document.", valueName: "doc")) var doc: String?
    @Flag(name: .customLong("ignore-case"), help: "With --phrase: fold case when matching.") var ignoreCase = false
    @Option(help: "json, md, html or csv.") var format: Format?
    @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file")) var out: String?

    func validate() throws {
        guard (document == nil) != (phrase == nil) else { throw ValidationError("give a document, or --phrase P, not both") }
        if document != nil, doc != nil || ignoreCase { throw ValidationError("--doc and --ignore-case go with --phrase") }
    }

    var chosenFormat: Format {
        if let format { return format }
        switch out.map({ ($0 as NSString).pathExtension.lowercased() }) {
        case "json": return .json
        case "html", "htm": return .html
        case "csv": return .csv
        default: return .md
        }
    }

    func run() throws {
        if let out {
            // Refuse a place the report cannot be written before signing anything.
            let directory = (out as NSString).deletingLastPathComponent.isEmpty ? "." : (out as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw LedgerError(.invalidInput, "cannot write the report to \(out): the directory \(directory) does not exist")
            }
            guard access(directory, W_OK) == 0 else { throw LedgerError(.invalidInput, "cannot write the report to \(out): the directory \(directory) is not writable") }
        }
        let ledger = try location.open()
        let subject: AuditReport.Subject = if let document { .document(document) } else { .phrase(phrase!, ignoringCase: ignoreCase, document: doc) }
        let (report, signedNew) = try ledger.auditReport(subject)
        if signedNew { writeToStandardError("note: signed checkpoint \(report.checkpoint.number) (\(report.checkpoint.treeSize) events) to prove the report against\n") }
        let bytes: [UInt8]
        switch chosenFormat {
        case .json: bytes = CanonicalJSON.encode(report.json()) + [0x0A]
        case .md: bytes = Array(AuditReportRenderer(report).markdown().utf8)
        case .html: bytes = Array(AuditReportRenderer(report).html().utf8)
        case .csv: bytes = Array(AuditReportRenderer(report).csv().utf8)
        }
        guard let out else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        // Written beside the target and renamed over it: a reader never sees half a report.
        let temporary = out + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes), attributes: [.posixPermissions: 0o644]) else {
            throw LedgerError(.invalidInput, "cannot write the report to \(out): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, out) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw LedgerError(.invalidInput, "cannot write the report to \(out): \(reason)")
        }
        writeToStandardError("wrote \(out) (\(chosenFormat.rawValue), \(bytes.count) bytes, \(report.events.count) events cited, checkpoint \(report.checkpoint.number))\n")
    }
}
