/// A strict RFC 8259 parser over UTF-8 bytes. Written here rather than taken from Foundation because
/// the importer needs what Foundation does not give: integers kept apart from booleans and doubles,
/// invalid UTF-8 rejected rather than repaired, duplicate names rejected, and the byte offset of the
/// fault for the error message. It is also on the import hot path (a gigabyte of escaped text).
public struct JSONParser {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public let offset: Int
        public var description: String { "\(message) at byte \(offset + 1)" }
    }

    /// Parses exactly one JSON value (surrounded by optional whitespace).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.p == bytes.count else { throw parser.fail("unexpected characters after the JSON value") }
        return value
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        let result: Result<JSONValue, Failure> = bytes.withUnsafeBytes { b in Result { () throws(Failure) in try parse(b) } }
        return try result.get()
    }

    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private let bytes: UnsafeRawBufferPointer
    private let maxDepth: Int
    private var p = 0
    private var scratch: [UInt8] = []

    private init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func fail(_ message: String) -> Failure { Failure(message: message, offset: min(p, bytes.count)) }

    private mutating func skipWhitespace() {
        while p < bytes.count {
            switch bytes[p] {
            case 0x20, 0x0A, 0x0D, 0x09: p += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> JSONValue {
        guard p < bytes.count else { throw fail("the JSON ends too early") }
        switch bytes[p] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw fail("JSON nested deeper than \(maxDepth) levels") }
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw fail("JSON nested deeper than \(maxDepth) levels") }
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character '\(Unicode.Scalar(bytes[p]))' where a JSON value should start")
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard p + count <= bytes.count,
            UnsafeRawBufferPointer(rebasing: bytes[p..<p + count]).elementsEqual(
                UnsafeRawBufferPointer(start: word.utf8Start, count: count))
        else { throw fail("invalid literal") }
        p += count
    }

    private mutating func parseObject(depth: Int) throws(Failure) -> JSONValue {
        p += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if p < bytes.count, bytes[p] == UInt8(ascii: "}") { p += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard p < bytes.count else { throw fail("the JSON ends inside an object") }
            guard bytes[p] == UInt8(ascii: "\"") else { throw fail("expected a quoted member name") }
            let keyStart = p
            let key = try parseString()
            skipWhitespace()
            guard p < bytes.count, bytes[p] == UInt8(ascii: ":") else { throw fail("expected ':' after a member name") }
            p += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            if members.updateValue(value, forKey: key) != nil {
                throw Failure(message: "the member \"\(key)\" appears twice", offset: keyStart)
            }
            skipWhitespace()
            guard p < bytes.count else { throw fail("the JSON ends inside an object") }
            if bytes[p] == UInt8(ascii: ",") { p += 1; continue }
            if bytes[p] == UInt8(ascii: "}") { p += 1; return .object(members) }
            throw fail("expected ',' or '}' in an object")
        }
    }

    private mutating func parseArray(depth: Int) throws(Failure) -> JSONValue {
        p += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if p < bytes.count, bytes[p] == UInt8(ascii: "]") { p += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard p < bytes.count else { throw fail("the JSON ends inside an array") }
            if bytes[p] == UInt8(ascii: ",") { p += 1; continue }
            if bytes[p] == UInt8(ascii: "]") { p += 1; return .array(items) }
            throw fail("expected ',' or ']' in an array")
        }
    }

    private mutating func parseNumber() throws(Failure) -> JSONValue {
        let start = p
        if bytes[p] == UInt8(ascii: "-") { p += 1 }
        guard p < bytes.count, isDigit(bytes[p]) else { throw fail("invalid number") }
        if bytes[p] == UInt8(ascii: "0") {
            p += 1
        } else {
            while p < bytes.count, isDigit(bytes[p]) { p += 1 }
        }
        var isInteger = true
        if p < bytes.count, bytes[p] == UInt8(ascii: ".") {
            isInteger = false
            p += 1
            guard p < bytes.count, isDigit(bytes[p]) else { throw fail("invalid number") }
            while p < bytes.count, isDigit(bytes[p]) { p += 1 }
        }
        if p < bytes.count, bytes[p] == UInt8(ascii: "e") || bytes[p] == UInt8(ascii: "E") {
            isInteger = false
            p += 1
            if p < bytes.count, bytes[p] == UInt8(ascii: "+") || bytes[p] == UInt8(ascii: "-") { p += 1 }
            guard p < bytes.count, isDigit(bytes[p]) else { throw fail("invalid number") }
            while p < bytes.count, isDigit(bytes[p]) { p += 1 }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<p]), as: UTF8.self)
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text) else { throw Failure(message: "invalid number", offset: start) }
        return .double(d)
    }

    @inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func parseString() throws(Failure) -> String {
        p += 1
        let start = p
        skipPlainStringBytes()
        // Fast path: no escapes, the bytes are the string.
        while p < bytes.count {
            let b = bytes[p]
            if b == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<p])
                p += 1
                return try validated(raw, at: start)
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("a control character inside a string must be escaped") }
            p += 1
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<p]))
        while p < bytes.count {
            let b = bytes[p]
            switch b {
            case UInt8(ascii: "\""):
                p += 1
                let result: Result<String, Failure> = scratch.withUnsafeBytes { raw in
                    Result { () throws(Failure) in try validated(raw, at: start) }
                }
                return try result.get()
            case UInt8(ascii: "\\"):
                p += 1
                guard p < bytes.count else { throw fail("the JSON ends inside a string") }
                let e = bytes[p]
                p += 1
                switch e {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard p + 1 < bytes.count, bytes[p] == UInt8(ascii: "\\"), bytes[p + 1] == UInt8(ascii: "u") else {
                            throw fail("an unpaired UTF-16 surrogate in a \\u escape")
                        }
                        p += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("an unpaired UTF-16 surrogate in a \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("an unpaired UTF-16 surrogate in a \\u escape")
                    }
                    scratch.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default: throw fail("invalid escape '\\\(Unicode.Scalar(e))'")
                }
            default:
                // Copy the run of plain bytes up to the next quote or backslash at once.
                let runStart = p
                skipPlainStringBytes()
                while p < bytes.count {
                    let c = bytes[p]
                    if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { break }
                    if c < 0x20 { throw fail("a control character inside a string must be escaped") }
                    p += 1
                }
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<p]))
            }
        }
        throw fail("the JSON ends inside a string")
    }

    /// Skips, eight bytes at a time, bytes that need no attention inside a string: anything but a
    /// quote, a backslash or a control character (SWAR: "has a zero byte" tests on whole words).
    @inline(__always)
    private mutating func skipPlainStringBytes() {
        guard let base = bytes.baseAddress else { return }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while p + 8 <= bytes.count {
            let x = base.loadUnaligned(fromByteOffset: p, as: UInt64.self)
            let quote = x ^ (ones &* 0x22), backslash = x ^ (ones &* 0x5C)
            let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((x &- ones &* 0x20) & ~x)
            if special & highs != 0 { return }
            p += 8
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard p + 4 <= bytes.count else { throw fail("a \\u escape needs four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[p]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - 0x41 + 10)
            default: throw fail("a \\u escape needs four hex digits")
            }
            v = v << 4 | digit
            p += 1
        }
        return v
    }

    private func validated(_ raw: UnsafeRawBufferPointer, at offset: Int) throws(Failure) -> String {
        guard let s = String(validating: raw.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw Failure(message: "a string is not valid UTF-8", offset: offset)
        }
        return s
    }
}
