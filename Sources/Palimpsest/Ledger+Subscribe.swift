import Foundation

extension Ledger {
    /// The recorded events from `position` on: first those already in the log, then each new one as
    /// it is committed — by this process or another — until the consuming task is cancelled.
    ///
    /// LMDB has no change notifications across processes, so the stream looks for new events every
    /// `pollInterval` (each look is one short read transaction).
    public func subscribe(
        from position: UInt64 = 1, matching filter: EventFilter = EventFilter(), pollInterval: Duration = .milliseconds(100)
    ) -> AsyncThrowingStream<RecordedEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                var next = max(position, 1)
                do {
                    while !Task.isCancelled {
                        let head = try self.head().position
                        if head >= next {
                            try self.forEachEvent(from: next, matching: filter) { event in
                                guard event.position <= head else { return false }  // the next round's
                                continuation.yield(event)
                                return !Task.isCancelled
                            }
                            next = head + 1
                            continue
                        }
                        try await Task.sleep(for: pollInterval)
                    }
                    continuation.finish()
                } catch is CancellationError {
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
