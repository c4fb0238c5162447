import Foundation
import LMDB

/// Damage done to a closed ledger through LMDB directly, below the library: what an attacker with
/// the files, or a failing disk, could do.
public enum LMDBTampering {
    /// Flips the lowest bit of the last byte of a value: of `key`'s, or of the table's last entry.
    public static func flipLastByte(of table: String, key: [UInt8]? = nil, at ledger: String) throws {
        let env = try Environment(path: ledger)
        guard let db = try env.openDatabases([table])[table] else { throw Missing(what: "table \(table)") }
        try env.write { txn in
            let entry: (key: [UInt8], value: [UInt8])?
            if let key { entry = try txn.get(db, key: key).map { (key, $0) } } else { entry = try txn.last(db) }
            guard let (k, stored) = entry, !stored.isEmpty else { throw Missing(what: "an entry of \(table)") }
            var value = stored
            value[value.count - 1] ^= 0x01
            try txn.put(db, key: k, value: value)
        }
    }

    public struct Missing: Error {
        public var what: String
    }
}

/// Runs the independent verifier, tools/verify-report.py, on a JSON report.
public func verifyReport(_ path: String, publicKey: String?) throws -> ProcessOutput {
    try run("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent("tools/verify-report.py").path, path] + (publicKey.map { ["--public-key", $0] } ?? []))
}

/// The README's Python check of an export, exactly as the README prints it (the block after "Anyone
/// can check an export with Python's standard library"), run on an export file.
public func runREADMEExportCheck(exportFile: String) throws -> ProcessOutput {
    let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
    guard let marker = readme.range(of: "Anyone can check an export with Python's standard library"),
        let start = readme.range(of: "```python\n", range: marker.upperBound..<readme.endIndex),
        let end = readme.range(of: "```", range: start.upperBound..<readme.endIndex)
    else { throw LMDBTampering.Missing(what: "the README's export check") }
    let script = exportFile + ".check.py"
    try String(readme[start.upperBound..<end.lowerBound]).write(toFile: script, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: script) }
    return try run("/usr/bin/env", ["python3", script, exportFile])
}
