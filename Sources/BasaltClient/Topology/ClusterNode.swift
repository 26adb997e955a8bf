import BasaltCore
import BasaltNet

/// A node as the client learned it from `system.local` and `system.peers_v2` (or `system.peers`).
public struct ClusterNode: Hashable, Sendable, CustomStringConvertible {
    public var hostId: UUIDValue
    /// Where the client connects: the node's native (CQL) address and port.
    public var address: SocketAddress
    public var dataCenter: String
    public var rack: String
    /// The node's ring tokens, ascending.
    public var tokens: [Token]
    public var releaseVersion: String?
    public var schemaVersion: UUIDValue?

    public init(hostId: UUIDValue, address: SocketAddress, dataCenter: String, rack: String, tokens: [Token],
                releaseVersion: String? = nil, schemaVersion: UUIDValue? = nil) {
        self.hostId = hostId
        self.address = address
        self.dataCenter = dataCenter
        self.rack = rack
        self.tokens = tokens.sorted()
        self.releaseVersion = releaseVersion
        self.schemaVersion = schemaVersion
    }

    public var description: String { "\(address) \(dataCenter)/\(rack) \(tokens.count) tokens" }
}
