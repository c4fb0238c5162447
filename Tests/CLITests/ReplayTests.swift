import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@Suite struct ReplayTests {
    @Test func tellsTheLifeOfADocumentWithItsWordDiffs() throws {
        try withCommunique { ledger throws in
            try cli(ledger, "retract", doc, "--actor", "White House", "--at", "2023-12-29", "--reason", "page removed", "--kind", "deleted")
            let plain = try cli(ledger, "replay", doc)
            #expect(plain.status == 0, "\(plain.err)")
            let blocks = plain.out.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(blocks.count == 3)
            #expect(blocks[0].hasPrefix("#1  2023-12-28T15:00:00Z  \(doc) v1  published  by White House"))
            #expect(blocks[0].contains("(first version: 14 words)"))
            #expect(blocks[1].contains("    reissued"))
            #expect(blocks[1].contains("[-democratic decline, -]"))
            #expect(blocks[2].contains("(withdrawn: deleted, page removed)"))
            #expect(!plain.out.contains("\u{1B}["))
            let json = try cli(ledger, "replay", "--json")
            let lines = json.out.split(separator: "\n").map(String.init)
            #expect(lines.count == 3)
            #expect(try schemaViolations(lines, schema: "replay-line.schema.json") == nil)
            let second = try JSONParser.parse(lines[1])
            guard case .array(let changes)? = second["changes"] else { Issue.record("no changes"); return }
            #expect(changes.map { $0["removed"] } == [.string("democratic decline, ")])
            #expect(changes.map { $0["added"] } == [.string("")])
            #expect(try cli(ledger, "replay", "--from", "2").out.split(separator: "\n").first?.hasPrefix("#2") == true)
            #expect(try cli(ledger, "replay", "--until", "2023-12-28T16:00:00Z").out.components(separatedBy: "\n\n").filter { !$0.isEmpty }.count == 1)
        }
    }

    @Test func refusesWhatDoesNotExist() throws {
        try withCommunique { ledger throws in
            try expectFailure(ledger, ["replay", "nope"], code: 1, "no document \"nope\"")
            try expectFailure(ledger, ["replay", "--from", "9"], code: 1, "position 9 is beyond the end of the log (2 events)")
            try expectFailure(ledger, ["replay", "--until", "2020-01-01"], code: 1, "the first event is from 2023-12-28T15:00:00Z")
            try expectFailure(ledger, ["replay", "--from", "0"], code: 2, "--from counts positions from 1")
        }
    }

    @Test func followPrintsEventsOtherProcessesAppendAndStopsCleanly() throws {
        try withCommunique { ledger throws in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: palimpsestExecutable)
            process.arguments = ["--ledger", ledger, "replay", "--follow", "--json"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let reader = LineCollector(out.fileHandleForReading)
            #expect(reader.waitForLines(2, timeout: 10))
            let appended = Date()
            #expect(try cli(ledger, "edit", doc, "--actor", "SRE", "--at", "2023-12-29", stdin: "y violencia").status == 0)
            #expect(reader.waitForLines(3, timeout: 10))
            let latency = Date().timeIntervalSince(appended)
            #expect(latency < 2, "the followed event took \(latency) s to appear")
            #expect(reader.lines.last?.contains("\"actor\":\"SRE\"") == true)
            kill(process.processIdentifier, SIGINT)
            #expect(waitForExit(process, seconds: 5), "replay --follow did not stop on SIGINT")
            #expect(process.terminationStatus == 0)
        }
    }

    @Test func followFailsWhenTheLedgerDisappears() throws {
        try withCommunique { ledger throws in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: palimpsestExecutable)
            process.arguments = ["--ledger", ledger, "replay", "--follow"]
            let err = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = err
            try process.run()
            Thread.sleep(forTimeInterval: 0.5)
            try FileManager.default.removeItem(atPath: ledger)
            #expect(waitForExit(process, seconds: 10), "replay --follow did not notice")
            #expect(process.terminationStatus == 5)
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(message.contains("disappeared while it was followed"))
        }
    }
}

/// Collects lines from a pipe on a background thread.
final class LineCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer = Data()
    private(set) var lines: [String] = []

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                condition.withLock {
                    buffer.append(chunk)
                    while let newline = buffer.firstIndex(of: 0x0A) {
                        lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                        buffer.removeSubrange(buffer.startIndex...newline)
                    }
                    condition.broadcast()
                }
            }
        }
    }

    func waitForLines(_ count: Int, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        return condition.withLock {
            while lines.count < count {
                if !condition.wait(until: deadline) { return lines.count >= count }
            }
            return true
        }
    }
}
