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
        private let lock = Lock()
        private var placements: [ReplicationParams: ReplicaPlacement] = [:]

        public init(ring: TokenRing, local: NodeIdentity, localDataCenter: String, nodes: [UUIDValue: Node]) {
            self.ring = ring
            self.local = local
            self.localDataCenter = localDataCenter
            self.nodes = nodes
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

    /// Replaces the view with `ring` and `members` (this node included); records when members went down.
    public func update(ring: TokenRing, members: [Member]) {
        update(ring: ring, nodes: members.compactMap { m in
            m.identity.map { id in
                Node(identity: id, dataCenter: m.dataCenter, rack: m.rack, isAlive: m.isAlive,
                     address: try? SocketAddress(host: m.address.host, port: m.address.port))
            }
        })
    }

    /// Replaces the view with `ring` and `nodes`; this node always counts as alive.
    public func update(ring: TokenRing, nodes list: [Node]) {
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
            current = Snapshot(ring: ring, local: current.local, localDataCenter: current.localDataCenter, nodes: nodes)
        }
    }

    /// When `host` was last seen going down (µs), nil while it is up or unknown.
    public func downSinceMicros(_ host: UUIDValue) -> Int64? { lock.withLock { downSince[host] } }
}
