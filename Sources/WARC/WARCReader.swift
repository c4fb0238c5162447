import Foundation
import TextPacking

/// Reads WARC records one at a time from a file, plain or gzip (one member per record, or one
/// member for the whole file), in constant memory apart from the record being read. Errors name
/// the file and the byte offset of the record at fault (in the file as stored, compressed or not).
public final class WARCReader {
    public let path: String
    private let handle: FileHandle
    private let compressed: Bool
    private var inflater: Inflater?
    /// Bytes read from the file and not yet inflated.
    private var raw: [UInt8] = []
    private var rawOffset = 0          // file offset of raw[0]
    private var atEOF = false
    /// Decompressed bytes not yet parsed, and the decompressed offset of data[start].
    private var data: [UInt8] = []
    private var start = 0
    private var decompressedOffset = 0
    /// (decompressed offset, file offset) of each gzip member start not yet passed.
    private var memberStarts: [(Int, Int)] = []
    private var memberEnded = true

    public init(path: String) throws(WARCError) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw WARCError("cannot open the WARC file \(path)") }
        self.path = path
        self.handle = handle
        let magic = (try? handle.read(upToCount: 2)).map { [UInt8]($0) } ?? []
        compressed = magic == [0x1F, 0x8B]
        try? handle.seek(toOffset: 0)
        if compressed {
            do { inflater = try Inflater(format: .gzipOrZlib) } catch { throw WARCError("\(path): \(error.description)") }
        }
    }

    deinit { try? handle.close() }

    /// Positions the reader at a record's offset (a gzip member's start for compressed files).
    public func seek(to offset: Int) throws(WARCError) {
        do { try handle.seek(toOffset: UInt64(offset)) } catch { throw WARCError("\(path): cannot seek to byte \(offset)") }
        raw = []; rawOffset = offset; atEOF = false
        data = []; start = 0; decompressedOffset = 0
        memberStarts = []; memberEnded = true
        if compressed {
            do { inflater = try Inflater(format: .gzipOrZlib) } catch { throw WARCError("\(path): \(error.description)") }
        }
    }

    private var available: Int { data.count - start }

    /// Reads more of the file into `data`; false at the end of the file.
    private func fill() throws(WARCError) -> Bool {
        if !compressed {
            guard !atEOF else { return false }
            let chunk = (try? handle.read(upToCount: 1 << 20)).map { [UInt8]($0) } ?? []
            if chunk.isEmpty { atEOF = true; return false }
            compact()
            data += chunk
            return true
        }
        while true {
            if raw.isEmpty {
                if atEOF { return false }
                let chunk = (try? handle.read(upToCount: 1 << 20)).map { [UInt8]($0) } ?? []
                if chunk.isEmpty { atEOF = true; return false }
                raw = chunk
            }
            if memberEnded {
                memberStarts.append((decompressedOffset + data.count, rawOffset))
                memberEnded = false
            }
            let output: [UInt8], used: Int
            do {
                (output, used) = try inflater!.feedMember(raw[...])
            } catch {
                throw WARCError("\(path): the gzip data is corrupt in the member at byte \(memberStarts.last?.1 ?? rawOffset) (\(error.description))")
            }
            raw.removeFirst(used)
            rawOffset += used
            if inflater!.isAtEnd { memberEnded = true }
            if !output.isEmpty {
                compact()
                data += output
                return true
            }
            if used == 0 && raw.isEmpty == false && !memberEnded {
                throw WARCError("\(path): the gzip data is corrupt at byte \(rawOffset)")
            }
        }
    }

    private func compact() {
        if start > (1 << 20) || start == data.count {
            decompressedOffset += start
            data.removeFirst(start)
            start = 0
        }
    }

    /// The file offset of the record that begins at decompressed offset `position`.
    private func fileOffset(ofDecompressed position: Int) -> Int {
        guard compressed else { return position }
        var best = memberStarts.first?.1 ?? 0
        for (decompressed, file) in memberStarts where decompressed <= position { best = file }
        memberStarts.removeAll { $0.0 < position && $0.1 < best }
        return best
    }

    /// The next record and the offset it starts at, or nil at the end of the file.
    public func next() throws(WARCError) -> (record: WARCRecord, offset: Int)? {
        // Skip blank lines between records (some writers add extra ones).
        while true {
            while available > 0 && (data[start] == 0x0D || data[start] == 0x0A) { start += 1 }
            if available > 0 { break }
            if try !fill() { return nil }
        }
        let recordStart = decompressedOffset + start
        // Positions below are relative to `start`: `fill` may move the buffer's bytes.
        var headEnd: Int? = nil
        var searched = 0
        while headEnd == nil {
            if let found = Self.blankLine(in: data, from: start + searched) { headEnd = found - start; break }
            searched = max(0, available - 3)
            if available > 64 * 1024 {
                throw WARCError("\(path): no WARC record at byte \(fileOffset(ofDecompressed: recordStart)) (no end of header in 64 KiB)")
            }
            if try !fill() {
                throw WARCError("\(path): the record at byte \(fileOffset(ofDecompressed: recordStart)) is truncated (its header does not end)")
            }
        }
        let head = String(decoding: data[start..<(start + headEnd!)], as: UTF8.self)
        var lines = head.split(whereSeparator: \.isNewline).map(String.init)
        let offset = fileOffset(ofDecompressed: recordStart)
        guard let version = lines.first, version.hasPrefix("WARC/") else {
            throw WARCError("\(path): no WARC record at byte \(offset) (it starts \"\(String((lines.first ?? "").prefix(20)))\")")
        }
        lines.removeFirst()
        var fields: [(String, String)] = []
        for line in lines {
            if (line.first == " " || line.first == "\t"), !fields.isEmpty {
                fields[fields.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw WARCError("\(path): the record at byte \(offset) has a malformed header line \"\(line.prefix(40))\"")
            }
            fields.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        guard let lengthText = fields.first(where: { $0.0.lowercased() == "content-length" })?.1, let length = Int(lengthText), length >= 0 else {
            throw WARCError("\(path): the record at byte \(offset) has no valid Content-Length")
        }
        guard let type = fields.first(where: { $0.0.lowercased() == "warc-type" })?.1 else {
            throw WARCError("\(path): the record at byte \(offset) has no WARC-Type")
        }
        let blockStart = headEnd! + 4
        while available < blockStart + length {
            if try !fill() {
                throw WARCError("\(path): the record at byte \(offset) is truncated (\(max(0, available - blockStart)) of its \(length) bytes)")
            }
        }
        let block = Array(data[(start + blockStart)..<(start + blockStart + length)])
        start += blockStart + length
        return (WARCRecord(type: type, fields: fields.filter { $0.0.lowercased() != "warc-type" && $0.0.lowercased() != "content-length" }, block: block), offset)
    }

    static func blankLine(in data: [UInt8], from: Int) -> Int? {
        var i = max(from, 0)
        while i + 3 < data.count {
            if data[i] == 0x0D && data[i + 1] == 0x0A && data[i + 2] == 0x0D && data[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }
}
