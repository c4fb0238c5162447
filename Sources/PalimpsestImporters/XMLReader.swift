#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming (pull) reader for the XML that MediaWiki exports: elements, attributes, character
/// data, CDATA, comments and processing instructions, read from a file descriptor in chunks, so memory
/// stays flat whatever the file's size.
///
/// Written for this job rather than taken from Foundation's `XMLParser` because an importer of
/// untrusted files needs what that parser does not promise on every platform: a document type
/// declaration (and so any entity definition — "billion laughs", external fetches) is refused
/// outright; only XML's five predefined entities and character references are expanded; every error
/// names its byte offset and line; and the gigabyte of character data in a dump is decoded in one
/// pass over bytes.
struct XMLReader: ~Copyable {
    enum Event: Equatable {
        case start(name: String, attributes: [String: String], isEmpty: Bool)
        case end(name: String)
        /// Character data (entities expanded, line ends normalised to `\n`, CDATA included), as UTF-8
        /// bytes: not validated here; the consumer validates what it keeps.
        case text([UInt8])
        case endOfInput
    }

    struct Failure: Error, Equatable {
        let message: String
        let offset: Int
        let line: Int
        var description: String { "\(message) (byte \(offset + 1), line \(line))" }
    }

    private let fd: Int32
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// Bytes consumed before `buffer[0]`.
    private var base = 0
    private(set) var line = 1
    private var openElements: [String] = []
    private var sawRoot = false
    static let maxMarkup = 1 << 20

    init(fd: Int32, chunk: Int = 1 << 20) {
        self.fd = fd
        buffer = [UInt8](repeating: 0, count: chunk)
    }

    /// Absolute offset of the next byte to read.
    var offset: Int { base + start }

    private func fail(_ message: String) -> Failure { Failure(message: message, offset: offset, line: line) }

    /// Makes at least `count` bytes available from `start`, unless the input ends first.
    private mutating func ensure(_ count: Int) throws(Failure) -> Bool {
        while end - start < count {
            if atEOF { return false }
            try fill()
        }
        return true
    }

