import Crypto
import Foundation

/// One WARC/1.1 record (ISO 28500): named header fields and a block of bytes.
public struct WARCRecord: Sendable, Equatable {
    /// `warcinfo`, `request`, `response`, `revisit`, `resource`, `metadata`, …
    public var type: String
    /// Header fields in the order they are written (WARC-Type and Content-Length are added when
    /// the record is serialised and need not be here).
    public var fields: [(name: String, value: String)]
    public var block: [UInt8]

    public init(type: String, fields: [(name: String, value: String)], block: [UInt8]) {
        self.type = type
        self.fields = fields
        self.block = block
    }

    public static func == (a: WARCRecord, b: WARCRecord) -> Bool {
        a.type == b.type && a.block == b.block && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }

    /// A header field by name (names compare case-insensitively, as the standard says).
    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    public var recordID: String? { self["WARC-Record-ID"] }
    /// The target URI, without the angle brackets some WARC/1.0 writers (wget) put around it.
    public var targetURI: String? {
        guard let value = self["WARC-Target-URI"] else { return nil }
        return value.hasPrefix("<") && value.hasSuffix(">") ? String(value.dropFirst().dropLast()) : value
    }
    public var date: String? { self["WARC-Date"] }

    /// The record as written: version line, fields, a blank line, the block, two line ends.
    public func serialized() -> [UInt8] {
        var head = "WARC/1.1\r\nWARC-Type: \(type)\r\n"
        for (name, value) in fields where name.lowercased() != "warc-type" && name.lowercased() != "content-length" {
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Length: \(block.count)\r\n\r\n"
        return Array(head.utf8) + block + [0x0D, 0x0A, 0x0D, 0x0A]
    }

    /// `sha256:` and the digest in base 32, the form WARC digests take.
    public static func digest(_ bytes: some DataProtocol) -> String {
        "sha256:" + base32(Array(SHA256.hash(data: bytes)))
    }

    /// Whether `bytes` has the digest `label` (`sha1:`/`sha256:`, base 32 or 16), as tools other
    /// than Palimpsest write them.
    public static func matches(_ bytes: some DataProtocol, digest label: String) -> Bool? {
        let parts = label.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let algorithm = parts[0].lowercased()
        let value = String(parts[1])
        let computed: [UInt8]
        switch algorithm {
        case "sha256", "sha-256": computed = Array(SHA256.hash(data: bytes))
        case "sha1", "sha-1": computed = Array(Insecure.SHA1.hash(data: bytes))
        default: return nil
        }
        return value.uppercased() == base32(computed) || value.lowercased() == computed.map { String(format: "%02x", $0) }.joined()
    }

    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var result = ""
        var buffer = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                result.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { result.append(alphabet[(buffer << (5 - bits)) & 31]) }
        while result.count % 8 != 0 { result.append("=") }
        return result
    }

    /// A new record ID, `<urn:uuid:…>`.
    public static func newID(_ uuid: UUID = UUID()) -> String { "<urn:uuid:\(uuid.uuidString.lowercased())>" }

    /// The UUID inside a `<urn:uuid:…>` record ID, if it has that form.
    public static func uuid(fromRecordID id: String) -> UUID? {
        var text = id
        if text.hasPrefix("<") && text.hasSuffix(">") { text = String(text.dropFirst().dropLast()) }
        guard text.lowercased().hasPrefix("urn:uuid:") else { return nil }
        return UUID(uuidString: String(text.dropFirst(9)))
    }

    /// WARC-Date's form: UTC, seconds (ISO 8601, as WARC/1.0 readers expect).
    public static func date(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Splits an HTTP message block into its head (status or request line and fields) and its
    /// payload. Nil when the block has no blank line ending a head.
    public static func splitHTTP(_ block: [UInt8]) -> (head: String, payload: ArraySlice<UInt8>)? {
        guard block.count >= 4 else { return nil }
        for i in 0...(block.count - 4) where block[i] == 0x0D && block[i + 1] == 0x0A && block[i + 2] == 0x0D && block[i + 3] == 0x0A {
            return (String(decoding: block[0..<i], as: UTF8.self), block[(i + 4)...])
        }
        for i in 0...(block.count - 2) where block[i] == 0x0A && block[i + 1] == 0x0A {
            return (String(decoding: block[0..<i], as: UTF8.self), block[(i + 2)...])
        }
        return nil
    }
}

/// An HTTP response head as a WARC response block carries it.
public struct HTTPHead: Sendable {
    public var status: Int
    public var fields: [(name: String, value: String)]

    public init?(_ head: String) {
        var lines = head.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        guard let statusLine = lines.first else { return nil }
        lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else { return nil }
        self.status = status
        fields = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
    }

    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }
}
