import BasaltCore

/// The current membership as one node sees it — every known member, who is up, and the ring — kept
/// by diffing gossip's endpoint states, so events follow from state and never from message order.
///
/// Guarantees: after ``refresh(_:state:isAlive:)`` for an address, `members[address]` reflects that
/// state, `ring` holds exactly the members that own tokens (normal or leaving; on a token claimed by
/// two, the member with the newer generation wins, as in Cassandra), and the returned events describe
/// the difference from before, `.ringChanged` last.
public struct MembershipView: Sendable {
    public let localAddress: NodeAddress
    public private(set) var members: [NodeAddress: Member] = [:]
    public private(set) var ring = TokenRing()

    public init(localAddress: NodeAddress) { self.localAddress = localAddress }

    /// Members marked up (this node included), sorted by address.
    public var liveMembers: [Member] { members.values.filter(\.isAlive).sorted { $0.address < $1.address } }
    /// Members not marked up, sorted by address.
    public var downMembers: [Member] { members.values.filter { !$0.isAlive }.sorted { $0.address < $1.address } }

    /// Brings `address` up to date with gossip's `state` (nil: evicted) and liveness.
    public mutating func refresh(_ address: NodeAddress, state: Gossip.EndpointState?, isAlive: Bool) -> [MembershipEvent] {
        refresh([(address, state, isAlive)])
    }

    /// Brings several endpoints up to date at once; the ring is rebuilt at most once, and
    /// `.ringChanged` reported after every member's own events if the ring differs.
    public mutating func refresh(_ updates: [(address: NodeAddress, state: Gossip.EndpointState?, isAlive: Bool)]) -> [MembershipEvent] {
        var events: [MembershipEvent] = []
        var ringChanged = false
        for u in updates {
            ringChanged = update(u.address, state: u.state, isAlive: u.isAlive, into: &events) || ringChanged
        }
        if ringChanged {
            let before = ring
            rebuildRing()
            if ring != before { events.append(.ringChanged) }
        }
        return events
    }

    /// Updates one member, appending its events; returns whether the ring must change.
    private mutating func update(_ address: NodeAddress, state: Gossip.EndpointState?, isAlive: Bool,
                                 into events: inout [MembershipEvent]) -> Bool {
        let old = members[address]
        guard let state else {
            guard let old else { return false }
            members[address] = nil
            if old.status?.isDeadState != true { events.append(.removed(old)) }
            return old.ownsTokens
        }
        let isLocal = address == localAddress
        let new = Member(address: address, state: state, isAlive: isLocal || isAlive)
        members[address] = new
        if old == new { return false }

        if let old {
            if new.generation > old.generation { events.append(.restarted(new)) }
        } else {
            events.append(.discovered(new))
        }
        if old?.status != new.status, let status = new.status {
            events.append(.statusChanged(new, from: old?.status))
            if status == .left { events.append(.left(new)) }
            if status == .removed { events.append(.removed(new)) }
        }
        let wasInRing = old?.ownsTokens ?? false
        if !wasInRing && new.ownsTokens { events.append(.joined(new)) }
        if new.ownsTokens ? (wasInRing && old?.tokens != new.tokens) : (old != nil && old?.tokens != new.tokens && !new.tokens.isEmpty) {
            // In the ring, or announced by a node that is joining (its pending ranges change).
            events.append(.tokensChanged(new))
        }
        if let schema = new.schemaVersion, schema != old?.schemaVersion {
            events.append(.schemaVersionChanged(new, schema))
        }
        if !isLocal && new.isAlive != (old?.isAlive ?? false) {
            events.append(new.isAlive ? .up(new) : .down(new))
        }
        return wasInRing != new.ownsTokens || (new.ownsTokens && (old?.ringMember != new.ringMember || old?.generation != new.generation))
    }

    private mutating func rebuildRing() {
        let ordered = members.values.filter(\.ownsTokens).sorted {
            $0.generation != $1.generation ? $0.generation < $1.generation : $0.address < $1.address
        }
        ring = TokenRing(members: ordered.compactMap(\.ringMember))
    }
}
