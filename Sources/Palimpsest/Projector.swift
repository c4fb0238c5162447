import Foundation

/// Folds the following projections behind the writer, on a thread of its own, while a ledger is open
/// for writing: an append returns once the log is committed, and provenance and the phrase index
/// catch up here, in their own write transactions (each storing the projection's checkpoint with its
/// tables, so a kill at any moment loses nothing and folds nothing twice).
///
/// Woken after every commit that appended events; while idle it also looks every second, so events
/// appended by another process are folded too. It holds the ledger weakly: a ledger that is no longer
/// used closes, and its projector stops with it.
///
/// `@unchecked Sendable`: its mutable state is guarded by `condition`.
final class Projector: @unchecked Sendable {
    private let condition = NSCondition()
    private var wanted = false
    private var stopping = false
    private var running = false
    private weak var ledger: Ledger?
    private var thread: Thread?
    /// How long the projector waits, idle, before it looks at the log again.
    static let idlePoll: TimeInterval = 1
    /// The projector thread's nice value (0 is the default, 19 the lowest priority).
    static let niceness: Int32 = 10

    init() {}

    func start(_ ledger: Ledger) {
        self.ledger = ledger
        condition.withLock { running = true }
        let thread = Thread { [self] in loop() }
        thread.name = "palimpsest.projector"
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Something was appended: fold it.
    func wake() {
        condition.withLock {
            wanted = true
            condition.broadcast()
        }
    }

    /// Stops the thread (after the batch it is folding) and waits for it, unless called from the
    /// projector's own thread (the ledger's last reference may be dropped there).
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            guard Thread.current !== thread else { return }
            while running { condition.wait() }
        }
    }

    var shouldStop: Bool { condition.withLock { stopping } }

    private func loop() {
        // Below the writer's threads: an import parses and commits at full speed, and the projections
        // take what the cores leave (then everything, once the log is idle). Linux sets a nice value
        // per thread, inherited by the threads a fold starts.
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(linuxThreadID()), Self.niceness)
        #endif
        defer {
            condition.withLock {
                running = false
                condition.broadcast()
            }
        }
        while true {
            condition.withLock {
                if !wanted, !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: Self.idlePoll)) }
                wanted = false
            }
            if shouldStop { return }
            // A strong reference only while folding: the ledger may close between rounds.
            guard let ledger else { return }
            // Another opener of this directory in this process waits for this ledger to close: let
            // go of it between rounds rather than keep it open for background work.
            ledger.foldFollowingProjectionsInBackground(stopIf: { [self] in shouldStop || ledger.env.isWantedElsewhere })
        }
    }
}

/// A following projection whose fold threw: the log keeps accepting events; the projection stays at
/// the last position it folded until the cause is fixed (its next fold starts there again).
public struct ProjectionFailure: Error, Sendable, CustomStringConvertible {
    public let projection: String
    /// The position of the event whose fold failed.
    public let position: UInt64
    public let error: LedgerError
    public var description: String {
        "the projection \"\(projection)\" failed at position \(position): \(error.message)"
    }
}

/// The latest failure of each following projection (cleared when a fold of it succeeds).
final class ProjectionFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String: ProjectionFailure] = [:]

    func record(_ failure: ProjectionFailure) { lock.withLock { failures[failure.projection] = failure } }
    func clear(_ projection: String) { lock.withLock { _ = failures.removeValue(forKey: projection) } }
    subscript(projection: String) -> ProjectionFailure? { lock.withLock { failures[projection] } }
    var all: [ProjectionFailure] { lock.withLock { Array(failures.values) } }
}

#if os(Linux)
/// glibc's `gettid` (declared in `<unistd.h>` under `_GNU_SOURCE`, which the Glibc module does not import).
@_silgen_name("gettid") private func linuxThreadID() -> Int32
#endif
