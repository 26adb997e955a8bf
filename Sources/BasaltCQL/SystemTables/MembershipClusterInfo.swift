import BasaltCluster
import BasaltCore
import BasaltProtocol

/// System tables and client events from cluster membership: this node and its peers as gossip
/// knows them (members that left or were removed are not listed), peers' schema versions from
/// ``PeerSchemaVersions`` when it heard of them more recently than gossip.
public struct MembershipClusterInfo: ClusterInfoSource {
    public let clusterName: String
    let local: @Sendable () -> NodeInfo
    let members: @Sendable () -> [Member]
    let peerVersions: PeerSchemaVersions

    /// - Parameters:
    ///   - local: this node (its schema version is filled in by the caller when nil).
    ///   - members: every member of the current membership view, this node included.
    public init(clusterName: String, peerVersions: PeerSchemaVersions, local: @escaping @Sendable () -> NodeInfo,
                members: @escaping @Sendable () -> [Member]) {
        self.clusterName = clusterName
        self.peerVersions = peerVersions
        self.local = local
        self.members = members
    }

    public func localNode() -> NodeInfo { local() }

    public func peers() -> [NodeInfo] {
        let me = local()
        return members().compactMap { m in
            guard m.address.host != me.address || m.address.port != UInt16(clamping: me.port) else { return nil }
            return Self.nodeInfo(m, schemaVersion: peerVersions.version(of: m.address.host) ?? m.schemaVersion)
        }
    }

    /// A member as system.peers shows it; nil for members that are not (or no longer) part of the
    /// ring, or that lack what the driver needs (host id, tokens). The release version is the
    /// Cassandra-compatible one every node reports (gossip carries Basalt's own version, which the
    /// driver would take for a pre-4.0 Cassandra and pick the wrong schema parser).
    static func nodeInfo(_ m: Member, schemaVersion: UUIDValue?) -> NodeInfo? {
        guard let hostId = m.hostId, !m.tokens.isEmpty else { return nil }
        switch m.status {
        case .normal?, .leaving?: break
        default: return nil
        }
        return NodeInfo(hostId: hostId, address: m.address.host, port: Int(m.address.port),
                        nativeAddress: m.nativeAddress?.host ?? m.address.host, nativePort: Int(m.nativeAddress?.port ?? 9042),
                        dataCenter: m.dataCenter, rack: m.rack, releaseVersion: NodeInfo.defaultReleaseVersion,
                        schemaVersion: schemaVersion, tokens: m.tokens)
    }

    /// The client event a membership event stands for (docs/membership.md): joined → NEW_NODE,
    /// left/removed → REMOVED_NODE, up/down → UP/DOWN, each with the member's native address.
    public static func clientEvent(_ e: MembershipEvent) -> ProtocolEvent? {
        func endpoint(_ m: Member) -> InetEndpoint? {
            let host = m.nativeAddress?.host ?? m.address.host
            guard let bytes = LiteralParsing.inetBytes(host) else { return nil }
            return InetEndpoint(address: bytes, port: Int32(m.nativeAddress?.port ?? 9042))
        }
        switch e {
        case let .joined(m): return endpoint(m).map { .topologyChange(.newNode, $0) }
        case let .left(m), let .removed(m): return endpoint(m).map { .topologyChange(.removedNode, $0) }
        case let .up(m): return endpoint(m).map { .statusChange(.up, $0) }
        case let .down(m): return endpoint(m).map { .statusChange(.down, $0) }
        default: return nil
        }
    }
}
