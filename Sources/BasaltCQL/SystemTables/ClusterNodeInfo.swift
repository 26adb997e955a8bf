import BasaltCore

/// What system.local and system.peers(_v2) say about one node.
public struct NodeInfo: Hashable, Sendable {
    public var hostId: UUIDValue
    /// Internode (listen/broadcast) address and port.
    public var address: String
    public var port: Int
    /// Address and port clients connect to (CQL native protocol).
    public var nativeAddress: String
    public var nativePort: Int
    public var dataCenter: String
    public var rack: String
    public var releaseVersion: String
    public var schemaVersion: UUIDValue?
    public var tokens: [Token]

    public init(hostId: UUIDValue, address: String, port: Int = 7000, nativeAddress: String, nativePort: Int = 9042,
                dataCenter: String = "datacenter1", rack: String = "rack1", releaseVersion: String = NodeInfo.defaultReleaseVersion,
                schemaVersion: UUIDValue? = nil, tokens: [Token]) {
        self.hostId = hostId
        self.address = address
        self.port = port
        self.nativeAddress = nativeAddress
        self.nativePort = nativePort
        self.dataCenter = dataCenter
        self.rack = rack
        self.releaseVersion = releaseVersion
        self.schemaVersion = schemaVersion
        self.tokens = tokens
    }

    /// The Cassandra release Basalt reports: cqlsh prefers 5.0.x, the driver needs ≥ 4.
    public static let defaultReleaseVersion = "5.0.0"
}

/// Where the executor learns the cluster as system tables show it: this node and the peers it
/// knows (nodes that left are not listed). Implemented by the node from its membership view; a
/// fixed value in single-node setups and tests.
public protocol ClusterInfoSource: Sendable {
    var clusterName: String { get }
    /// This node, with the current schema version filled in by the caller if nil.
    func localNode() -> NodeInfo
    /// Every other known node that is part of the cluster.
    func peers() -> [NodeInfo]
}

/// A cluster of exactly one known node.
public struct SingleNodeClusterInfo: ClusterInfoSource {
    public var clusterName: String
    public var node: NodeInfo

    public init(clusterName: String, node: NodeInfo) {
        self.clusterName = clusterName
        self.node = node
    }

    public func localNode() -> NodeInfo { node }
    public func peers() -> [NodeInfo] { [] }
}