    private mutating func fill() throws(Failure) {
        if start > 0 {
            let remaining = end - start
            buffer.withUnsafeMutableBytes { b in
                if remaining > 0 { _ = memmove(b.baseAddress!, b.baseAddress! + start, remaining) }
            }
            base += start
            end = remaining
            start = 0
        }
        if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
        let n = buffer.withUnsafeMutableBytes { b in read(fd, b.baseAddress! + end, b.count - end) }
        if n < 0 {
            if errno == EINTR { return }
            throw fail("the input cannot be read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { atEOF = true }
        end += n
    }

    /// The index of `byte` at or after `from`, reading more input as needed, or nil at the end.
    private mutating func find(_ byte: UInt8, from: Int, limit: Int) throws(Failure) -> Int? {
        var i = from
        while true {
            while i < end {
                if buffer[i] == byte { return i }
                i += 1
            }
            if i - start > limit { throw fail("markup longer than \(limit) bytes") }
            if atEOF { return nil }
            let shift = start
            try fill()
            i -= shift - start
        }
    }

    private mutating func hasPrefix(_ s: StaticString) throws(Failure) -> Bool {
        let n = s.utf8CodeUnitCount
        guard try ensure(n) else { return false }
        for k in 0..<n where buffer[start + k] != s.utf8Start[k] { return false }
        return true
    }

    /// The offset from `start` at which `terminator` next occurs, reading more input as needed (the
    /// buffer may move; offsets from `start` stay valid), or nil when the input ends first.
    private mutating func offsetOf(_ terminator: StaticString) throws(Failure) -> Int? {
        let n = terminator.utf8CodeUnitCount
        var rel = 0
        while true {
            guard try ensure(rel + n) else { return nil }
            var matches = true
            for k in 0..<n where buffer[start + rel + k] != terminator.utf8Start[k] { matches = false; break }
            if matches { return rel }
            rel += 1
        }
    }

    /// Skips up to and including `terminator`.
    private mutating func skip(past terminator: StaticString, what: String) throws(Failure) {
        guard let rel = try offsetOf(terminator) else { throw fail("the input ends inside \(what)") }
        let stop = start + rel + terminator.utf8CodeUnitCount
        countLines(start, stop)
        start = stop
    }

    private mutating func countLines(_ from: Int, _ to: Int) {
        var i = from
        while i < to {
            if buffer[i] == 0x0A { line += 1 }
            i += 1
        }
    }

    /// The next event.
    mutating func next() throws(Failure) -> Event {
        while true {
            guard try ensure(1) else {
                if let open = openElements.last { throw fail("the input ends inside <\(open)>") }
                if !sawRoot { throw fail("the input has no XML element") }
                return .endOfInput
            }
            if buffer[start] != UInt8(ascii: "<") {
                let text = try readText()
                if openElements.isEmpty {
                    guard text.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x09 }) else {
                        throw fail(sawRoot ? "text after the root element" : "text before the root element")
                    }
                    continue
                }
                return .text(text)
            }
            if try hasPrefix("<?") {
                try skip(past: "?>", what: "a processing instruction")
                continue
            }
            if try hasPrefix("<!--") {
                try skip(past: "-->", what: "a comment")
                continue
            }
            if try hasPrefix("<![CDATA[") {
                guard !openElements.isEmpty else { throw fail("CDATA outside the root element") }
                start += 9
                guard let rel = try offsetOf("]]>") else { throw fail("the input ends inside a CDATA section") }
                var text = Array(buffer[start..<(start + rel)])
                countLines(start, start + rel)
                start += rel + 3
                normaliseLineEnds(&text)
                return .text(text)
            }
            if try hasPrefix("<!") {
                throw fail("document type declarations are refused (they can define entities that expand without bound or fetch files)")
            }
            if try hasPrefix("</") {
                guard let close = try find(UInt8(ascii: ">"), from: start, limit: Self.maxMarkup) else {
                    throw fail("the input ends inside a closing tag")
                }
                let name = String(decoding: buffer[(start + 2)..<close], as: UTF8.self).trimmingTrailingSpaces
                guard let open = openElements.last else { throw fail("</\(name)> closes nothing") }
                guard open == name else { throw fail("</\(name)> closes <\(open)>") }
                openElements.removeLast()
                start = close + 1
                return .end(name: name)
            }
            return try readStartTag()
        }
    }

    private mutating func readStartTag() throws(Failure) -> Event {
        guard !(sawRoot && openElements.isEmpty) else { throw fail("a second root element") }
        guard let close = try findTagEnd() else { throw fail("the input ends inside a tag") }
        let tagStart = start
        var i = start + 1
        func isNameByte(_ b: UInt8) -> Bool {
            !(b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == UInt8(ascii: "/") || b == UInt8(ascii: ">") || b == UInt8(ascii: "="))
        }
        let nameStart = i
        while i < close, isNameByte(buffer[i]) { i += 1 }
        guard i > nameStart else { throw fail("a tag without a name") }
        let name = String(decoding: buffer[nameStart..<i], as: UTF8.self)
        var attributes: [String: String] = [:]
        var isEmpty = false
        while i < close {
            let b = buffer[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1; continue }
            if b == UInt8(ascii: "/") {
                guard i + 1 == close else { throw fail("a stray '/' in <\(name)>") }
                isEmpty = true
                i += 1
                continue
            }
            let attrStart = i
            while i < close, isNameByte(buffer[i]) { i += 1 }
            guard i > attrStart else { throw fail("a malformed attribute in <\(name)>") }
            let attrName = String(decoding: buffer[attrStart..<i], as: UTF8.self)
            while i < close, buffer[i] == 0x20 || buffer[i] == 0x09 || buffer[i] == 0x0A || buffer[i] == 0x0D { i += 1 }
            guard i < close, buffer[i] == UInt8(ascii: "=") else { throw fail("the attribute \(attrName) of <\(name)> has no value") }
            i += 1
            while i < close, buffer[i] == 0x20 || buffer[i] == 0x09 || buffer[i] == 0x0A || buffer[i] == 0x0D { i += 1 }
            guard i < close, buffer[i] == UInt8(ascii: "\"") || buffer[i] == UInt8(ascii: "'") else {
                throw fail("the attribute \(attrName) of <\(name)> is not quoted")
            }
            let quote = buffer[i]
            i += 1
            let valueStart = i
            while i < close, buffer[i] != quote { i += 1 }
            guard i < close else { throw fail("the attribute \(attrName) of <\(name)> is not closed") }
            var value: [UInt8] = []
            try decodeCharacterData(buffer[valueStart..<i], into: &value)
            guard let string = String(validating: value, as: UTF8.self) else {
                throw fail("the attribute \(attrName) of <\(name)> is not valid UTF-8")
            }
            guard attributes.updateValue(string, forKey: attrName) == nil else { throw fail("the attribute \(attrName) appears twice in <\(name)>") }
            i += 1
        }
        countLines(tagStart, close)
        start = close + 1
        sawRoot = true
        if !isEmpty { openElements.append(name) }
        return .start(name: name, attributes: attributes, isEmpty: isEmpty)
    }

