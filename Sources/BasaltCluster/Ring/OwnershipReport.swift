import BasaltCore

/// A ring built node by node with a token allocation, and its ownership spread: the figures
/// docs/membership.md quotes (`basalt simulate ring` prints them).
public struct OwnershipReport: Sendable {
    public enum Allocation: String, Sendable, CaseIterable {
        /// ``TokenAllocator/allocate(count:dataCenter:in:replicationFactor:using:)``.
        case balanced
        /// Uniformly random tokens (Cassandra without an allocation strategy).
        case random
    }

    public let ring: TokenRing
    public let allocation: Allocation

    /// `nodes` nodes in one data center and rack, added one after another with `tokensPerNode` tokens.
    public static func build(nodes: Int, tokensPerNode: Int, allocation: Allocation, replicationFactor: Int = 3,
                             using rng: inout some RandomNumberGenerator) -> OwnershipReport {
        var ring = TokenRing()
        for n in 0 ..< nodes {
            let tokens: [Token] = switch allocation {
            case .balanced:
                TokenAllocator.allocate(count: tokensPerNode, dataCenter: "datacenter1", in: ring,
                                        replicationFactor: replicationFactor, using: &rng)
            case .random:
                TokenAllocator.random(count: tokensPerNode, using: &rng)
            }
            let id = NodeIdentity(hostId: UUIDValue.random(using: &rng),
                                  address: NodeAddress(host: "127.0.0.\(n + 1)", port: 7000))
            ring = ring.adding(RingMember(identity: id, dataCenter: "datacenter1", rack: "rack1", tokens: tokens))
        }
        return OwnershipReport(ring: ring, allocation: allocation)
    }

    /// Effective ownership per node (as `nodetool status` shows it: the fraction of all data a node
    /// holds a replica of) under SimpleStrategy with `rf`.
    public func effectiveOwnership(rf: Int) -> [Double] {
        let placement = ReplicationStrategy(.simple(replicationFactor: rf))
            .placement(in: ring, localNode: ring.members[0].identity)
        let owned = placement.replicatedOwnership()
        return ring.members.map { owned[$0.identity] ?? 0 }
    }

    /// Smallest and largest effective ownership under replication factor `rf`.
    public func spread(rf: Int) -> (min: Double, max: Double) {
        let own = effectiveOwnership(rf: rf)
        return (own.min() ?? 0, own.max() ?? 0)
    }

    /// One table row: nodes, allocation, then min / max / max÷min for RF=1 and RF=3.
    public func row() -> String {
        let s1 = spread(rf: 1), s3 = spread(rf: 3)
        func pct(_ v: Double) -> String { String(format1: v * 100) + "%" }
        return "| \(ring.members.count) | \(allocation.rawValue) | \(pct(s1.min)) | \(pct(s1.max)) | "
            + "\(String(format3: s1.max / s1.min)) | \(pct(s3.min)) | \(pct(s3.max)) | \(String(format3: s3.max / s3.min)) |"
    }
}

extension String {
    /// `v` with one decimal, without Foundation.
    init(format1 v: Double) {
        let scaled = (v * 10).rounded()
        self = "\(Int(scaled) / 10).\(abs(Int(scaled)) % 10)"
    }

    /// `v` with three decimals, without Foundation.
    init(format3 v: Double) {
        let scaled = Int((v * 1000).rounded())
        let frac = abs(scaled) % 1000
        self = "\(scaled / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }
}
