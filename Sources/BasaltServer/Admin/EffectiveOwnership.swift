import BasaltCluster
import BasaltCore

/// `nodetool status KEYSPACE`'s "Owns (effective)": for each ring member, the fraction of the token
/// ring it holds a replica of under a keyspace's replication. Over all nodes the fractions sum to the
/// replication factor (per data center for NetworkTopologyStrategy, capped by the nodes there);
/// under LocalStrategy (system keyspaces) the reporting node holds the whole ring and nobody else
/// counts.
public enum EffectiveOwnership {
    public static func compute(ring: TokenRing, replication: ReplicationParams, localNode: NodeIdentity) -> [NodeAddress: Double] {
        var out: [NodeAddress: Double] = [:]
        for (id, share) in ReplicationStrategy(replication).placement(in: ring, localNode: localNode).replicatedOwnership() {
            out[id.address, default: 0] += share
        }
        return out
    }
}
