import Synchronization

/// Why a new connection was refused.
public enum ConnectionRefusal: String, Sendable, Hashable, CaseIterable {
    /// The server already holds its maximum number of connections.
    case maxConnections = "max_connections"
    /// The client's host already holds its maximum number of connections.
    case maxConnectionsPerHost = "max_connections_per_ip"
}

/// Open connections counted in total and per client host, against two caps; a pure value. A cap
/// below 1 is no cap (Cassandra's -1).
public struct ConnectionCounts: Sendable, Equatable {
    public private(set) var tally: PerHostTally

    public init(limit: Int, limitPerHost: Int) { tally = PerHostTally(limit: limit, limitPerHost: limitPerHost) }

    public var total: Int { tally.total }

    /// Counts a new connection from `host`, or says why it is refused (then nothing is counted).
    public mutating func admit(host: String) -> ConnectionRefusal? {
        if let breach = tally.breach(host: host) { return breach.perHost ? .maxConnectionsPerHost : .maxConnections }
        tally.add(1, host: host)
        return nil
    }

    /// A connection admitted from `host` closed.
    public mutating func remove(host: String) { tally.remove(1, host: host) }
}

/// ``ConnectionCounts`` shared by a listener's loops, with refusals counted by reason.
public final class ConnectionLimiter: Sendable {
    private struct State {
        var counts: ConnectionCounts
        var refused: [ConnectionRefusal: Int] = [:]
    }

    private let state: Mutex<State>

    public init(limit: Int, limitPerHost: Int) {
        state = Mutex(State(counts: ConnectionCounts(limit: limit, limitPerHost: limitPerHost)))
    }

    /// Admits a connection from `host` (the caller must ``remove(host:)`` it when it closes), or
    /// returns why not and counts the refusal.
    public func admit(host: String) -> ConnectionRefusal? {
        state.withLock { s in
            let refusal = s.counts.admit(host: host)
            if let refusal { s.refused[refusal, default: 0] += 1 }
            return refusal
        }
    }

    public func remove(host: String) { state.withLock { $0.counts.remove(host: host) } }

    /// Connections open now.
    public var open: Int { state.withLock { $0.counts.total } }
    /// Connections refused so far, by reason (every reason present).
    public var refused: [ConnectionRefusal: Int] {
        state.withLock { s in Dictionary(uniqueKeysWithValues: ConnectionRefusal.allCases.map { ($0, s.refused[$0] ?? 0) }) }
    }
}
