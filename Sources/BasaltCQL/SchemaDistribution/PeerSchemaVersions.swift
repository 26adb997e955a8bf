import BasaltCore

/// The schema version each peer last reported, from gossip or from a schema push it
/// acknowledged, newest report wins. system.peers shows these, so a driver polling for schema
/// agreement sees a DDL's acknowledgements at once instead of after the next gossip rounds.
public final class PeerSchemaVersions: @unchecked Sendable {
    // @unchecked: `versions` is only touched under `lock`.
    private let lock = Lock()
    private var versions: [String: UUIDValue] = [:]

    public init() {}

    /// Records that the node at internode host `address` holds schema `version`.
    public func record(_ address: String, _ version: UUIDValue) {
        lock.withLock { versions[address] = version }
    }

    public func version(of address: String) -> UUIDValue? { lock.withLock { versions[address] } }
}
