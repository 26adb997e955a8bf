import BasaltCluster
import BasaltCore

/// One node's view of the cluster at one moment: every member and the ring. A value, safe to keep
/// and read from any thread.
public struct MembershipSnapshot: Sendable {
    public var localAddress: NodeAddress
    /// This node's generation (start time in seconds).
    public var generation: Int64
    public var members: [NodeAddress: Member]
    public var ring: TokenRing

    public init(view: MembershipView, generation: Int64) {
        localAddress = view.localAddress
        self.generation = generation
        members = view.members
        ring = view.ring
    }

    /// Members sorted by address.
    public var sortedMembers: [Member] { members.values.sorted { $0.address < $1.address } }

    public var local: Member? { members[localAddress] }
}
