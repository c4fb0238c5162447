import Crypto
import Foundation
import LMDB

/// The transparency-log world's text formats (C2SP), so that tools that know nothing of Palimpsest —
/// Go's `golang.org/x/mod/sumdb/note`, witnesses, monitors — can check the ledger's checkpoints:
///
/// - c2sp.org/signed-note: a UTF-8 body of newline-terminated lines, a blank line, then one line per
///   signature, `— <key name> <base64(4-byte key ID ‖ signature)>`;
/// - c2sp.org/tlog-checkpoint: the body `<origin>\n<tree size>\n<base64 root hash>\n`;
/// - c2sp.org/tlog-cosignature: a witness's `cosignature/v1` signature line over the same body.
public enum SignedNote {
    /// The signature algorithm byte of a plain Ed25519 note signature (signed-note §Signatures).
    public static let ed25519: UInt8 = 0x01
    /// The algorithm byte of an Ed25519 `cosignature/v1` (tlog-cosignature).
    public static let cosignatureV1: UInt8 = 0x04

    /// One signature line of a note.
    public struct Signature: Sendable, Equatable {
        public var name: String
        /// The first 4 bytes of the decoded base64.
        public var keyID: [UInt8]
        /// What follows the key ID: a 64-byte Ed25519 signature, or timestamp ‖ signature for a cosignature.
        public var payload: [UInt8]

        public var line: String { "— \(name) " + Data(keyID + payload).base64EncodedString() + "\n" }

        public init(name: String, keyID: [UInt8], payload: [UInt8]) {
            (self.name, self.keyID, self.payload) = (name, keyID, payload)
        }
    }

    /// A parsed note: its body (with the final newline) and its signature lines, in order.
    public struct Note: Sendable, Equatable {
        public var body: String
        public var signatures: [Signature]

        public var text: String { body + "\n" + signatures.map(\.line).joined() }

        /// Parses a note, or says in one sentence what is wrong with it.
        public init(parsing text: String) throws(LedgerError) {
            guard let split = text.range(of: "\n\n") else {
                throw LedgerError(.invalidInput, "the note has no blank line between its text and its signatures")
            }
            body = String(text[..<split.lowerBound]) + "\n"
            signatures = []
            let lines = text[split.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
            guard text.hasSuffix("\n"), lines.last == "" else {
                throw LedgerError(.invalidInput, "the note's last signature line does not end with a newline")
            }
            for (n, line) in lines.dropLast().enumerated() {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 3, parts[0] == "—", SignedNote.isValidKeyName(String(parts[1])),
                    let decoded = Data(base64Encoded: String(parts[2])), decoded.count > 4
                else {
                    throw LedgerError(.invalidInput, "signature line \(n + 1) of the note is not `— <key name> <base64 signature>`")
                }
                signatures.append(Signature(name: String(parts[1]), keyID: Array(decoded.prefix(4)), payload: Array(decoded.dropFirst(4))))
            }
            guard !signatures.isEmpty else { throw LedgerError(.invalidInput, "the note has no signature lines") }
        }

        public init(body: String, signatures: [Signature]) {
            (self.body, self.signatures) = (body, signatures)
        }
    }