    /// The index of the `>` that ends the tag at `start`, skipping `>` inside quoted attribute values.
    private mutating func findTagEnd() throws(Failure) -> Int? {
        var i = start + 1
        var quote: UInt8 = 0
        while true {
            while i < end {
                let b = buffer[i]
                if quote != 0 {
                    if b == quote { quote = 0 }
                } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                    quote = b
                } else if b == UInt8(ascii: ">") {
                    return i
                } else if b == UInt8(ascii: "<") {
                    throw fail("'<' inside a tag")
                }
                i += 1
            }
            if i - start > Self.maxMarkup { throw fail("a tag longer than \(Self.maxMarkup) bytes") }
            if atEOF { return nil }
            let shift = start
            try fill()
            i -= shift - start
        }
    }

    /// Character data up to the next `<`, decoded.
    private mutating func readText() throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            // Decode what is buffered up to '<' (or the buffer's end, keeping an incomplete
            // reference or line end for the next round).
            var i = start
            var runStart = start
            var plainUntil = start  // bytes before this offset hold no '<', '&' or carriage return
            while i < end {
                if i >= plainUntil {
                    let (next, newlines) = plainRun(from: i)
                    line += newlines
                    i = next
                    plainUntil = i + 16  // the chunk at `i` (if whole) holds one of the three
                    guard i < end else { break }
                }
                let b = buffer[i]
                if b == UInt8(ascii: "<") { break }
                if b == UInt8(ascii: "&") {
                    guard let semicolon = firstIndex(of: UInt8(ascii: ";"), in: i..<min(end, i + 12)) else {
                        if end - i < 12, !atEOF { break }  // the reference may continue in the next chunk
                        start = i
                        throw fail("an '&' that does not start a character reference")
                    }
                    out.append(contentsOf: buffer[runStart..<i])
                    start = i
                    try decodeReference(buffer[(i + 1)..<semicolon], into: &out)
                    i = semicolon + 1
                    runStart = i
                    continue
                }
                if b == 0x0D {
                    if i + 1 >= end, !atEOF { break }
                    out.append(contentsOf: buffer[runStart..<i])
                    out.append(0x0A)
                    line += 1
                    i += (i + 1 < end && buffer[i + 1] == 0x0A) ? 2 : 1
                    runStart = i
                    continue
                }
                if b == 0x0A { line += 1 }
                i += 1
            }
            out.append(contentsOf: buffer[runStart..<i])
            start = i
            if start < end, buffer[start] == UInt8(ascii: "<") { return out }
            if atEOF, start == end { return out }
            let before = end - start
            try fill()
            if end - start == before, atEOF, before > 0 {
                // Only an incomplete reference or line end is left and the input has ended.
                if buffer[start] == UInt8(ascii: "&") { throw fail("an '&' that does not start a character reference") }
            }
        }
    }

    /// Skips whole sixteen-byte chunks from `i` that hold no '<', '&' or carriage return (most of a
    /// dump's gigabyte of text), counting their line feeds; returns where the byte-by-byte scan
    /// takes over.
    private func plainRun(from i: Int) -> (next: Int, newlines: Int) {
        buffer.withUnsafeBytes { raw in
            let angle = SIMD16<UInt8>(repeating: UInt8(ascii: "<")), ampersand = SIMD16<UInt8>(repeating: UInt8(ascii: "&"))
            let carriageReturn = SIMD16<UInt8>(repeating: 0x0D), lineFeed = SIMD16<UInt8>(repeating: 0x0A)
            var i = i
            var newlines = 0
            while i + 16 <= end {
                let chunk = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                if any((chunk .== angle) .| (chunk .== ampersand) .| (chunk .== carriageReturn)) { break }
                newlines += Int(SIMD16<UInt8>(repeating: 1).replacing(with: 0, where: chunk .!= lineFeed).wrappedSum())
                i += 16
            }
            return (i, newlines)
        }
    }

    private func firstIndex(of byte: UInt8, in range: Range<Int>) -> Int? {
        for i in range where buffer[i] == byte { return i }
        return nil
    }

    /// Expands references inside an attribute value.
    private func decodeCharacterData(_ raw: ArraySlice<UInt8>, into out: inout [UInt8]) throws(Failure) {
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            if b == UInt8(ascii: "&") {
                guard let semicolon = raw[i...].firstIndex(of: UInt8(ascii: ";")) else {
                    throw fail("an '&' that does not start a character reference")
                }
                try decodeReference(raw[(i + 1)..<semicolon], into: &out)
                i = semicolon + 1
            } else if b == UInt8(ascii: "<") {
                throw fail("'<' inside an attribute value")
            } else {
                out.append(b == 0x0D || b == 0x0A || b == 0x09 ? 0x20 : b)
                i += 1
            }
        }
    }

    /// `lt`, `gt`, `amp`, `quot`, `apos`, `#123`, `#x7B`; anything else is an undefined entity.
    private func decodeReference(_ name: ArraySlice<UInt8>, into out: inout [UInt8]) throws(Failure) {
        switch Array(name) {
        case Array("lt".utf8): out.append(UInt8(ascii: "<"))
        case Array("gt".utf8): out.append(UInt8(ascii: ">"))
        case Array("amp".utf8): out.append(UInt8(ascii: "&"))
        case Array("quot".utf8): out.append(UInt8(ascii: "\""))
        case Array("apos".utf8): out.append(UInt8(ascii: "'"))
        default:
            guard name.first == UInt8(ascii: "#") else {
                throw fail("the entity &\(String(decoding: name, as: UTF8.self)); is not defined (only XML's five and character references are)")
            }
            var digits = name.dropFirst()
            var radix: UInt32 = 10
            if digits.first == UInt8(ascii: "x") { radix = 16; digits = digits.dropFirst() }
            guard !digits.isEmpty, let value = UInt32(String(decoding: digits, as: UTF8.self), radix: Int(radix)),
                let scalar = Unicode.Scalar(value), value == 0x9 || value == 0xA || value == 0xD || value >= 0x20
            else { throw fail("the character reference &\(String(decoding: name, as: UTF8.self)); is not a valid XML character") }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
    }

    private func normaliseLineEnds(_ text: inout [UInt8]) {
        guard text.contains(0x0D) else { return }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if text[i] == 0x0D {
                out.append(0x0A)
                i += (i + 1 < text.count && text[i + 1] == 0x0A) ? 2 : 1
            } else {
                out.append(text[i])
                i += 1
            }
        }
        text = out
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" || last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
