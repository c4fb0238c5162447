import Foundation
import Palimpsest

/// The `git` command line, run on one repository. Git is a normal dependency of a git importer; no
/// git code is copied here, only its documented plumbing commands are run.
struct GitRepository {
    let path: String

    struct Failure: Error {
        let message: String
    }

    /// Runs `git -C path args…` and returns its standard output; `input` is written on a separate
    /// thread so that neither pipe can block the other.
    @discardableResult
    func run(_ args: [String], input: Data? = nil) throws(Failure) -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", path] + args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input == nil ? FileHandle.nullDevice : inp
        do { try process.run() } catch { throw Failure(message: "cannot run git: \(error.localizedDescription)") }
        if let input {
            let writer = inp.fileHandleForWriting
            Thread.detachNewThread {
                writer.write(input)
                try? writer.close()
            }
        }
        nonisolated(unsafe) var errors = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errors = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        group.wait()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(message: text.isEmpty ? "git \(args.first ?? "") failed with status \(process.terminationStatus)" : text)
        }
        return output
    }

    func lines(_ args: [String]) throws(Failure) -> [String] {
        String(decoding: try run(args), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// True when `ancestor` is an ancestor of `commit` (or the same).
    func isAncestor(_ ancestor: String, of commit: String) -> Bool {
        (try? run(["merge-base", "--is-ancestor", ancestor, commit])) != nil
    }
}

/// `git cat-file --batch`: objects by ID, one long-running process.
final class GitObjectReader {
    private let process = Process()
    private let input: FileHandle
    private let output: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(repository: String) throws(GitRepository.Failure) {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", repository, "cat-file", "--batch"]
        let inp = Pipe(), out = Pipe()
        process.standardInput = inp
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw GitRepository.Failure(message: "cannot run git cat-file: \(error.localizedDescription)") }
        input = inp.fileHandleForWriting
        output = out.fileHandleForReading.fileDescriptor
    }

    deinit {
        try? input.close()
        process.waitUntilExit()
    }

    /// The object's type and content.
    func object(_ id: String) throws(GitRepository.Failure) -> (type: String, content: [UInt8]) {
        input.write(Data((id + "\n").utf8))
        let header = try line()
        let fields = header.split(separator: " ")
        guard fields.count == 3, let size = Int(fields[2]) else {
            throw GitRepository.Failure(message: "git cat-file could not read \(id): \(header)")
        }
        let content = try bytes(size)
        _ = try bytes(1)  // the newline after the content
        return (String(fields[1]), content)
    }

    private func fill() throws(GitRepository.Failure) {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress!, $0.count) }
        guard n > 0 else { throw GitRepository.Failure(message: "git cat-file stopped unexpectedly") }
        buffer.append(contentsOf: chunk[0..<n])
    }

    private func line() throws(GitRepository.Failure) -> String {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let text = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                return text
            }
            try fill()
        }
    }

    private func bytes(_ count: Int) throws(GitRepository.Failure) -> [UInt8] {
        while buffer.count - start < count { try fill() }
        let result = Array(buffer[start..<(start + count)])
        start += count
        return result
    }
}
