import BasaltCore

extension Gossip {
    /// What an ``Instance`` asks its shell to do, in order.
    public enum Directive: Hashable, Sendable {
        /// Send `envelope` (``Envelope/encoded()``) to `to`'s internode address. Best effort: a lost
        /// message is repaired by later rounds.
        case send(to: NodeAddress, Envelope)
        /// Something about an endpoint changed; see ``Notification``.
        case notify(Notification)
        /// A message was ignored; worth a log line naming the peer, never a crash.
        case rejected(peer: String, reason: String)
    }

    /// A change in what gossip knows about one endpoint. ``MembershipView`` turns these into
    /// membership events.
    public enum Notification: Hashable, Sendable {
        /// First state seen for this address.
        case discovered(NodeAddress)
        /// A newer generation replaced the endpoint's whole state: the node restarted.
        case restarted(NodeAddress)
        /// These application states changed (same generation).
        case updated(NodeAddress, [ApplicationState])
        /// Marked up: it answered an echo.
        case alive(NodeAddress)
        /// Marked down: convicted by the failure detector, announced its shutdown, or entered a dead state.
        case dead(NodeAddress)
        /// Its state was dropped from gossip (a dead state outlived its retention).
        case evicted(NodeAddress)

        public var address: NodeAddress {
            switch self {
            case let .discovered(a), let .restarted(a), let .updated(a, _), let .alive(a), let .dead(a), let .evicted(a): a
            }
        }
    }
}
