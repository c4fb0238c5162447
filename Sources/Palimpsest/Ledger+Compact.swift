import Foundation
import LMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `compact` did.
public struct CompactionResult: Sendable, Equatable {
    /// The data file's size before and after.
    public let bytesBefore: Int
    public let bytesAfter: Int
}

extension Ledger {
    /// Rewrites the ledger's data file without its free pages and swaps the copy in (DESIGN.md §13).
    /// LMDB reuses freed pages but never wipes them, so after a redaction the withheld bytes may still
    /// lie in the file; the compacting copy holds only the live pages.
    ///
    /// Needs the ledger to itself: every process with the ledger open holds a shared lock on its
    /// `lock.mdb`, so this refuses (a storage error naming the process) unless it can take that lock
    /// exclusively, and holds it while it swaps the file in, so that no process opens the ledger
    /// half-way. A kill at any point leaves the old file in place (at worst a stray
    /// `data.mdb.compacting`, removed by the next compaction). Call it with no `Ledger` of this
    /// directory open in this process.
    public static func compact(at directory: String, options: Options = Options()) throws(LedgerError) -> CompactionResult {
        let dataPath = (directory as NSString).appendingPathComponent("data.mdb")
        let lockPath = (directory as NSString).appendingPathComponent("lock.mdb")
        let copyPath = dataPath + ".compacting"
        guard FileManager.default.fileExists(atPath: dataPath) else {
            throw LedgerError(.notFound, "there is no ledger at \(directory); create one with `palimpsest init`")
        }
        // The owner's write permission decides, as for opening: a directory made read-only stays so, even for root.
        guard isWritable(directory), isWritable(dataPath) else {
            throw LedgerError(.storage, "the ledger at \(directory) is read-only, so it cannot be compacted; nothing was changed")
        }
        if let holder = processHoldingLock(lockPath) {
            throw LedgerError(.storage, "the ledger at \(directory) is open in another process (\(holder)); compact needs it to itself: stop that process and try again; nothing was changed")
        }
        let before = fileSize(dataPath)
        unlink(copyPath)
        do {
            var opening = options
            opening.deferFollowingProjections = true
            opening.readOnly = false
            let ledger = try Ledger.open(at: directory, options: opening)
            let fd = Glibc.open(copyPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw LedgerError(.storage, "cannot create \(copyPath): \(String(cString: strerror(errno))); nothing was changed")
            }
            do throws(LMDBError) {
                try ledger.env.copy(to: fd, compacting: true)
            } catch {
                close(fd)
                unlink(copyPath)
                let full = error.code == .noSpace || error.code == .quotaExceeded || error.code == .fileTooLarge
                throw LedgerError(.storage, full ? "there is not enough disk space for a compacted copy of the ledger at \(directory) (it needs up to \(before) bytes more); nothing was changed" : "the compacted copy of the ledger at \(directory) could not be written: \(error.reason); nothing was changed", underlying: error)
            }
            guard fsync(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(copyPath)
                throw LedgerError(.storage, "the compacted copy of the ledger at \(directory) could not be flushed to disk: \(reason); nothing was changed")
            }
            close(fd)
        }
        // The ledger above is closed now (and with it this process's own lock on lock.mdb): take the
        // lock exclusively and hold it across the swap.
        let lockFD = Glibc.open(lockPath, O_RDWR | O_CLOEXEC)
        var exclusive = flock()
        exclusive.l_type = Int16(F_WRLCK)
        exclusive.l_whence = Int16(SEEK_SET)
        guard lockFD >= 0, fcntl(lockFD, F_SETLK, &exclusive) == 0 else {
            if lockFD >= 0 { close(lockFD) }
            unlink(copyPath)
            throw LedgerError(.storage, "another process opened the ledger at \(directory) while it was being compacted; nothing was changed")
        }
        defer { close(lockFD) }
        guard rename(copyPath, dataPath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(copyPath)
            throw LedgerError(.storage, "the compacted copy could not replace \(dataPath): \(reason); nothing was changed")
        }
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return CompactionResult(bytesBefore: before, bytesAfter: fileSize(dataPath))
    }

    private static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// "process N" when another process holds a lock on `path` (LMDB's shared lock of an open
    /// environment), else nil.
    private static func processHoldingLock(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_GETLK, &probe) == 0 else { return nil }
        return probe.l_type == Int16(F_UNLCK) ? nil : "process \(probe.l_pid)"
    }
}
