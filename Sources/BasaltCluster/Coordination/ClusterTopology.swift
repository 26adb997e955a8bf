import BasaltCore
import BasaltNet

/// The coordinator's view of the cluster: the ring, every ring member's data center, liveness and
/// internode address, and replica placements per replication (computed once per ring and cached).
/// The node updates it on every membership change; requests read the current ``Snapshot``.
public final class ClusterTopology: @unchecked Sendable {
    // @unchecked: `current` and `downSince` are guarded by `lock`; snapshots are immutable except
    // for their placement cache, which has its own lock.

    /// What the coordinator knows of one node.
    public struct Node: Sendable {
        public var identity: NodeIdentity
        public var dataCenter: String
        public var rack: String
        public var isAlive: Bool
        /// Where its internode messaging listens; nil if the address does not parse.
        public var address: SocketAddress?

        public init(identity: NodeIdentity, dataCenter: String, rack: String, isAlive: Bool, address: SocketAddress?) {
            self.identity = identity
            self.dataCenter = dataCenter
            self.rack = rack
            self.isAlive = isAlive
            self.address = address
        }
    }

    /// One consistent view; cheap to take, safe to keep.
    public final class Snapshot: @unchecked Sendable {
        // @unchecked: everything is immutable but `placements`, guarded by `lock`.
        public let ring: TokenRing
        public let local: NodeIdentity
        public let localDataCenter: String
        public let nodes: [UUIDValue: Node]
        /// The ring once every range movement under way is done (joining nodes in, leaving ones
        /// out); nil when nothing moves. Its extra replicas are the pending ones.
        public let futureRing: TokenRing?
        /// Nodes moving in (joining, replacing) or out (leaving, being removed), by host id, with
        /// the status that makes them move.
        public let moving: [UUIDValue: NodeStatus]
        private let lock = Lock()
        private var placements: [ReplicationParams: ReplicaPlacement] = [:]
        private var futurePlacements: [ReplicationParams: ReplicaPlacement] = [:]

        public init(ring: TokenRing, local: NodeIdentity, localDataCenter: String, nodes: [UUIDValue: Node],
                    futureRing: TokenRing? = nil, moving: [UUIDValue: NodeStatus] = [:]) {
            self.ring = ring
            self.local = local
            self.localDataCenter = localDataCenter
            self.nodes = nodes
            self.futureRing = futureRing
            self.moving = moving
        }

        /// The pending replicas of `token`: nodes that will replicate it once the movements under
        /// way finish and do not yet (Cassandra's pending ranges). Writes go to them too and wait for
        /// them on top of the level's count. Only nodes believed alive are returned: a joining node
        /// that died must not make every write of its ranges unavailable.
        public func pendingReplicas(for token: Token, _ replication: ReplicationParams) -> [Replica] {
            guard let futureRing, replication != .local else { return [] }
            let future: ReplicaPlacement = lock.withLock {
                if let p = futurePlacements[replication] { return p }
                let p = ReplicationStrategy(replication).placement(in: futureRing, localNode: local)
                futurePlacements[replication] = p
                return p
            }
            let natural = Set(placement(replication).replicas(for: token))
            return future.replicas(for: token).filter { !natural.contains($0) }.map(replica).filter(\.isAlive)
        }

        public func placement(_ replication: ReplicationParams) -> ReplicaPlacement {
            lock.withLock {
                if let p = placements[replication] { return p }
                let p = ReplicationStrategy(replication).placement(in: ring, localNode: local)
                placements[replication] = p
                return p
            }
        }

        /// The natural replicas of `token` under `replication`, primary first.
        public func replicas(for token: Token, _ replication: ReplicationParams) -> [Replica] {
            placement(replication).replicas(for: token).map(replica)
        }

        /// The natural replicas of the ring range ending at `ring.sortedTokens[index]`.
        public func replicas(forRangeEndingAt index: Int, _ replication: ReplicationParams) -> [Replica] {
            placement(replication).replicas(forRangeEndingAt: index).map(replica)
        }

        public func replica(_ id: NodeIdentity) -> Replica {
            if id.hostId == local.hostId {
                return Replica(identity: id, dataCenter: localDataCenter, isAlive: true, isLocal: true)
            }
            let node = nodes[id.hostId]
            return Replica(identity: id, dataCenter: node?.dataCenter ?? Member.defaultDataCenter,
                           isAlive: node?.isAlive ?? false, isLocal: false)
        }

        public func address(of host: UUIDValue) -> SocketAddress? { nodes[host]?.address }
    }

    private let lock = Lock()
    private var current: Snapshot
    private var downSince: [UUIDValue: Int64] = [:]
    private let clock: any Clock

    public init(local: NodeIdentity, localDataCenter: String, clock: any Clock) {
        self.clock = clock
        current = Snapshot(ring: TokenRing(), local: local, localDataCenter: localDataCenter, nodes: [:])
    }

    public var snapshot: Snapshot { lock.withLock { current } }

    /// Replaces the view with `ring` and `members` (this node included); records when members went
    /// down. Joining members with tokens (alive) and leaving members make the future ring.
    public func update(ring: TokenRing, members: [Member]) {
        var future = ring
        var moving: [UUIDValue: NodeStatus] = [:]
        for m in members.sorted(by: { $0.generation < $1.generation }) {
            guard let id = m.identity, let status = m.status else { continue }
            if status == .joining, m.isAlive, !m.tokens.isEmpty {
                future = future.adding(RingMember(identity: id, dataCenter: m.dataCenter, rack: m.rack, tokens: m.tokens))
                moving[id.hostId] = status
            } else if status == .leaving, ring.member(id) != nil {
                future = future.removing(id)
                moving[id.hostId] = status
            }
        }
        update(ring: ring, nodes: members.compactMap { m in
            m.identity.map { id in
                Node(identity: id, dataCenter: m.dataCenter, rack: m.rack, isAlive: m.isAlive,
                     address: try? SocketAddress(host: m.address.host, port: m.address.port))
            }
        }, futureRing: moving.isEmpty ? nil : future, moving: moving)
    }

    /// Replaces the view with `ring` and `nodes`; this node always counts as alive.
    public func update(ring: TokenRing, nodes list: [Node], futureRing: TokenRing? = nil, moving: [UUIDValue: NodeStatus] = [:]) {
        let now = clock.now().micros
        lock.withLock {
            var nodes: [UUIDValue: Node] = [:]
            for var n in list {
                let host = n.identity.hostId
                if host == current.local.hostId { n.isAlive = true }
                nodes[host] = n
                if n.isAlive {
                    downSince[host] = nil
                } else if downSince[host] == nil {
                    downSince[host] = now
                }
            }
            current = Snapshot(ring: ring, local: current.local, localDataCenter: current.localDataCenter, nodes: nodes,
                               futureRing: futureRing, moving: moving)
        }
    }

    /// When `host` was last seen going down (µs), nil while it is up or unknown.
    public func downSinceMicros(_ host: UUIDValue) -> Int64? { lock.withLock { downSince[host] } }
}
