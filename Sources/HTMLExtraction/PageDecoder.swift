import CModest

/// Where a page's character encoding was read from, in the order the HTML standard looks.
public enum CharsetSource: String, Sendable, Codable {
    case byteOrderMark = "byte-order-mark"
    case httpHeader = "http-header"
    case metaElement = "meta-element"
    case detected
}

/// A page body turned into UTF-8, and how its encoding was chosen.
public struct DecodedPage: Sendable {
    public var utf8: [UInt8]
    /// The WHATWG name of the encoding (`utf-8`, `windows-1252`, …).
    public var encoding: String
    public var source: CharsetSource
}

/// A body that cannot be turned into text: named, never recorded with U+FFFD in its place.
public struct PageDecodingError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Decodes a page body by the HTML standard's order: byte-order mark, the `charset` of the
/// Content-Type header, a `<meta charset>` in the first 1,024 bytes, then detection (valid UTF-8,
/// MyENCODING's Cyrillic and UTF-16 detectors, else windows-1252, the web's default).
public enum PageDecoder {
    public static func decode(_ body: [UInt8], contentType: String?) throws(PageDecodingError) -> DecodedPage {
        let (encoding, source, skip) = choose(body, contentType: contentType)
        let payload = body[skip...]
        if encoding == MyENCODING_UTF_8 {
            if let offset = firstInvalidUTF8(payload) {
                throw PageDecodingError(description: "the body is not valid UTF-8 at byte \(offset + skip) (encoding from the \(source.rawValue))")
            }
            return DecodedPage(utf8: Array(payload), encoding: "utf-8", source: source)
        }
        let name = encodingName(encoding)
        var raw = mycore_string_raw_t()
        defer { mycore_string_raw_destroy(&raw, false) }
        payload.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                _ = myencoding_convert_to_ascii_utf_8(&raw, chars.baseAddress, chars.count, encoding)
            }
        }
        guard let data = raw.data else { return DecodedPage(utf8: [], encoding: name, source: source) }
        let utf8 = Array(UnsafeRawBufferPointer(start: data, count: raw.length))
        // MyENCODING writes U+FFFD (multi-byte encodings) or U+0000 (single-byte ones) for bytes
        // the encoding does not define; legacy encodings cannot encode U+FFFD themselves, and a NUL
        // the input did not have is one made up: either marks a byte that could not be decoded.
        let madeUpNULs = utf8.lazy.filter { $0 == 0 }.count - payload.lazy.filter { $0 == 0 }.count
        let replacements = countReplacementCharacters(utf8) + max(0, madeUpNULs)
        if replacements > 0 && encoding != MyENCODING_GB18030 {
            throw PageDecodingError(description: "\(replacements) byte sequence\(replacements == 1 ? "" : "s") in the body cannot be decoded as \(name) (encoding from the \(source.rawValue))")
        }
        return DecodedPage(utf8: utf8, encoding: name, source: source)
    }

    /// The `charset` parameter of a Content-Type value, if any.
    public static func charsetParameter(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let parts = parameter.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingSpaces.lowercased() == "charset" else { continue }
            let value = parts[1].trimmingSpaces.trimmingCharacters(in: "\"'")
            return value.isEmpty ? nil : value
        }
        return nil
    }

    static func choose(_ body: [UInt8], contentType: String?) -> (myencoding_t, CharsetSource, Int) {
        var encoding = MyENCODING_DEFAULT
        let prefix = Array(body.prefix(4))
        if prefix.starts(with: [0xEF, 0xBB, 0xBF]) { return (MyENCODING_UTF_8, .byteOrderMark, 3) }
        if prefix.starts(with: [0xFE, 0xFF]) { return (MyENCODING_UTF_16BE, .byteOrderMark, 2) }
        if prefix.starts(with: [0xFF, 0xFE]) { return (MyENCODING_UTF_16LE, .byteOrderMark, 2) }
        if let label = charsetParameter(contentType) {
            let known = label.utf8CString.withUnsafeBufferPointer { myencoding_by_name($0.baseAddress, label.utf8.count, &encoding) }
            if known { return (encoding, .httpHeader, 0) }
        }
        let head = Array(body.prefix(1024))
        let prescanned = head.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { myencoding_prescan_stream_to_determine_encoding($0.baseAddress, $0.count) }
        }
        if prescanned != MyENCODING_NOT_DETERMINED {
            // The standard: a meta that names UTF-16 means UTF-8 (the prescan read ASCII bytes).
            let chosen = (prescanned == MyENCODING_UTF_16LE || prescanned == MyENCODING_UTF_16BE) ? MyENCODING_UTF_8 : prescanned
            return (chosen, .metaElement, 0)
        }
        if firstInvalidUTF8(body[...]) == nil { return (MyENCODING_UTF_8, .detected, 0) }
        let detected = body.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { myencoding_detect($0.baseAddress, $0.count, &encoding) }
        }
        if detected && encoding != MyENCODING_UTF_8 { return (encoding, .detected, 0) }
        return (MyENCODING_WINDOWS_1252, .detected, 0)
    }

    static func encodingName(_ encoding: myencoding_t) -> String {
        var length = 0
        guard let name = myencoding_name_by_id(encoding, &length) else { return "unknown" }
        return String(decoding: UnsafeRawBufferPointer(start: name, count: length), as: UTF8.self).lowercased()
    }

    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence.
    static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int? {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    static func countReplacementCharacters(_ utf8: [UInt8]) -> Int {
        var count = 0
        var index = 0
        while index + 2 < utf8.count {
            if utf8[index] == 0xEF && utf8[index + 1] == 0xBF && utf8[index + 2] == 0xBD { count += 1; index += 3 } else { index += 1 }
        }
        return count
    }
}

extension StringProtocol {
    var trimmingSpaces: String { trimmingCharacters(in: " \t\r\n") }

    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
