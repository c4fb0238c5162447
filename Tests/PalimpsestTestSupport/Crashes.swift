import Foundation
import Palimpsest

/// The writer the crash tests kill (Tests/PalimpsestStressWriter), built beside the tests.
public let stressWriterExecutable: String = {
    let besideTests = URL(fileURLWithPath: palimpsestExecutable).deletingLastPathComponent().appendingPathComponent("PalimpsestStressWriter").path
    return besideTests
}()

/// What a run of crash trials found (printed by the tests; tools/crash-test runs the long form).
public struct CrashFigures: CustomStringConvertible, Sendable {
    public var trials = 0
    public var acknowledged = 0
    public var found = 0
    public var lost = 0
    public var mismatched = 0
    public var problems: [String] = []
    public init() {}
    public var description: String {
        "\(trials) trials, \(acknowledged) events acknowledged, \(found) found, \(lost) lost, \(mismatched) hashes mismatched"
    }
}

/// Starts `executable`, kills it with SIGKILL after `delay` seconds (or lets it finish first).
/// Returns true when it was killed.
public func runAndKill(_ executable: String, _ arguments: [String], after delay: Double) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(delay)
    while process.isRunning, Date() < deadline { usleep(2_000) }
    let killed = process.isRunning
    if killed { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return killed
}

/// Checks a ledger after a crash: it opens (catching its projections up), `verify` passes with every
/// projection equal to a rebuild (unless `projections` is false: rebuilding them to compare needs room
/// to write), and every acknowledged "position hash" line of `sideFile` is there with the same hash.
public func checkAfterCrash(_ path: String, sideFile: String, projections: Bool = true, into figures: inout CrashFigures) {
    do {
        let ledger = try Ledger.open(at: path)
        let report = try ledger.verify(projections: projections)
        if !report.isClean {
            figures.problems.append("trial \(figures.trials): \(report.firstProblem ?? "") \(report.projectionMismatches.map(\.description))")
        }
        let lines = (try? String(contentsOfFile: sideFile, encoding: .utf8)) ?? ""
        for line in lines.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let position = UInt64(parts[0]) else { continue }
            figures.acknowledged += 1
            guard let event = try ledger.event(at: position) else { figures.lost += 1; continue }
            figures.found += 1
            if event.hash.hex != parts[1] { figures.mismatched += 1 }
        }
    } catch {
        figures.problems.append("trial \(figures.trials): the ledger did not open or read after the crash: \(error)")
    }
}
