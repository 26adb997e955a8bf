import Logging
import Synchronization

/// What every line of a node's log carries: its internode address (`node`) from the start, its host
/// id (`host_id`) once the node has read or made it. The executable bootstraps the logging system with
/// ``provider`` (libraries never do), so lines of loggers the node did not hand out (the default
/// loggers of lower layers) carry them too.
public final class NodeLogMetadata: Sendable {
    private let values = Mutex<Logger.Metadata>([:])

    public init() {}

    public func set(_ key: String, _ value: String) {
        values.withLock { $0[key] = .string(value) }
    }

    public var current: Logger.Metadata { values.withLock { $0 } }

    /// A metadata provider for `LoggingSystem.bootstrap(_:metadataProvider:)`.
    public var provider: Logger.MetadataProvider {
        Logger.MetadataProvider { [self] in current }
    }
}
