import BasaltCore
import HeapModule

/// A deterministic discrete-event simulation of a whole cluster's membership in one process: N
/// ``ClusterMembership`` state machines, a virtual clock and a ``VirtualNetwork``.
///
/// Every message really is encoded and decoded, so byte counts are those of the wire format. The same
/// seed gives the same run. Node `i` has internode address `10.0.<i/250>.<i%250+1>:7000`; the first
/// `seedCount` nodes are the seeds.
public struct ClusterSimulation: Sendable {
    public struct Configuration: Sendable {
        public var nodes: Int
        public var seedCount: Int
        public var tokensPerNode: Int
        public var latencyNanos: ClosedRange<UInt64>
        public var lossProbability: Double
        /// Cluster name, detector settings, etc.; `seeds` and `randomSeed` are filled in per node.
        public var gossip: Gossip.Settings
        public var seed: UInt64
        /// Nodes start at random times within this window.
        public var startSpreadNanos: UInt64

        public init(nodes: Int, seedCount: Int = 3, tokensPerNode: Int = 16,
                    latencyNanos: ClosedRange<UInt64> = 500_000 ... 5_000_000, lossProbability: Double = 0,
                    gossip: Gossip.Settings = Gossip.Settings(clusterName: "sim", seeds: []),
                    seed: UInt64 = 1, startSpreadNanos: UInt64 = 1_000_000_000) {
            self.nodes = nodes
            self.seedCount = seedCount
            self.tokensPerNode = tokensPerNode
            self.latencyNanos = latencyNanos
            self.lossProbability = lossProbability
            self.gossip = gossip
            self.seed = seed
            self.startSpreadNanos = startSpreadNanos
        }
    }

    /// One simulated node.
    public struct Node: Sendable {
        public let index: Int
        public let local: ClusterMembership.LocalNode
        public let tokens: [Token]
        public internal(set) var membership: ClusterMembership?
        /// Generation of the current (or last) run.
        public internal(set) var generation: Int64 = 0
        /// Bumped on every kill or restart, so stale timer events are ignored.
        var incarnation = 0
        public internal(set) var bytesSent: UInt64 = 0
        public internal(set) var messagesSent: UInt64 = 0
        public var isRunning: Bool { membership != nil }
        public var address: NodeAddress { local.address }
    }

    /// A membership event some node emitted, with the virtual time it happened.
    public struct Record: Sendable {
        public var timeNanos: UInt64
        public var node: Int
        public var event: MembershipEvent
    }

    enum Action: Sendable {
        case start(node: Int)
        case tick(node: Int, incarnation: Int)
        case deliver(from: Int, to: Int, bytes: [UInt8])
    }

    struct Scheduled: Comparable, Sendable {
        var time: UInt64
        var sequence: UInt64
        var action: Action
        static func < (a: Scheduled, b: Scheduled) -> Bool {
            a.time != b.time ? a.time < b.time : a.sequence < b.sequence
        }
        static func == (a: Scheduled, b: Scheduled) -> Bool { a.time == b.time && a.sequence == b.sequence }
    }

    public let configuration: Configuration
    public private(set) var nodes: [Node] = []
    public var network: VirtualNetwork
    /// Membership events in time order; at most `maxRecords` are kept (`droppedRecords` counts the rest).
    public private(set) var records: [Record] = []
    public static let maxRecords = 1_000_000
    public private(set) var droppedRecords = 0
    /// Messages and bytes sent, by message kind (the envelope's kind byte: 1 SYN … 6 SHUTDOWN).
    public private(set) var sentByKind: [UInt8: (messages: UInt64, bytes: UInt64)] = [:]
    /// Messages rejected by a receiver (should stay 0).
    public private(set) var rejections: [String] = []
    let clock: ManualClock
    let startMonotonic: UInt64
    var queue = Heap<Scheduled>()
    var sequence: UInt64 = 0
    var rng: SplitMix64
    var indexByAddress: [NodeAddress: Int] = [:]
    /// The ring every node should converge to: all nodes with their tokens.
    public private(set) var expectedRing = TokenRing()

