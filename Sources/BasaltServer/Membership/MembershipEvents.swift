import BasaltCluster
import BasaltCore

/// The fan-out of membership events (up, down, joined, left, removed, tokens and schema-version
/// changes, ring changes) to the node's other subsystems: the coordinator, hinted handoff, the CQL
/// server's client events.
///
/// Guarantees: every subscriber sees every event published after it subscribed, in the order gossip
/// produced them. Handlers run on the gossip loop and must not block (hand work elsewhere); an
/// ``stream(bufferingNewest:)`` consumer that falls more than `limit` events behind loses the oldest
/// ones and should re-read ``GossipService/snapshot`` when it cares about completeness.
public final class MembershipEvents: @unchecked Sendable {
    // @unchecked: `handlers` and `nextID` are guarded by `lock`.
    public typealias Handler = @Sendable (MembershipEvent) -> Void

    private let lock = Lock()
    private var handlers: [Int: Handler] = [:]
    private var nextID = 0

    public init() {}

    /// Calls `handler` with every later event until the subscription is cancelled.
    @discardableResult
    public func subscribe(_ handler: @escaping Handler) -> MembershipSubscription {
        let id = lock.withLock {
            nextID += 1
            handlers[nextID] = handler
            return nextID
        }
        return MembershipSubscription { [weak self] in self?.unsubscribe(id) }
    }

    /// The later events as an async sequence, keeping at most `limit` undelivered ones.
    public func stream(bufferingNewest limit: Int = 1024) -> AsyncStream<MembershipEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: MembershipEvent.self, bufferingPolicy: .bufferingNewest(limit))
        let subscription = subscribe { continuation.yield($0) }
        continuation.onTermination = { _ in subscription.cancel() }
        return stream
    }

    /// Subscribers right now.
    public var subscriberCount: Int { lock.withLock { handlers.count } }

    func publish(_ events: [MembershipEvent]) {
        guard !events.isEmpty else { return }
        let current = lock.withLock { handlers.sorted { $0.key < $1.key }.map(\.value) }
        for event in events {
            for handler in current { handler(event) }
        }
    }

    private func unsubscribe(_ id: Int) {
        lock.withLock { handlers[id] = nil }
    }
}

/// Ends a ``MembershipEvents`` subscription; later events are not delivered.
public struct MembershipSubscription: Sendable {
    private let end: @Sendable () -> Void

    init(_ end: @escaping @Sendable () -> Void) { self.end = end }

    public func cancel() { end() }
}
