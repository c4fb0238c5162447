import Foundation
import TextPacking
#if canImport(Glibc)
import Glibc
#endif

/// Where a record was written: the file's name (inside the writer's directory), the byte offset
/// of its gzip member, and the member's length.
public struct WARCLocation: Sendable, Equatable, Codable {
    public var file: String
    public var offset: Int
    public var length: Int
}

public struct WARCError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Appends records to gzip-per-record WARC/1.1 files in one directory, each file opened by a
/// `warcinfo` record and rotated past `maxFileBytes`. Every record is one `write` under an
/// exclusive `flock`, so that two processes capturing into one ledger interleave whole records,
/// and the file is flushed to disk (`fsync`) before the call returns: an event may cite the
/// record as soon as it has its location.
public final class WARCWriter: @unchecked Sendable {  // every mutable field is guarded by `lock`
    public let directory: String
    public let maxFileBytes: Int
    private let software: String
    private let lock = NSLock()
    private var current: String?

    public init(directory: String, software: String, maxFileBytes: Int = 1 << 30) throws(WARCError) {
        self.directory = directory
        self.software = software
        self.maxFileBytes = maxFileBytes
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WARCError("cannot create the WARC directory \(directory): \(error.localizedDescription)")
        }
    }

    /// The WARC files in a directory, oldest first (their names sort by creation time).
    public static func files(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".warc.gz") || $0.hasSuffix(".warc") }.sorted()
    }

    /// Writes records in order, each its own gzip member; returns their locations.
    public func write(_ records: [WARCRecord]) throws(WARCError) -> [WARCLocation] {
        lock.lock()
        defer { lock.unlock() }
        var locations: [WARCLocation] = []
        for record in records {
            let member = Gzip.member(record.serialized())
            let file = try fileWithRoom(for: member.count)
            locations.append(try append(member, to: file))
        }
        return locations
    }

    private func fileWithRoom(for bytes: Int) throws(WARCError) -> String {
        if current == nil, let newest = Self.files(in: directory).last(where: { $0.hasPrefix("palimpsest-") }) {
            current = newest
        }
        if let current, let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + current))?[.size] as? Int,
           size + bytes <= maxFileBytes || size == 0 {
            return current
        }
        // A new file, named by the time and a sequence number so that names sort in order.
        let stamp = WARCRecord.date(Date()).filter { $0.isNumber }
        var sequence = Self.files(in: directory).count
        var name: String
        repeat {
            name = String(format: "palimpsest-%@-%05d.warc.gz", stamp, sequence)
            sequence += 1
        } while FileManager.default.fileExists(atPath: directory + "/" + name)
        let info = WARCRecord(type: "warcinfo", fields: [
            ("WARC-Record-ID", WARCRecord.newID()),
            ("WARC-Date", WARCRecord.date(Date())),
            ("WARC-Filename", name),
            ("Content-Type", "application/warc-fields"),
        ], block: Array("software: \(software)\r\nformat: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n".utf8))
        _ = try append(Gzip.member(info.serialized()), to: name)
        current = name
        return name
    }

    private func append(_ member: [UInt8], to file: String) throws(WARCError) -> WARCLocation {
        let path = directory + "/" + file
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WARCError("cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw WARCError("cannot lock \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw WARCError("cannot read the size of \(path)") }
        let offset = Int(info.st_size)
        let written = member.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == member.count else {
            // A short write leaves a partial member at the end: cut it off again.
            _ = ftruncate(fd, off_t(offset))
            throw WARCError("cannot write to \(path): \(written < 0 ? String(cString: strerror(errno)) : "the disk is full")")
        }
        guard fsync(fd) == 0 else { throw WARCError("cannot flush \(path) to disk: \(String(cString: strerror(errno)))") }
        return WARCLocation(file: file, offset: offset, length: member.count)
    }
}

extension WARCWriter {
    /// Rewrites one file of the directory with some records changed (a redaction's withholding):
    /// `transform` returns the new record for each record it changes and nil for the others, which
    /// are copied unchanged. The new file replaces the old atomically (rename), under the writers'
    /// lock. Returns how many records changed.
    public func rewrite(file: String, _ transform: (WARCRecord) -> WARCRecord?) throws(WARCError) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let path = directory + "/" + file
        let temporary = path + ".rewrite"
        let reader = try WARCReader(path: path)
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let output = FileHandle(forWritingAtPath: temporary) else {
            throw WARCError("cannot create \(temporary)")
        }
        var changed = 0
        do {
            while let (record, _) = try reader.next() {
                var copy = record
                if let replacement = transform(record) {
                    copy = replacement
                    changed += 1
                }
                output.write(Data(Gzip.member(copy.serialized())))
            }
            try output.synchronize()
            try output.close()
        } catch let error as WARCError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw WARCError("cannot rewrite \(path): \(error.localizedDescription)")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw WARCError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        return changed
    }
}

extension WARCRecord {
    /// The record with its payload withheld: the HTTP head kept (minus the codings, which no
    /// longer apply), the payload replaced by `marker`, the digests recomputed so that WARC tools
    /// still read the file cleanly, and the original digests kept under
    /// `WARC-Palimpsest-Original-Block-Digest` / `-Payload-Digest` beside `extraFields`.
    public func withholdingPayload(marker: String, extraFields: [(String, String)]) -> WARCRecord {
        var head = "HTTP/1.1 200 OK\r\n"
        if let (text, _) = WARCRecord.splitHTTP(block) {
            let lines = text.split(whereSeparator: \.isNewline).map(String.init)
            head = (lines.first ?? "HTTP/1.1 200 OK") + "\r\n"
            for line in lines.dropFirst() {
                let name = line.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                if ["content-encoding", "transfer-encoding", "content-length", "content-type"].contains(name) { continue }
                head += line + "\r\n"
            }
        }
        let payload = Array(marker.utf8)
        head += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(payload.count)\r\n\r\n"
        var copy = self
        copy.block = Array(head.utf8) + payload
        var fields: [(name: String, value: String)] = []
        for (name, value) in self.fields {
            switch name.lowercased() {
            case "warc-block-digest": fields.append((name, WARCRecord.digest(copy.block))); fields.append(("WARC-Palimpsest-Original-Block-Digest", value))
            case "warc-payload-digest": fields.append((name, WARCRecord.digest(payload))); fields.append(("WARC-Palimpsest-Original-Payload-Digest", value))
            default: fields.append((name, value))
            }
        }
        copy.fields = fields + extraFields.map { (name: $0.0, value: $0.1) }
        return copy
    }
}
