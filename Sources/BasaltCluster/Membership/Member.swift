import BasaltCore

/// A snapshot of one node as membership sees it: gossiped state plus liveness.
public struct Member: Hashable, Sendable, CustomStringConvertible {
    /// Internode address (the gossip key).
    public var address: NodeAddress
    public var hostId: UUIDValue?
    /// Start time of the node's current run, in seconds; larger after every restart.
    public var generation: Int64
    public var status: NodeStatus?
    public var tokens: [Token]
    public var dataCenter: String
    public var rack: String
    /// Address and port clients use (CQL native protocol).
    public var nativeAddress: NodeAddress?
    public var schemaVersion: UUIDValue?
    public var releaseVersion: String?
    /// Bytes on disk, as last gossiped.
    public var load: Double?
    /// Marked up by this node's failure detection (always true for this node itself).
    public var isAlive: Bool

    /// Data center and rack assumed when a node has not gossiped them (Cassandra's defaults).
    public static let defaultDataCenter = "datacenter1"
    public static let defaultRack = "rack1"

    public init(address: NodeAddress, state: Gossip.EndpointState, isAlive: Bool) {
        self.address = address
        hostId = state.hostId
        generation = state.heartbeat.generation
        status = state.status
        tokens = (state.tokens ?? []).sorted()
        dataCenter = state.dataCenter ?? Self.defaultDataCenter
        rack = state.rack ?? Self.defaultRack
        nativeAddress = state.nativeAddress
        schemaVersion = state.schemaVersion
        releaseVersion = state.releaseVersion
        load = state.load
        self.isAlive = isAlive
    }

    public var identity: NodeIdentity? {
        hostId.map { NodeIdentity(hostId: $0, address: address) }
    }

    /// Whether the node's tokens are in the ring: it is normal or leaving and has a host id and tokens.
    public var ownsTokens: Bool {
        (status == .normal || status == .leaving) && hostId != nil && !tokens.isEmpty
    }

    public var ringMember: RingMember? {
        guard ownsTokens, let id = identity else { return nil }
        return RingMember(identity: id, dataCenter: dataCenter, rack: rack, tokens: tokens)
    }

    public var description: String {
        "\(address) \(status?.rawValue ?? "UNKNOWN") \(isAlive ? "UP" : "DOWN") gen \(generation) \(dataCenter)/\(rack)"
    }
}

/// A change in cluster membership, for the coordinator, system tables and client events.
///
/// Client protocol mapping: `.joined` → TOPOLOGY_CHANGE NEW_NODE; `.left` / `.removed` →
/// TOPOLOGY_CHANGE REMOVED_NODE; `.up` / `.down` → STATUS_CHANGE UP / DOWN (never for the local
/// node); `.schemaVersionChanged` feeds schema agreement.
public enum MembershipEvent: Hashable, Sendable {
    /// First time this node hears of the member (any status).
    case discovered(Member)
    /// The member entered the ring: its status became normal with tokens.
    case joined(Member)
    /// Marked up.
    case up(Member)
    /// Marked down.
    case down(Member)
    /// The member restarted (newer generation).
    case restarted(Member)
    /// Its status changed.
    case statusChanged(Member, from: NodeStatus?)
    /// It left the ring (decommissioned).
    case left(Member)
    /// It was removed from the ring by an operator, or dropped from gossip.
    case removed(Member)
    /// Its tokens changed while in the ring, or a joining node announced the tokens it will take.
    case tokensChanged(Member)
    /// It announced a new schema version.
    case schemaVersionChanged(Member, UUIDValue)
    /// The ring changed (after the events above that caused it): rebuild replica placements.
    case ringChanged

    public var member: Member? {
        switch self {
        case let .discovered(m), let .joined(m), let .up(m), let .down(m), let .restarted(m),
             let .statusChanged(m, _), let .left(m), let .removed(m), let .tokensChanged(m),
             let .schemaVersionChanged(m, _): m
        case .ringChanged: nil
        }
    }
}
