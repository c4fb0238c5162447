import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

/// What `capture` and `watch` share: who the events name and how pages are fetched.
struct FetchOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Who the events name (default: palimpsest-capture).", valueName: "name"))
    var actor: String?
    @Option(name: .long, help: ArgumentHelp("A contact (e-mail or URL) for the User-Agent, so that site owners can reach you.", valueName: "contact"))
    var contact: String?
    @Flag(name: .customLong("ignore-robots"), help: "Fetch pages that robots.txt forbids (said in the summary).")
    var ignoreRobots = false
    @Option(name: .long, help: ArgumentHelp("The pause between two requests to one host (default 1s).", valueName: "duration"))
    var delay: String?
    @Option(name: .long, help: ArgumentHelp("The longest wait for the first byte, and between two pieces of a body (default 30s).", valueName: "duration"))
    var timeout: String?
    @Option(name: .long, help: ArgumentHelp("The longest a whole response may take, however steadily its bytes arrive (default 120s).", valueName: "duration"))
    var deadline: String?
    @Option(name: .customLong("max-body"), help: ArgumentHelp("The largest body accepted, in bytes, as sent and once decompressed (default 33554432, 32 MiB).", valueName: "bytes"))
    var maxBody: Int?
    @Option(name: .long, help: ArgumentHelp("Retries of a transient failure (timeout, 5xx, refused connection), with doubling backoff (default 2).", valueName: "n"))
    var retries: Int?

    func validate() throws {
        for (name, value) in [("--delay", delay), ("--timeout", timeout), ("--deadline", deadline)] {
            if let value, WatchList.parseDuration(value) == nil {
                throw ValidationError("\(name) \"\(value)\" is not a duration (e.g. 500ms, 2s, 1m)")
            }
        }
        if let maxBody, maxBody <= 0 { throw ValidationError("--max-body must be a positive number of bytes") }
        if let retries, retries < 0 { throw ValidationError("--retries must be 0 or more") }
        if let actor, actor.isEmpty { throw ValidationError("--actor must not be empty") }
    }

    func policy(contact listContact: String? = nil, delay listDelay: Duration? = nil, ignoreRobots listIgnore: Bool = false) -> FetchPolicy {
        var policy = FetchPolicy(contact: contact ?? listContact)
        policy.obeyRobots = !(ignoreRobots || listIgnore)
        if let value = delay.flatMap(WatchList.parseDuration) ?? listDelay { policy.hostDelay = value }
        if let value = timeout.flatMap(WatchList.parseDuration) { policy.readTimeout = value }
        if let value = deadline.flatMap(WatchList.parseDuration) { policy.wholeTimeout = value }
        if let maxBody { policy.bodyLimit = maxBody }
        if let retries { policy.retries = retries }
        // Tests shorten the backoff (never less than what a server under load deserves in use).
        if let text = ProcessInfo.processInfo.environment["PALIMPSEST_RETRY_BACKOFF"], let value = WatchList.parseDuration(text) {
            policy.retryBackoff = value
        }
        return policy
    }
}

/// Counts over the pages of one `capture` or `watch` run, and the summary line.
struct CaptureTally {
    var fetched = 0, changed = 0, unchanged = 0, failed = 0, notRecorded = 0, bytes = 0
    var reports: [CaptureReport] = []

    mutating func add(_ report: CaptureReport) {
        reports.append(report)
        bytes += report.bytes
        switch report.outcome {
        case .published, .edited, .restored, .retracted: fetched += 1; changed += 1
        case .unchanged, .absent: fetched += 1; unchanged += 1
        case .needsJavaScript, .noText, .refused: fetched += 1; notRecorded += 1
        case .failed, .forbiddenByRobots: failed += 1
        }
    }

    func summary(pages: Int, ignoredRobots: Bool, interrupted: Bool = false) -> String {
        var parts = ["\(pages) page\(pages == 1 ? "" : "s")", "fetched \(fetched)", "changed \(changed)", "unchanged \(unchanged)"]
        if notRecorded > 0 { parts.append("not recorded \(notRecorded)") }
        parts.append("failed \(failed)")
        parts.append(Self.bytes(bytes) + " received")
        var line = parts.joined(separator: ", ")
        if ignoredRobots { line += "; robots.txt ignored (--ignore-robots)" }
        if interrupted { line += "; stopped by an interrupt" }
        if failed > 0 { line += "; \(failed) page\(failed == 1 ? "" : "s") could not be fetched (exit 6)" }
        return line
    }

    func json(ignoredRobots: Bool, interrupted: Bool = false) -> JSONValue {
        .object([
            "pages": .array(reports.map(Self.json)),
            "summary": .object([
                "pages": .int(Int64(reports.count)), "fetched": .int(Int64(fetched)), "changed": .int(Int64(changed)),
                "unchanged": .int(Int64(unchanged)), "notRecorded": .int(Int64(notRecorded)), "failed": .int(Int64(failed)),
                "bytes": .int(Int64(bytes)), "robotsIgnored": .bool(ignoredRobots), "interrupted": .bool(interrupted),
            ]),
        ])
    }

    static func json(_ report: CaptureReport) -> JSONValue {
        var object: [String: JSONValue] = [
            "url": .string(report.url), "document": .string(report.document), "outcome": .string(report.outcome.name),
            "bytes": .int(Int64(report.bytes)),
        ]
        if let final = report.finalURL { object["finalURL"] = .string(final) }
        if let status = report.status { object["status"] = .int(Int64(status)) }
        if let detail = report.detail { object["detail"] = .string(detail) }
        if let event = report.event {
            object["position"] = .int(Int64(event.position))
            object["version"] = .int(Int64(event.version))
            object["eventID"] = .string(event.eventID.uuidString.lowercased())
        }
        return .object(object)
    }

    static func line(_ report: CaptureReport) -> String {
        var line = "\(report.outcome.name.padding(toLength: 19, withPad: " ", startingAt: 0)) \(report.document)"
        if let event = report.event { line += " (version \(event.version), position \(event.position))" }
        if let detail = report.detail { line += ": \(detail)" }
        return line
    }

    static func bytes(_ count: Int) -> String {
        count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / 1048576) : count >= 1024 ? String(format: "%.1f KiB", Double(count) / 1024) : "\(count) bytes"
    }
}

/// Runs async work from a synchronous command (ArgumentParser's `run` here is synchronous).
/// The result of an async body, written once before the semaphore is signalled.
final class BlockingResult<T>: @unchecked Sendable { var result: Result<T, any Error>? }

func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = BlockingResult<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

func parseSelectors(_ texts: [String], option: String) throws -> [CSSSelector] {
    try texts.map { text in
        do { return try CSSSelector(text) } catch let error as CSSSelector.ParseError { throw ValidationError("\(option): \(error.description)") }
    }
}

/// Set by SIGINT/SIGTERM: `watch` finishes the page it is on, prints its summary and stops.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

/// Makes SIGINT and SIGTERM set `stopRequested` (a long-running command then finishes its step and
/// returns) and unblocks them: a parent that blocked them (as thread pools do) passes its mask on.
func installStopHandlers() {
    stopRequested = 0
    signal(SIGINT) { _ in stopRequested = 1 }
    signal(SIGTERM) { _ in stopRequested = 1 }
    var endSignals = sigset_t()
    sigemptyset(&endSignals)
    sigaddset(&endSignals, SIGINT)
    sigaddset(&endSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &endSignals, nil)
}
