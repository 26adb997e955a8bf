import BasaltCore

/// One node's cluster membership — gossip, failure detection and the membership view — as the single
/// state machine the server shell drives.
///
/// The shell calls ``onTick()`` every `settings.intervalNanos`, hands every internode gossip frame
/// to ``onReceive(_:peer:)``, reports local changes through ``onLocalStateChange(_:)``, and executes the
/// returned directives in order: ship `bytes` to an address, publish an event, log a rejection. It
/// never needs to look inside a message.
public struct ClusterMembership: Sendable {
    public internal(set) var gossip: Gossip.Instance
    public private(set) var view: MembershipView

    public enum Directive: Hashable, Sendable {
        /// Send these bytes (one gossip message) to the node at this internode address.
        case send(to: NodeAddress, bytes: [UInt8])
        case event(MembershipEvent)
        /// A peer's message was ignored: log it, naming the peer.
        case rejected(peer: String, reason: String)
    }

    /// What a node announces about itself from the start.
    public struct LocalNode: Hashable, Sendable {
        public var hostId: UUIDValue
        public var address: NodeAddress
        public var nativeAddress: NodeAddress
        public var dataCenter: String
        public var rack: String
        public var releaseVersion: String

        public init(hostId: UUIDValue, address: NodeAddress, nativeAddress: NodeAddress,
                    dataCenter: String = Member.defaultDataCenter, rack: String = Member.defaultRack,
                    releaseVersion: String) {
            self.hostId = hostId
            self.address = address
            self.nativeAddress = nativeAddress
            self.dataCenter = dataCenter
            self.rack = rack
            self.releaseVersion = releaseVersion
        }
    }

    /// Starts membership for `local` with `generation` (start time in seconds; larger than the last run's).
    public init(settings: Gossip.Settings, local: LocalNode, generation: Int64, clock: any Clock) {
        gossip = Gossip.Instance(settings: settings, localAddress: local.address, generation: generation, clock: clock,
                                 initialStates: [
                                     .hostId(local.hostId), .internodeAddress(local.address),
                                     .nativeAddress(local.nativeAddress), .dataCenter(local.dataCenter),
                                     .rack(local.rack), .releaseVersion(local.releaseVersion),
                                 ])
        view = MembershipView(localAddress: local.address)
        _ = view.refresh(local.address, state: gossip.localState, isAlive: true)
    }

    public var localAddress: NodeAddress { gossip.localAddress }

    public mutating func onTick() -> [Directive] { translate(gossip.onTick()) }

    public mutating func onReceive(_ bytes: [UInt8], peer: String) -> [Directive] {
        translate(gossip.onReceive(bytes, peer: peer))
    }

    public mutating func onLocalStateChange(_ values: [Gossip.ApplicationValue]) -> [Directive] {
        translate(gossip.onLocalStateChange(values))
    }

    /// Announce tokens and status NORMAL together: the node now owns its ranges.
    public mutating func announceNormal(tokens: [Token]) -> [Directive] {
        onLocalStateChange([.tokens(tokens), .status(.normal)])
    }

    public mutating func onShutdown() -> [Directive] { translate(gossip.onShutdown()) }

    mutating func translateGossip(_ directives: [Gossip.Directive]) -> [Directive] { translate(directives) }

    /// Sends first, in order; then, for every endpoint a notification named, the view's events.
    private mutating func translate(_ directives: [Gossip.Directive]) -> [Directive] {
        var out: [Directive] = []
        var touched: [NodeAddress] = []
        for d in directives {
            switch d {
            case let .send(to, envelope):
                out.append(.send(to: to, bytes: envelope.encoded()))
            case let .rejected(peer, reason):
                out.append(.rejected(peer: peer, reason: reason))
            case let .notify(n):
                if !touched.contains(n.address) { touched.append(n.address) }
            }
        }
        let updates = touched.map { (address: $0, state: gossip.state(of: $0), isAlive: gossip.isAlive($0)) }
        for e in view.refresh(updates) { out.append(.event(e)) }
        for old in endpointsLeftBehind(by: touched) {
            out += translate(gossip.onRemoteStatusChange(of: old, to: .removed))
        }
        return out
    }

    /// Endpoints a node has left behind by coming back at another address (a container or pod
    /// rescheduled with a new IP keeps its data, host id and tokens): the same host id as a normal
    /// endpoint of a newer generation, down, and not already gone. They are marked removed, so they
    /// leave the status, the peers table and hint targets instead of lingering as a down node.
    /// Checked whenever either endpoint changes (the old one is usually convicted after the new one
    /// appeared).
    private func endpointsLeftBehind(by touched: [NodeAddress]) -> [NodeAddress] {
        let hostIds = Set(touched.compactMap { view.members[$0]?.hostId })
        var out: [NodeAddress] = []
        for hostId in hostIds {
            let same = view.members.values.filter { $0.hostId == hostId }
            guard same.count > 1, let current = same.filter({ $0.status == .normal }).max(by: { $0.generation < $1.generation }) else {
                continue
            }
            for old in same where old.address != current.address && old.generation < current.generation && !old.isAlive
                && old.address != localAddress && old.status?.isDeadState != true {
                out.append(old.address)
            }
        }
        return out
    }
}
