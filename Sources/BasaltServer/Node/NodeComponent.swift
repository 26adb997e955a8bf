import BasaltCluster
import BasaltCore
import BasaltNet
import Logging

/// A subsystem the node starts and stops in its place in the order (see ``BasaltNode``): the storage
/// engine (``Stage/storage``), the coordinator and the CQL server (``Stage/service``).
public protocol NodeComponent: AnyObject, Sendable {
    /// For logs and errors.
    var name: String { get }
    var stage: NodeComponentStage { get }
    /// Called for every component before messaging starts (verbs can only be registered then):
    /// register internode verbs, metrics collectors and membership subscriptions here.
    func prepare(_ context: NodeContext) throws
    /// Starts the component. A thrown error stops the node's start-up (components already started are
    /// stopped in reverse order) and is reported naming the component.
    func start(_ context: NodeContext) async throws
    /// Stops the component; called in reverse start order, only if ``start(_:)`` succeeded.
    func stop() async
    /// Called on a first start that streams data before joining (bootstrap, replace), after
    /// messaging and gossip started and before streaming: e.g. the schema attaches the storage
    /// engine so the tables to stream exist. Not called otherwise.
    func beforeJoin(_ context: NodeContext) async throws
}

extension NodeComponent {
    public func prepare(_ context: NodeContext) throws {}
    public func beforeJoin(_ context: NodeContext) async throws {}
}

/// Where a component starts.
public enum NodeComponentStage: Sendable {
    /// After the data directory and identity, before messaging: the storage engine (commit-log replay
    /// happens before the node talks to anyone).
    case storage
    /// After the node joined the ring (status normal): the coordinator, the CQL native server.
    case service
}

/// What a component gets from the node.
public struct NodeContext: Sendable {
    public let config: NodeConfig
    public let dataDirectory: String
    public let hostId: UUIDValue
    public let generation: Int64
    public let clock: any Clock
    public let logger: Logger
    public let group: EventLoopGroup
    public let messaging: MessagingService
    public let events: MembershipEvents
    public let metrics: MetricsRegistry
    /// The current membership view (members, ring), from any thread.
    public let membership: @Sendable () -> MembershipSnapshot
    /// Announces changes of this node's own gossip state (e.g. its schema version).
    public let updateLocalState: @Sendable ([Gossip.ApplicationValue]) async -> Void
    /// Runs a change on the membership state machine (e.g. another endpoint's status set by removenode).
    public let updateMembership: @Sendable (@escaping @Sendable (inout ClusterMembership) -> [ClusterMembership.Directive]) async -> Void
    /// Asks the process to stop the node gracefully (after a decommission).
    public let requestStop: @Sendable (String) -> Void
    /// The admin endpoint's extra routes: register handlers in ``NodeComponent/prepare(_:)``.
    public let admin: AdminActions
    /// Peers' clock offsets, and whether this node may pick write timestamps.
    public let clockOffsets: ClockOffsetService
    /// The node's TLS contexts (the native port's is used by the CQL component).
    public var tls = NodeTLS.none
}