    /// A key name: non-empty, no white space, no `+` (signed-note §Key names).
    public static func isValidKeyName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255
            && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.properties.generalCategory == .control }
    }

    /// SHA-256(name ‖ 0x0A ‖ algorithm ‖ public key)[:4].
    public static func keyID(name: String, algorithm: UInt8, publicKey: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, algorithm] + publicKey).prefix(4))
    }

    /// The verifier key in the standard text form: `name+hex(key ID)+base64(algorithm ‖ public key)`.
    public static func verifierKey(name: String, algorithm: UInt8 = ed25519, publicKey: [UInt8]) -> String {
        name + "+" + Hex.encode(keyID(name: name, algorithm: algorithm, publicKey: publicKey)) + "+"
            + Data([algorithm] + publicKey).base64EncodedString()
    }

    /// A verifier key parsed: its name, algorithm byte and 32-byte Ed25519 public key.
    public struct VerifierKey: Sendable, Equatable {
        public var name: String
        public var algorithm: UInt8
        public var publicKey: [UInt8]

        public var keyID: [UInt8] { SignedNote.keyID(name: name, algorithm: algorithm, publicKey: publicKey) }
        public var text: String { SignedNote.verifierKey(name: name, algorithm: algorithm, publicKey: publicKey) }

        public init(name: String, algorithm: UInt8, publicKey: [UInt8]) {
            (self.name, self.algorithm, self.publicKey) = (name, algorithm, publicKey)
        }

        /// Parses `name+hex8+base64`, checking that the key ID matches the name and key.
        public init(parsing text: String) throws(LedgerError) {
            // Split twice only: the base64 key may itself contain "+".
            let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, SignedNote.isValidKeyName(String(parts[0])), let id = Hex.decode(String(parts[1])), id.count == 4,
                let key = Data(base64Encoded: String(parts[2])), key.count == 33
            else {
                throw LedgerError(.invalidInput, "\"\(text)\" is not a verifier key of the form name+hex(key ID)+base64(algorithm ‖ key)")
            }
            guard key[key.startIndex] == SignedNote.ed25519 || key[key.startIndex] == SignedNote.cosignatureV1 else {
                throw LedgerError(.invalidInput, "the verifier key \"\(parts[0])\" is of algorithm \(key[key.startIndex]); only Ed25519 (1) and cosignature/v1 (4) are known")
            }
            self.init(name: String(parts[0]), algorithm: key[key.startIndex], publicKey: Array(key.dropFirst()))
            guard keyID == id else {
                throw LedgerError(.invalidInput, "the verifier key \"\(name)\" names key ID \(parts[1]), but its name and key give \(Hex.encode(keyID))")
            }
        }
    }

    /// The body of a C2SP checkpoint.
    public static func checkpointBody(origin: String, treeSize: UInt64, rootHash: Digest) -> String {
        "\(origin)\n\(treeSize)\n\(Data(rootHash.bytes).base64EncodedString())\n"
    }

    /// What a `cosignature/v1` signs: its two header lines, then the checkpoint body.
    public static func cosignedMessage(body: String, timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n\(body)".utf8)
    }

    /// A witness's cosignature of a checkpoint, as stored beside it once verified.
    public struct Cosignature: Sendable, Equatable {
        public var witness: String
        public var keyID: [UInt8]
        /// Seconds since the epoch when the witness signed: what proves the checkpoint existed by then.
        public var timestamp: UInt64
        public var signature: [UInt8]

        /// The note signature line that carries it: key ID, then timestamp ‖ signature.
        public var signatureLine: Signature {
            Signature(name: witness, keyID: keyID, payload: BigEndianKey.encode(timestamp) + signature)
        }

        /// Whether this is `key`'s valid cosignature of `body`.
        public func isValid(for body: String, key: VerifierKey) -> Bool {
            guard key.algorithm == SignedNote.cosignatureV1, key.name == witness, key.keyID == keyID,
                let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey)
            else { return false }
            return publicKey.isValidSignature(signature, for: SignedNote.cosignedMessage(body: body, timestamp: timestamp))
        }

        public init(witness: String, keyID: [UInt8], timestamp: UInt64, signature: [UInt8]) {
            (self.witness, self.keyID, self.timestamp, self.signature) = (witness, keyID, timestamp, signature)
        }

        /// A cosignature from a signature line, or nil when the line is not shaped like one.
        public init?(_ line: Signature) {
            guard line.payload.count == 72 else { return nil }
            self.init(
                witness: line.name, keyID: line.keyID, timestamp: BigEndianKey.decode(Array(line.payload.prefix(8))),
                signature: Array(line.payload.dropFirst(8)))
        }
    }
}
