import BasaltCore
import BasaltNet
import Logging
import Synchronization

/// The connections to one node (``SessionConfiguration/connectionsPerNode``), its health, and
/// reconnection with backoff when it is down.
///
/// Thread-safe: state is guarded by `lock`; connections are opened by tasks, and their closes
/// reported from their loops. Requests pick the least loaded open connection (``pick()``); a
/// node with no open connection is down and ``pick()`` returns nil at once, so requests go to
/// the next node of their plan instead of waiting.
final class NodePool: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`; `upFlag` is an atomic mirror of
    // `health.isUp`, stored under the lock whenever health changes, read without it.

    let node: ClusterNode
    private let configuration: SessionConfiguration
    private let group: EventLoopGroup
    private let clock = SystemClock()
    private let lock = Lock()
    private var connections: [NodeConnection] = []
    private var health: NodeHealth
    private var opening = false
    private var retryTask: Task<Void, Never>?
    private var lastError: ClientError?
    private let upFlag = Atomic<Bool>(false)

    init(node: ClusterNode, configuration: SessionConfiguration, group: EventLoopGroup) {
        self.node = node
        self.configuration = configuration
        self.group = group
        health = NodeHealth(initialDelayNanos: configuration.reconnectInitialDelay.wholeNanoseconds,
                            maxDelayNanos: configuration.reconnectMaxDelay.wholeNanoseconds)
    }

    var address: String { node.address.description }

    /// Whether the node has an open connection. Any thread, lock-free.
    var isUp: Bool { upFlag.load(ordering: .relaxed) }

    /// What ``pick()`` found.
    enum Pick {
        case connection(NodeConnection)
        /// Every open connection has its maximum of requests in flight.
        case saturated(limit: Int)
        /// No open connection.
        case down
    }

    /// Requests outstanding on the node's connections.
    var inFlight: Int { lock.withLock { connections.reduce(0) { $0 + $1.inFlight } } }

    var openConnectionCount: Int { lock.withLock { connections.count(where: \.isOpen) } }

    /// Why the node is down, when it is.
    var downReason: String {
        lock.withLock { lastError?.description ?? "not connected" }
    }

    /// The open connection with the fewest requests in flight.
    func pick() -> Pick {
        lock.withLock {
            var best: NodeConnection?
            var bestLoad = Int.max
            var limit = 0
            for c in connections where c.isOpen {
                let load = c.inFlight
                limit = c.capacity
                if load < c.capacity && load < bestLoad {
                    best = c
                    bestLoad = load
                }
            }
            if let best { return .connection(best) }
            return limit > 0 ? .saturated(limit: limit) : .down
        }
    }

    /// Health changes go through here so that `upFlag` follows them. Lock held by the caller.
    private func updateHealth<R>(_ change: (inout NodeHealth) -> R) -> R {
        let r = change(&health)
        upFlag.store(health.isUp, ordering: .relaxed)
        return r
    }

    /// Opens connections up to the configured count and returns once done (or failed); the first
    /// failure when none could be opened.
    @discardableResult
    func connect() async -> ClientError? {
        let missing: Int = lock.withLock {
            guard !opening, health.state != .closed else { return 0 }
            let n = max(0, configuration.connectionsPerNode - connections.count(where: \.isOpen))
            if n > 0 { opening = true }
            return n
        }
        guard missing > 0 else { return lock.withLock { lastError } }
        var failure: ClientError?
        for _ in 0 ..< missing {
            do {
                let connection = try await NodeConnection.open(to: node.address, on: group.next(), configuration: configuration)
                adopt(connection)
            } catch {
                failure = error
                break
            }
        }
        let (action, connected): (NodeHealth.Action, Bool) = lock.withLock {
            opening = false
            if connections.contains(where: \.isOpen) {
                updateHealth { $0.connected() }
                return (.none, true)
            }
            lastError = failure ?? lastError
            let now = clock.monotonicNanos()
            return (updateHealth { $0.connectFailed(now: now) }, false)
        }
        if let failure {
            configuration.logger.debug("cannot connect", metadata: ["node": "\(address)", "error": "\(failure)"])
        }
        carryOut(action)
        return connected ? nil : failure
    }

    private func adopt(_ connection: NodeConnection) {
        let keep: Bool = lock.withLock {
            guard health.state != .closed else { return false }
            connections.append(connection)
            return true
        }
        guard keep else {
            connection.close(.sessionClosed)
            return
        }
        connection.onClose { [self] error in connectionClosed(connection, error) }
    }

    private func connectionClosed(_ connection: NodeConnection, _ error: ClientError) {
        let (action, remaining): (NodeHealth.Action, Int) = lock.withLock {
            connections.removeAll { $0 === connection }
            lastError = error
            let open = connections.count(where: \.isOpen)
            let now = clock.monotonicNanos()
            if open == 0 { return (updateHealth { $0.allConnectionsLost(now: now) }, 0) }
            return (.none, open)
        }
        if remaining == 0, action != .none {
            configuration.logger.info("node down", metadata: ["node": "\(address)", "reason": "\(error)"])
        }
        if remaining > 0, remaining < configuration.connectionsPerNode {
            Task { await self.connect() }
        }
        carryOut(action)
    }

    /// The cluster reports the node up: reconnect now if it is down.
    func reportedUp() {
        carryOut(lock.withLock { updateHealth { $0.reportedUp() } })
    }

    private func carryOut(_ action: NodeHealth.Action) {
        switch action {
        case .none:
            return
        case .connect:
            Task { await self.connect() }
        case let .retry(afterNanos):
            let task = Task { [self] in
                try? await Task.sleep(for: .nanoseconds(Int64(clamping: afterNanos)))
                guard !Task.isCancelled else { return }
                let now = clock.monotonicNanos()
                let due = lock.withLock { updateHealth { $0.retryDue(now: now) } }
                if due == .connect { await connect() }
            }
            lock.withLock {
                retryTask?.cancel()
                retryTask = task
            }
        }
    }

    /// Closes every connection and stops reconnecting. Outstanding requests fail with
    /// ``ClientError/sessionClosed``.
    func close() {
        let (all, task): ([NodeConnection], Task<Void, Never>?) = lock.withLock {
            updateHealth { $0.close() }
            defer {
                connections = []
                retryTask = nil
            }
            return (connections, retryTask)
        }
        task?.cancel()
        for c in all { c.close(.sessionClosed) }
    }
}
