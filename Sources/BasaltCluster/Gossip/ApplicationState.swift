import BasaltCore

extension Gossip {
    /// The key of one piece of gossiped node state. Unknown keys (from a newer release) are carried
    /// along unchanged, so a mixed-version cluster still converges.
    public struct ApplicationState: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let status = ApplicationState(rawValue: 0)
        public static let tokens = ApplicationState(rawValue: 1)
        public static let hostId = ApplicationState(rawValue: 2)
        public static let internodeAddress = ApplicationState(rawValue: 3)
        public static let nativeAddress = ApplicationState(rawValue: 4)
        public static let dataCenter = ApplicationState(rawValue: 5)
        public static let rack = ApplicationState(rawValue: 6)
        public static let schemaVersion = ApplicationState(rawValue: 7)
        public static let load = ApplicationState(rawValue: 8)
        public static let releaseVersion = ApplicationState(rawValue: 9)

        public static func < (a: ApplicationState, b: ApplicationState) -> Bool { a.rawValue < b.rawValue }

        public var description: String {
            switch self {
            case .status: "STATUS"
            case .tokens: "TOKENS"
            case .hostId: "HOST_ID"
            case .internodeAddress: "INTERNODE_ADDRESS"
            case .nativeAddress: "NATIVE_ADDRESS"
            case .dataCenter: "DC"
            case .rack: "RACK"
            case .schemaVersion: "SCHEMA"
            case .load: "LOAD"
            case .releaseVersion: "RELEASE_VERSION"
            default: "STATE_\(rawValue)"
            }
        }
    }

    /// A state value with the version it was set at. Versions come from one counter per node (shared
    /// with its heartbeat), so a larger version is always a later change by that node.
    public struct VersionedValue: Hashable, Sendable {
        public var version: Int64
        public var bytes: [UInt8]

        public init(version: Int64, bytes: [UInt8]) {
            self.version = version
            self.bytes = bytes
        }
    }

    /// Generation (the node's start time in wall-clock seconds, so a restart gets a larger one) and
    /// heartbeat version (bumped every gossip round).
    public struct HeartbeatState: Hashable, Sendable {
        public var generation: Int64
        public var version: Int64

        public init(generation: Int64, version: Int64) {
            self.generation = generation
            self.version = version
        }
    }
}
