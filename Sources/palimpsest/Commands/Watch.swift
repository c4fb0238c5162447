import ArgumentParser
import Foundation
import HTMLExtraction
import Palimpsest
import PalimpsestPresentation
import PalimpsestCapture
import WARC

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Capture the pages of a watch list, each at its interval, until interrupted.",
        discussion: """
            The watch list is TOML (or JSON, by its .json name): defaults (contact, actor, every,
            delay, ignore-robots, doc-prefix) and one [[page]] per page (url; optional doc, select,
            remove, every, variant-of). See README, "Watching pages". Each round captures the pages
            that are due, as `capture` does; a progress line shows on a terminal, and a summary is
            printed at the end (after --once's one round, or at Ctrl-C). Exit 6 when some page could
            not be fetched.
            """
    )

    @OptionGroup var location: LedgerOptions
    @Argument(help: "The watch list (TOML, or JSON).") var file: String
    @Flag(name: .long, help: "Capture every page once, then stop.") var once = false
    @Option(name: .long, help: ArgumentHelp("Capture every page at this interval, whatever the list says.", valueName: "duration")) var every: String?
    @OptionGroup var fetch: FetchOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let every, WatchList.parseDuration(every).map({ $0 > .zero }) != true {
            throw ValidationError("--every \"\(every)\" is not a positive duration (e.g. 90s, 15m, 1h)")
        }
    }

    func run() throws {
        let list: WatchList
        do { list = try WatchList(path: file) } catch { throw LedgerError(.invalidInput, error.description) }
        let ledger = try location.open()
        let policy = fetch.policy(contact: list.contact, delay: list.delay, ignoreRobots: list.ignoreRobots)
        let capturer = try Capturer(ledger: ledger, policy: policy, actor: fetch.actor ?? list.actor, documentPrefix: list.documentPrefix)
        let override = every.flatMap(WatchList.parseDuration)
        let once = self.once
        let terminal = isatty(2) != 0
        installStopHandlers()
        let location = self.location
        let shareEvidence: @Sendable () throws -> Void = { try location.shareCaptureEvidence(of: ledger) }
        let (tally, interrupted) = try runBlocking { () async -> (CaptureTally, Bool) in
            var tally = CaptureTally()
            let clock = ContinuousClock()
            var due = Array(repeating: clock.now, count: list.pages.count)
            var round = 0
            outer: while true {
                round += 1
                let now = clock.now
                let pending = list.pages.indices.filter { due[$0] <= now }
                for (k, index) in pending.enumerated() {
                    if stopRequested != 0 { break outer }
                    let page = list.pages[index]
                    if terminal {
                        writeToStandardError("\r\u{1B}[Kround \(round): \(k + 1)/\(pending.count) \(page.target.url) — fetched \(tally.fetched), changed \(tally.changed), unchanged \(tally.unchanged), failed \(tally.failed)")
                    }
                    let report = await capturer.capture(page.target)
                    tally.add(report)
                    if !output.json {
                        if terminal { writeToStandardError("\r\u{1B}[K") }
                        print(CaptureTally.line(report))
                        fflush(nil)
                    }
                    due[index] = clock.now + (override ?? page.every)
                }
                // A shared ledger's other replicas get this round's evidence now, not when the watch
                // ends; a failure is said and tried again after the next round.
                if !pending.isEmpty {
                    do { try shareEvidence() } catch { writeToStandardError("palimpsest: \(error)\n") }
                }
                if once { break }
                // Sleep until the next page is due, in short steps so that an interrupt is prompt.
                while stopRequested == 0, let next = due.min(), clock.now < next {
                    try? await Task.sleep(for: min(.milliseconds(200), next - clock.now))
                }
                if stopRequested != 0 { break }
            }
            if terminal { writeToStandardError("\r\u{1B}[K") }
            await capturer.shutdown()
            return (tally, stopRequested != 0)
        }
        try location.shareCaptureEvidence(of: ledger)
        if output.json {
            printJSON(tally.json(ignoredRobots: !policy.obeyRobots, interrupted: interrupted))
        } else {
            print(tally.summary(pages: tally.reports.count, ignoredRobots: !policy.obeyRobots, interrupted: interrupted))
        }
        if tally.failed > 0 { throw ExitCode(6) }
    }
}
