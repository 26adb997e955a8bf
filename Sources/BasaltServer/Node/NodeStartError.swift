import BasaltCore
import BasaltNet

/// Why a node could not start; ``description`` is the one line the server prints before exiting.
public enum NodeStartError: Error, Sendable, CustomStringConvertible {
    case invalidConfig([String])
    case dataDirectory(FileError)
    case identity(NodeIdentityError)
    /// The stored identity does not match the configuration (data center, rack or token count).
    case identityMismatch(String)
    case listen(what: String, TCPError)
    /// No seed answered within the ring delay, so the node cannot learn the ring to pick tokens.
    case noSeedReachable(seeds: [String], waitedMillis: Int)
    case component(name: String, String)

    public var description: String {
        switch self {
        case let .invalidConfig(problems): "invalid configuration: " + problems.joined(separator: "; ")
        case let .dataDirectory(e): "data directory: \(e)"
        case let .identity(e): "node identity: \(e)"
        case let .identityMismatch(what): "node identity: \(what)"
        case let .listen(what, e): "\(what): \(e)"
        case let .noSeedReachable(seeds, waited):
            "no seed reachable within \(waited) ms (seeds: \(seeds.joined(separator: ", "))); cannot learn the ring to pick tokens"
        case let .component(name, message): "\(name): \(message)"
        }
    }
}