    /// Virtual nanoseconds since the simulation began.
    public var now: UInt64 { clock.monotonicNanos() - startMonotonic }

    /// Builds the nodes (random vnode tokens: placement does not matter to membership, and balanced
    /// allocation is slow in debug builds) and schedules
    /// their start at random times within `startSpreadNanos`.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
        network = VirtualNetwork(nodes: configuration.nodes, latencyNanos: configuration.latencyNanos,
                                 lossProbability: configuration.lossProbability)
        clock = ManualClock()
        startMonotonic = clock.monotonicNanos()
        rng = SplitMix64(seed: configuration.seed)
        var ringMembers: [RingMember] = []
        for i in 0 ..< configuration.nodes {
            let local = ClusterMembership.LocalNode(
                hostId: UUIDValue.random(using: &rng), address: Self.address(of: i),
                nativeAddress: NodeAddress(host: Self.address(of: i).host, port: 9042), releaseVersion: "5.0.0-basalt")
            let tokens = TokenAllocator.random(count: configuration.tokensPerNode, using: &rng)
            ringMembers.append(RingMember(identity: NodeIdentity(hostId: local.hostId, address: local.address),
                                          dataCenter: local.dataCenter, rack: local.rack, tokens: tokens))
            nodes.append(Node(index: i, local: local, tokens: tokens))
            indexByAddress[local.address] = i
            schedule(at: configuration.startSpreadNanos == 0 ? 0 : rng.next() % configuration.startSpreadNanos,
                     .start(node: i))
        }
        expectedRing = TokenRing(members: ringMembers)
    }

    public static func address(of i: Int) -> NodeAddress {
        NodeAddress(host: "10.0.\(i / 250).\(i % 250 + 1)", port: 7000)
    }

    public var seeds: [NodeAddress] { (0 ..< min(configuration.seedCount, configuration.nodes)).map(Self.address(of:)) }

    // MARK: Running

    /// Processes events until virtual time `time` (nanoseconds since the start).
    public mutating func run(until time: UInt64) {
        while let next = queue.min, next.time <= time {
            _ = queue.popMin()
            advanceClock(to: next.time)
            handle(next.action)
        }
        advanceClock(to: time)
    }

    public mutating func run(seconds: Double) {
        run(until: now + UInt64(seconds * 1e9))
    }

    /// Runs until `condition` holds, checking every `stepNanos`; the time it first held, or nil if it
    /// did not within `limitNanos` from now.
    public mutating func run(until condition: (ClusterSimulation) -> Bool, step stepNanos: UInt64 = 100_000_000,
                             limit limitNanos: UInt64) -> UInt64? {
        let deadline = now + limitNanos
        while now < deadline {
            if condition(self) { return now }
            run(until: min(deadline, now + stepNanos))
        }
        return condition(self) ? now : nil
    }

    // MARK: Faults

    /// Stops node `i` abruptly: no more ticks, messages to it are dropped.
    public mutating func kill(_ i: Int) {
        nodes[i].membership = nil
        nodes[i].incarnation += 1
    }

    /// Stops node `i` after it announces its shutdown to its live peers.
    public mutating func shutdown(_ i: Int) {
        if var m = nodes[i].membership {
            let directives = m.onShutdown()
            nodes[i].membership = m
            execute(directives, at: i)
        }
        kill(i)
    }

    /// Starts node `i` again (same host id and tokens) with a new generation, now.
    public mutating func restart(_ i: Int) {
        kill(i)
        startNode(i)
    }

    /// Stops node `i` and starts its host again at a new address (same host id and tokens), as a
    /// container or pod rescheduled with a new IP; returns the index of the node at the new address.
    /// The expected ring then has the host at its new address.
    public mutating func moveToNewAddress(_ i: Int) -> Int {
        kill(i)
        let n = nodes.count
        var local = nodes[i].local
        local.address = Self.address(of: n)
        local.nativeAddress = NodeAddress(host: local.address.host, port: 9042)
        network.grow(to: n + 1)
        nodes.append(Node(index: n, local: local, tokens: nodes[i].tokens))
        indexByAddress[local.address] = n
        expectedRing = TokenRing(members: expectedRing.members.map { m in
            guard m.identity.hostId == local.hostId else { return m }
            return RingMember(identity: NodeIdentity(hostId: local.hostId, address: local.address), dataCenter: m.dataCenter,
                              rack: m.rack, tokens: m.tokens)
        })
        startNode(n)
        return n
    }

    public mutating func partition(_ sides: [[Int]]) { network.partition(sides) }
    public mutating func heal() { network.heal() }

    // MARK: Observation

    /// Whether every running node sees every node in `up` up (with its current generation and status
    /// normal), every node in `down` down, and the same ring, equal to the ring of all nodes.
    public func isConverged(up: Set<Int>, down: Set<Int> = []) -> Bool {
        guard up.allSatisfy({ nodes[$0].isRunning }) else { return false }
        for observer in nodes {
            guard let view = observer.membership?.view else { continue }
            for i in up where i != observer.index {
                guard let m = view.members[nodes[i].address], m.isAlive, m.status == .normal,
                      m.generation == nodes[i].generation else { return false }
            }
            for i in down where i != observer.index {
                guard let m = view.members[nodes[i].address], !m.isAlive else { return false }
            }
            guard view.ring == expectedRing else { return false }
        }
        return true
    }

    /// Every running node's index.
    public var runningNodes: Set<Int> { Set(nodes.filter(\.isRunning).map(\.index)) }

    public var totalBytesSent: UInt64 { nodes.reduce(0) { $0 + $1.bytesSent } }

    // MARK: Internals

    mutating func schedule(at time: UInt64, _ action: Action) {
        sequence += 1
        queue.insert(Scheduled(time: time, sequence: sequence, action: action))
    }

    mutating func advanceClock(to time: UInt64) {
        let current = now
        if time > current { clock.advance(nanos: time - current) }
    }

    mutating func handle(_ action: Action) {
        switch action {
        case let .start(i):
            startNode(i)
        case let .tick(i, incarnation):
            guard nodes[i].incarnation == incarnation, var m = nodes[i].membership else { return }
            let directives = m.onTick()
            nodes[i].membership = m
            execute(directives, at: i)
            schedule(at: now + configuration.gossip.intervalNanos, .tick(node: i, incarnation: incarnation))
        case let .deliver(from, to, bytes):
            guard var m = nodes[to].membership, network.canReach(from, to) else { return }
            let directives = m.onReceive(bytes, peer: "\(nodes[from].address)")
            nodes[to].membership = m
            execute(directives, at: to)
        }
    }

    mutating func startNode(_ i: Int) {
        var settings = configuration.gossip
        settings.seeds = seeds
        settings.randomSeed = rng.next()
        let generation = max(clock.nowSeconds(), nodes[i].generation + 1)
        nodes[i].generation = generation
        var m = ClusterMembership(settings: settings, local: nodes[i].local, generation: generation, clock: clock)
        let directives = m.announceNormal(tokens: nodes[i].tokens)
        nodes[i].incarnation += 1
        nodes[i].membership = m
        execute(directives, at: i)
        schedule(at: now + configuration.gossip.intervalNanos, .tick(node: i, incarnation: nodes[i].incarnation))
    }

    mutating func execute(_ directives: [ClusterMembership.Directive], at i: Int) {
        for d in directives {
            switch d {
            case let .send(to, bytes):
                nodes[i].bytesSent += UInt64(bytes.count)
                nodes[i].messagesSent += 1
                let kind = bytes.count > 1 ? bytes[1] : 0
                let before = sentByKind[kind] ?? (0, 0)
                sentByKind[kind] = (before.messages + 1, before.bytes + UInt64(bytes.count))
                guard let j = indexByAddress[to], let delay = network.delay(from: i, to: j, using: &rng) else { continue }
                schedule(at: now + delay, .deliver(from: i, to: j, bytes: bytes))
            case let .event(e):
                if records.count < Self.maxRecords {
                    records.append(Record(timeNanos: now, node: i, event: e))
                } else {
                    droppedRecords += 1
                }
            case let .rejected(peer, reason):
                if rejections.count < 1000 { rejections.append("node \(i) rejected \(peer): \(reason)") }
            }
        }
    }
}
