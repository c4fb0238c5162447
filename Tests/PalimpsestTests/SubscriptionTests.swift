import Foundation
import Palimpsest
import PalimpsestTestSupport
import Testing

@Suite struct SubscriptionTests {
    @Test func catchesUpThenDeliversNewEventsUntilCancelled() async throws {
        let dir = NSTemporaryDirectory() + "palimpsest-sub-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ledger = try Ledger.create(at: dir)
        try await ledger.append(publish("a", "one"))
        try await ledger.append(publish("b", "two"))
        let received = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            group.addTask {
                var positions: [UInt64] = []
                for try await event in ledger.subscribe(from: 2, pollInterval: .milliseconds(20)) {
                    positions.append(event.position)
                    if positions.count == 3 { break }
                }
                return positions
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(150))
                try await ledger.append(publish("c", "three"))
                try await ledger.append(edit("a", "four", at: at(1)))
                return []
            }
            var all: [UInt64] = []
            for try await positions in group { all += positions }
            return all
        }
        #expect(received == [2, 3, 4])
    }

    @Test func filtersByDocument() async throws {
        let dir = NSTemporaryDirectory() + "palimpsest-sub-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ledger = try Ledger.create(at: dir)
        try await ledger.append(contentsOf: [publish("a", "1"), publish("b", "2"), edit("a", "3", at: at(1))])
        var versions: [UInt64] = []
        for try await event in ledger.subscribe(matching: EventFilter(document: "a"), pollInterval: .milliseconds(10)) {
            versions.append(event.version)
            if versions.count == 2 { break }
        }
        #expect(versions == [1, 2])
    }
}
