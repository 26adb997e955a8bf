/// A node's place in the ring's life cycle, gossiped as its STATUS application state. The names are
/// Cassandra's (`VersionedValue.STATUS_*`).
///
/// joining → normal (owns its tokens) → leaving → left; removed is set by an operator for a dead node.
/// `left` and `removed` are dead states: such a node is never marked up again under this generation.
public enum NodeStatus: String, Hashable, Sendable, CaseIterable {
    case joining = "JOINING"
    case normal = "NORMAL"
    case leaving = "LEAVING"
    case left = "LEFT"
    case removed = "REMOVED"

    /// The node is gone from the ring for good (under its current generation).
    public var isDeadState: Bool { self == .left || self == .removed }
}
