import CZlib

/// gzip members (RFC 1952) written whole, and a streaming inflater for gzip, zlib and raw
/// deflate with a limit on what it may produce (a decompression bomb stops at the limit).
public enum Gzip {
    /// One complete gzip member holding `input` (WARC files are a series of such members, one
    /// per record, so that a reader can start at any record).
    public static func member(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 16: a gzip header and trailer instead of zlib's.
        var rc = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "zlib deflateInit2 failed with \(rc)")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        let produced: Int = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                rc = deflate(&stream, Z_FINISH)
                return dst.count - Int(stream.avail_out)
            }
        }
        precondition(rc == Z_STREAM_END, "zlib deflate did not finish (\(rc))")
        output.removeSubrange(produced...)
        return output
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        /// True when the output would have passed the inflater's limit.
        public var overLimit: Bool = false

        public init(description: String, overLimit: Bool = false) {
            self.description = description
            self.overLimit = overLimit
        }
    }

    public enum Format: Sendable {
        /// gzip or zlib, told apart by their headers; a series of gzip members is read whole.
        case gzipOrZlib
        /// Raw deflate (what some servers send as `Content-Encoding: deflate`).
        case raw
    }

    /// Inflates a whole buffer, refusing to produce more than `limit` bytes.
    public static func inflate(_ input: [UInt8], format: Format = .gzipOrZlib, limit: Int) throws(Failure) -> [UInt8] {
        let inflater = try Inflater(format: format, limit: limit)
        var output = try inflater.feed(input[...])
        output += try inflater.finish()
        return output
    }
}

/// A streaming inflater. Not Sendable: one owner feeds it.
public final class Inflater {
    private var stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let limit: Int
    private let format: Gzip.Format
    public private(set) var produced = 0
    /// Compressed bytes consumed so far (WARCReader names the offsets of damage with it).
    public private(set) var consumed = 0
    private var ended = false

    public init(format: Gzip.Format, limit: Int = .max) throws(Gzip.Failure) {
        self.limit = limit
        self.format = format
        stream.initialize(to: z_stream())
        // 15 + 32: detect gzip or zlib from the header; -15: raw deflate.
        let bits: Int32 = format == .raw ? -15 : 15 + 32
        let rc = inflateInit2_(stream, bits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { stream.deallocate(); throw Gzip.Failure(description: "zlib could not start (\(rc))") }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// True after the last member ended and no input followed it.
    public var isAtEnd: Bool { ended }

    /// Inflates all of `input`; gzip members that follow one another are read as one stream.
    public func feed(_ input: ArraySlice<UInt8>) throws(Gzip.Failure) -> [UInt8] {
        var output: [UInt8] = []
        var remaining = input
        repeat {
            let (made, used) = try feedMember(remaining)
            output += made
            remaining = remaining.dropFirst(used)
            if used == 0 && !ended { break }
        } while !remaining.isEmpty
        return output
    }

    /// Inflates from `input` until it is used up or the current gzip member ends (`isAtEnd`);
    /// returns what it produced and how many input bytes it used. The next call after a member
    /// ended starts the next member.
    public func feedMember(_ input: ArraySlice<UInt8>) throws(Gzip.Failure) -> (output: [UInt8], used: Int) {
        if ended && !input.isEmpty {
            inflateReset(stream)
            ended = false
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var remaining = input
        var usedTotal = 0
        while !ended {
            let (rc, used, made) = remaining.withUnsafeBufferPointer { src in
                chunk.withUnsafeMutableBufferPointer { dst in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                    stream.pointee.avail_in = uInt(src.count)
                    stream.pointee.next_out = dst.baseAddress
                    stream.pointee.avail_out = uInt(dst.count)
                    let rc = CZlib.inflate(stream, Z_NO_FLUSH)
                    return (rc, src.count - Int(stream.pointee.avail_in), dst.count - Int(stream.pointee.avail_out))
                }
            }
            consumed += used
            usedTotal += used
            produced += made
            if produced > limit {
                throw Gzip.Failure(description: "it inflates to more than \(limit) bytes", overLimit: true)
            }
            output.append(contentsOf: chunk[0..<made])
            remaining = remaining.dropFirst(used)
            switch rc {
            case Z_STREAM_END: ended = true
            case Z_OK: break
            case Z_BUF_ERROR: return (output, usedTotal)  // needs more input
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "code \(rc)"
                throw Gzip.Failure(description: "the compressed data is corrupt at byte \(consumed) (\(message))")
            }
            if remaining.isEmpty && made < chunk.count { break }
        }
        return (output, usedTotal)
    }

    /// Checks that the stream ended where the input did.
    public func finish() throws(Gzip.Failure) -> [UInt8] {
        guard ended || (produced == 0 && consumed == 0) else {
            throw Gzip.Failure(description: "the compressed data ends early, after \(consumed) bytes")
        }
        return []
    }
}
