import Foundation

/// A bounded, blocking hand-over from one producer thread to one consumer: the producer works ahead
/// by at most `capacity` elements, then ends with an outcome (what it saw, or why it stopped). The
/// consumer may cancel, which releases a blocked producer and drops what it still puts.
final class BoundedChannel<Element: Sendable, Outcome: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Element] = []
    private let capacity: Int
    private var outcome: Outcome?
    private var cancelled = false
    private var producerWaitedNanoseconds: UInt64 = 0
    private var consumerWaitedNanoseconds: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Seconds the producer spent blocked on a full channel (the consumer was behind).
    var producerWaited: Double { condition.withLock { Double(producerWaitedNanoseconds) / 1e9 } }
    /// Seconds the consumer spent blocked on an empty channel (the producer was behind).
    var consumerWaited: Double { condition.withLock { Double(consumerWaitedNanoseconds) / 1e9 } }

    var isCancelled: Bool { condition.withLock { cancelled } }

    /// Blocks while the channel is full; drops the element when the consumer has cancelled.
    func put(_ element: Element) {
        condition.withLock {
            if queue.count >= capacity, !cancelled {
                let waiting = DispatchTime.now().uptimeNanoseconds
                while queue.count >= capacity, !cancelled { condition.wait() }
                producerWaitedNanoseconds += DispatchTime.now().uptimeNanoseconds - waiting
            }
            if !cancelled { queue.append(element) }
            condition.broadcast()
        }
    }

    /// The next element, or nil when the producer has finished and everything was taken.
    func take() -> Element? {
        condition.withLock {
            if queue.isEmpty, outcome == nil, !cancelled {
                let waiting = DispatchTime.now().uptimeNanoseconds
                while queue.isEmpty, outcome == nil, !cancelled { condition.wait() }
                consumerWaitedNanoseconds += DispatchTime.now().uptimeNanoseconds - waiting
            }
            guard !queue.isEmpty else { return nil }
            let element = queue.removeFirst()
            condition.broadcast()
            return element
        }
    }

    func finish(_ result: Outcome) {
        condition.withLock {
            outcome = result
            condition.broadcast()
        }
    }

    /// The consumer stops taking: a blocked producer is released and stops.
    func cancel() {
        condition.withLock {
            cancelled = true
            condition.broadcast()
        }
    }

    /// Waits until the producer has finished, and returns what it saw.
    func waitForProducer() -> Outcome {
        condition.withLock {
            while outcome == nil { condition.wait() }
            return outcome!
        }
    }
}
