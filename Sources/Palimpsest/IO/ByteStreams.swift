#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The C calls under names that the types' own `read`/`write` methods do not shadow.
@inline(__always) private func sysRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }
@inline(__always) private func sysWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

/// Reads a file descriptor line by line in large chunks: constant memory whatever the input's size
/// (a line is held whole, up to `maxLineBytes`).
public struct LineReader: ~Copyable {
    public struct LineTooLong: Error {
        public let line: Int
        public let limit: Int
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var end = 0
    private var atEOF = false
    public let maxLineBytes: Int
    /// Lines returned so far (the number of the last one returned).
    public private(set) var lineNumber = 0
    /// Bytes consumed from the descriptor so far.
    public private(set) var bytesRead = 0

    public init(fd: Int32, maxLineBytes: Int = 512 << 20) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
        buffer = [UInt8](repeating: 0, count: 1 << 20)
    }

    /// Calls `body` with the next line (without its `\n` or `\r\n`), or returns false at the end.
    public mutating func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        while true {
            if let newline = findNewline() {
                lineNumber += 1
                var lineEnd = newline
                if lineEnd > start, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let lineStart = start
                start = newline + 1
                try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[lineStart..<lineEnd])) }
                return true
            }
            if atEOF {
                guard end > start else { return false }
                lineNumber += 1
                let (lineStart, lineEnd) = (start, end)
                start = end
                try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[lineStart..<lineEnd])) }
                return true
            }
            try fill()
        }
    }

    private var scanFrom = 0

    private mutating func findNewline() -> Int? {
        let from = max(start, scanFrom)
        guard from < end else { return nil }
        let found: Int? = buffer.withUnsafeBytes { b in
            guard let p = memchr(b.baseAddress! + from, 0x0A, end - from) else { return nil }
            return b.baseAddress!.distance(to: UnsafeRawPointer(p))
        }
        scanFrom = found.map { $0 + 1 } ?? end
        return found
    }

    private mutating func fill() throws {
        if start > 0 {
            // Move the partial line to the front.
            let count = end - start
            if count > 0 {
                buffer.withUnsafeMutableBytes { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + start, count)
                }
            }
            scanFrom -= start
            end = count
            start = 0
        }
        if end == buffer.count {
            guard buffer.count < maxLineBytes else { throw LineTooLong(line: lineNumber + 1, limit: maxLineBytes) }
            buffer.append(contentsOf: repeatElement(0, count: min(buffer.count, maxLineBytes - buffer.count + 1)))
        }
        let n = buffer.withUnsafeMutableBytes { b in
            sysRead(fd, b.baseAddress! + end, b.count - end)
        }
        if n < 0 {
            if errno == EINTR { return }
            throw ReadFailure(errno: errno)
        }
        if n == 0 { atEOF = true }
        end += n
        bytesRead += n
    }

    public struct ReadFailure: Error, CustomStringConvertible {
        public let errno: Int32
        public var description: String { String(cString: strerror(errno)) }
    }
}

/// A buffered writer to a file descriptor (stdout, or a file the user named).
public final class FileSink {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let closeOnDeinit: Bool

    public struct WriteFailure: Error, CustomStringConvertible {
        public let errno: Int32
        public var description: String { String(cString: strerror(errno)) }
    }

    public init(fd: Int32, closeOnDeinit: Bool = false) {
        self.fd = fd
        self.closeOnDeinit = closeOnDeinit
        buffer.reserveCapacity(1 << 16)
    }


    public func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    public func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { b in sysWrite(fd, b.baseAddress! + offset, b.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                buffer.removeAll(keepingCapacity: true)
                throw WriteFailure(errno: e)
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit {
        try? flush()
        if closeOnDeinit { close(fd) }
    }
}
