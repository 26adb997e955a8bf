import BasaltCore

extension Gossip {
    /// Everything gossip knows about one endpoint: its heartbeat and its application states.
    ///
    /// Invariant kept by ``Instance``: all values belong to the heartbeat's generation; a newer
    /// generation replaces the whole state.
    public struct EndpointState: Hashable, Sendable {
        public var heartbeat: HeartbeatState
        public var states: [ApplicationState: VersionedValue]

        public init(heartbeat: HeartbeatState, states: [ApplicationState: VersionedValue] = [:]) {
            self.heartbeat = heartbeat
            self.states = states
        }

        /// The largest version among the heartbeat and every application state: what a digest carries.
        public var maxVersion: Int64 {
            states.values.reduce(heartbeat.version) { max($0, $1.version) }
        }

        /// The part of this state newer than `version`: the heartbeat always, and the application states
        /// with a larger version. Nil when nothing is newer.
        public func delta(after version: Int64) -> EndpointState? {
            let newer = states.filter { $0.value.version > version }
            if newer.isEmpty && heartbeat.version <= version { return nil }
            return EndpointState(heartbeat: heartbeat, states: newer)
        }

        public func value(_ key: ApplicationState) -> ApplicationValue? {
            states[key].flatMap { ApplicationValue(key: key, bytes: $0.bytes) }
        }

        public var status: NodeStatus? {
            if case let .status(s) = value(.status) { return s }
            return nil
        }

        public var tokens: [Token]? {
            if case let .tokens(t) = value(.tokens) { return t }
            return nil
        }

        public var hostId: UUIDValue? {
            if case let .hostId(u) = value(.hostId) { return u }
            return nil
        }

        public var schemaVersion: UUIDValue? {
            if case let .schemaVersion(u) = value(.schemaVersion) { return u }
            return nil
        }

        public var dataCenter: String? {
            if case let .dataCenter(s) = value(.dataCenter) { return s }
            return nil
        }

        public var rack: String? {
            if case let .rack(s) = value(.rack) { return s }
            return nil
        }

        public var nativeAddress: NodeAddress? {
            if case let .nativeAddress(a) = value(.nativeAddress) { return a }
            return nil
        }

        public var releaseVersion: String? {
            if case let .releaseVersion(s) = value(.releaseVersion) { return s }
            return nil
        }

        public var load: Double? {
            if case let .load(v) = value(.load) { return v }
            return nil
        }

        /// Left or removed: never to be marked up again under this generation.
        public var isDeadState: Bool { status?.isDeadState ?? false }
    }

    /// One endpoint's entry in a SYN (or a request in an ACK): what the sender holds for it.
    public struct Digest: Hashable, Sendable {
        public var address: NodeAddress
        public var generation: Int64
        public var maxVersion: Int64

        public init(address: NodeAddress, generation: Int64, maxVersion: Int64) {
            self.address = address
            self.generation = generation
            self.maxVersion = maxVersion
        }
    }

    /// An endpoint's (possibly partial) state, as carried in an ACK or ACK2.
    public struct EndpointDelta: Hashable, Sendable {
        public var address: NodeAddress
        public var state: EndpointState

        public init(address: NodeAddress, state: EndpointState) {
            self.address = address
            self.state = state
        }
    }
}
