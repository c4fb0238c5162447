import ArgumentParser
import Foundation
import Palimpsest
import PalimpsestPresentation

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
