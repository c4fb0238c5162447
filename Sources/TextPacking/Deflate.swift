import CZlib

/// zlib compression of whole buffers (RFC 1950 streams).
public enum Deflate {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Compresses `input` at `level` (1 fastest … 9 smallest).
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var outputSize = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(outputSize))
        let rc = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &outputSize, src.baseAddress, uLong(src.count), level)
            }
        }
        // compressBound guarantees room, and the arguments are valid: zlib cannot fail here.
        precondition(rc == Z_OK, "zlib compress2 failed with \(rc)")
        output.removeSubrange(Int(outputSize)...)
        return output
    }

    /// Decompresses a zlib stream whose decompressed size is known.
    public static func decompress(_ input: UnsafeRawBufferPointer, size: Int) throws(Failure) -> [UInt8] {
        if size == 0 { return [] }
        var output = [UInt8](repeating: 0, count: size)
        var outputSize = uLong(size)
        let rc = output.withUnsafeMutableBufferPointer { dst in
            uncompress(dst.baseAddress, &outputSize, input.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(input.count))
        }
        guard rc == Z_OK, Int(outputSize) == size else {
            throw Failure(description: "a compressed text is corrupt (zlib code \(rc), \(outputSize) of \(size) bytes)")
        }
        return output
    }
}
