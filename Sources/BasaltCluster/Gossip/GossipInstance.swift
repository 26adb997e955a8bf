import BasaltCore

extension Gossip {
    /// One node's gossip and failure detection, as a value driven by events (Cassandra's `Gossiper`
    /// and `FailureDetector`, without threads or I/O).
    ///
    /// Inputs: ``onTick()`` once per `settings.intervalNanos`; ``onReceive(_:peer:)`` /
    /// ``onMessage(_:)`` for every gossip message; ``onLocalStateChange(_:)`` when this node's state
    /// changes; ``onShutdown()`` before stopping. Each returns directives: messages to send and
    /// notifications of what changed. Time is read only from the injected clock; target choices come
    /// from a generator seeded by `settings.randomSeed`, so a run is reproducible.
    ///
    /// Rules (Cassandra's):
    /// - Every tick bumps the local heartbeat version, then sends a SYN with digests of all known
    ///   endpoints to a random live peer; to a random unreachable peer with probability
    ///   `unreachable / (live + 1)`; and to a random seed if the live peer chosen was not a seed or fewer
    ///   nodes are live than there are seeds (always when none is live, otherwise with probability
    ///   `seeds / (live + unreachable)`). Then the failure detector is consulted for every endpoint.
    /// - A newer generation replaces an endpoint's whole state (a restart); the same generation takes
    ///   the values with larger versions; an older generation is ignored; a generation further than
    ///   `maxGenerationDriftSeconds` ahead of the local wall clock is ignored as corrupt.
    /// - A heartbeat seen to advance is reported to the failure detector; a convicted live endpoint is
    ///   marked down. An endpoint not up (new, restarted while down, or down) that gossip says is alive
    ///   is sent an echo and marked up when the reply arrives. Left / removed endpoints are never marked
    ///   up; their state is evicted after `deadStateRetentionNanos` and then quarantined.
    public struct Instance: Sendable {
        public let settings: Settings
        public let localAddress: NodeAddress
        let clock: any Clock
        /// Every known endpoint's state, this node's included.
        public internal(set) var endpoints: [NodeAddress: EndpointState]
        /// Endpoints marked up (never this node).
        public internal(set) var liveEndpoints: Set<NodeAddress> = []
        /// Endpoints marked down, with the monotonic time they were marked.
        public internal(set) var unreachableEndpoints: [NodeAddress: UInt64] = [:]
        public internal(set) var detector: PhiAccrualDetector<NodeAddress>
        var versionCounter: Int64 = 0
        var echoInFlight: [NodeAddress: UInt64] = [:]
        /// Endpoints that announced their shutdown, with the generation they announced it in: never
        /// marked up again under that generation (a late echo reply or a heartbeat relayed by a
        /// third node must not resurrect them); a restart brings a new generation.
        var shutDownGenerations: [NodeAddress: Int64] = [:]
        var quarantined: [NodeAddress: UInt64] = [:]
        var deadStateSince: [NodeAddress: UInt64] = [:]
        var rng: SplitMix64
        /// Seeds other than this node, sorted.
        let seeds: [NodeAddress]
        let seedSet: Set<NodeAddress>

        /// A node starting gossip with `generation` (its start time in wall-clock seconds, larger than
        /// any earlier run's) and its initial application states.
        public init(settings: Settings, localAddress: NodeAddress, generation: Int64, clock: any Clock,
                    initialStates: [ApplicationValue] = []) {
            self.settings = settings
            self.localAddress = localAddress
            self.clock = clock
            self.detector = PhiAccrualDetector(settings: settings.failureDetector)
            self.rng = SplitMix64(seed: settings.randomSeed)
            let seeds = Array(Set(settings.seeds).subtracting([localAddress])).sorted()
            self.seeds = seeds
            self.seedSet = Set(seeds)
            self.endpoints = [localAddress: EndpointState(heartbeat: HeartbeatState(generation: generation, version: 0))]
            for value in initialStates {
                let version = nextVersion()
                endpoints[localAddress]?.states[value.key] = VersionedValue(version: version, bytes: value.encoded())
            }
        }

        // MARK: Queries

        public var localState: EndpointState { endpoints[localAddress] ?? EndpointState(heartbeat: HeartbeatState(generation: 0, version: 0)) }
        public var generation: Int64 { localState.heartbeat.generation }

        public func state(of address: NodeAddress) -> EndpointState? { endpoints[address] }

        /// This node, or an endpoint marked up.
        public func isAlive(_ address: NodeAddress) -> Bool {
            address == localAddress || liveEndpoints.contains(address)
        }

        /// The failure detector's current φ for `address`.
        public func phi(of address: NodeAddress) -> Double? {
            detector.phi(address, at: clock.monotonicNanos())
        }

        // MARK: Inputs

        /// One gossip round; call every `settings.intervalNanos`.
        public mutating func onTick() -> [Directive] {
            var out: [Directive] = []
            let now = clock.monotonicNanos()
            let heartbeatVersion = nextVersion()
            endpoints[localAddress]?.heartbeat.version = heartbeatVersion
            var digests = endpoints.map { addr, st in
                Digest(address: addr, generation: st.heartbeat.generation, maxVersion: st.maxVersion)
            }
            digests.sort { $0.address < $1.address }
            digests.shuffle(using: &rng)
            let syn = Envelope(from: localAddress, message: .syn(clusterName: settings.clusterName, digests: digests))

            let live = liveEndpoints.sorted()
            var gossipedToSeed = false
            if let to = pick(live) {
                out.append(.send(to: to, syn))
                gossipedToSeed = seedSet.contains(to)
            }
            if !unreachableEndpoints.isEmpty {
                let probability = Double(unreachableEndpoints.count) / Double(live.count + 1)
                if rng.nextUnit() < probability, let to = pick(unreachableEndpoints.keys.sorted()) {
                    out.append(.send(to: to, syn))
                }
            }
            if !gossipedToSeed || live.count < seeds.count, !seeds.isEmpty {
                if live.isEmpty {
                    if let to = pick(seeds) { out.append(.send(to: to, syn)) }
                } else {
                    let probability = Double(seeds.count) / Double(live.count + unreachableEndpoints.count)
                    if rng.nextUnit() <= probability, let to = pick(seeds) { out.append(.send(to: to, syn)) }
                }
            }
            statusCheck(now: now, into: &out)
            return out
        }

        /// Decodes and handles one message from the transport; `peer` names the connection in errors.
        public mutating func onReceive(_ bytes: [UInt8], peer: String) -> [Directive] {
            let envelope: Envelope
            do {
                envelope = try Envelope.decode(bytes)
            } catch {
                return [.rejected(peer: peer, reason: "malformed gossip message: \(error)")]
            }
            return onMessage(envelope)
        }

        /// Handles one decoded message.
        public mutating func onMessage(_ envelope: Envelope) -> [Directive] {
            var out: [Directive] = []
            let from = envelope.from
            guard from != localAddress else {
                return [.rejected(peer: "\(from)", reason: "gossip \(envelope.message.name) claims to come from this node")]
            }
            switch envelope.message {
            case let .syn(clusterName, digests):
                guard clusterName == settings.clusterName else {
                    return [.rejected(peer: "\(from)", reason: "SYN for cluster '\(clusterName)', this is '\(settings.clusterName)'")]
                }
                let (requests, states) = examine(digests)
                out.append(.send(to: from, Envelope(from: localAddress, message: .ack(requests: requests, states: states))))
            case let .ack(requests, states):
                if !states.isEmpty {
                    notifyFailureDetector(states)
                    apply(states, into: &out)
                }
                let reply = statesFor(requests)
                if !reply.isEmpty {
                    out.append(.send(to: from, Envelope(from: localAddress, message: .ack2(states: reply))))
                }
            case let .ack2(states):
                notifyFailureDetector(states)
                apply(states, into: &out)
            case .echo:
                out.append(.send(to: from, Envelope(from: localAddress, message: .echoReply)))
            case .echoReply:
                markAliveAfterEcho(from, into: &out)
            case .shutdown:
                if let state = endpoints[from] {
                    shutDownGenerations[from] = state.heartbeat.generation
                    echoInFlight[from] = nil
                    markDead(from, into: &out)
                    detector.remove(from)
                }
            }
            return out
        }

        /// A SYN from `from` (same as ``onMessage(_:)`` with `.syn`).
        public mutating func onSyn(from: NodeAddress, clusterName: String, digests: [Digest]) -> [Directive] {
            onMessage(Envelope(from: from, message: .syn(clusterName: clusterName, digests: digests)))
        }

        /// An ACK from `from`: the digests it requests and the states it sends.
        public mutating func onAck(from: NodeAddress, requests: [Digest], states: [EndpointDelta]) -> [Directive] {
            onMessage(Envelope(from: from, message: .ack(requests: requests, states: states)))
        }

        /// An ACK2 from `from` with the states this node requested.
        public mutating func onAck2(from: NodeAddress, states: [EndpointDelta]) -> [Directive] {
            onMessage(Envelope(from: from, message: .ack2(states: states)))
        }

        /// Sets this node's application states, each with a new version. Returns the notification for
        /// this node; the next gossip rounds spread the values.
        public mutating func onLocalStateChange(_ values: [ApplicationValue]) -> [Directive] {
            guard !values.isEmpty else { return [] }
            for value in values {
                let version = nextVersion()
                endpoints[localAddress]?.states[value.key] = VersionedValue(version: version, bytes: value.encoded())
            }
            return [.notify(.updated(localAddress, values.map(\.key)))]
        }

        public mutating func onLocalStateChange(_ value: ApplicationValue) -> [Directive] {
            onLocalStateChange([value])
        }

        /// Sets a raw application state (for keys this build has no type for).
        public mutating func onLocalStateChange(key: ApplicationState, bytes: [UInt8]) -> [Directive] {
            let version = nextVersion()
            endpoints[localAddress]?.states[key] = VersionedValue(version: version, bytes: bytes)
            return [.notify(.updated(localAddress, [key]))]
        }

        /// Tells every live peer this node is stopping, so they mark it down at once.
        public mutating func onShutdown() -> [Directive] {
            liveEndpoints.sorted().map { .send(to: $0, Envelope(from: localAddress, message: .shutdown)) }
        }

        // MARK: Internals

        mutating func nextVersion() -> Int64 {
            versionCounter += 1
            return versionCounter
        }

        mutating func pick(_ candidates: [NodeAddress]) -> NodeAddress? {
            guard !candidates.isEmpty else { return nil }
            return candidates[Int(rng.next() % UInt64(candidates.count))]
        }

        /// Failure detection, echo time-outs, dead-state eviction and quarantine expiry.
        mutating func statusCheck(now: UInt64, into out: inout [Directive]) {
            let others = endpoints.keys.filter { $0 != localAddress }.sorted()
            for addr in detector.convicted(among: others, at: now) where liveEndpoints.contains(addr) {
                markDead(addr, into: &out)
            }
            echoInFlight = echoInFlight.filter { now &- $0.value < settings.echoTimeoutNanos }
            for (addr, since) in deadStateSince.sorted(by: { $0.key < $1.key })
            where now &- since > settings.deadStateRetentionNanos {
                evict(addr, now: now, into: &out)
            }
            quarantined = quarantined.filter { now &- $0.value < settings.quarantineNanos }
        }

        mutating func markDead(_ addr: NodeAddress, into out: inout [Directive]) {
            let wasAlive = liveEndpoints.remove(addr) != nil
            if unreachableEndpoints[addr] == nil { unreachableEndpoints[addr] = clock.monotonicNanos() }
            if wasAlive { out.append(.notify(.dead(addr))) }
        }

        /// Whether `addr` announced its shutdown under its current generation.
        func hasShutDown(_ addr: NodeAddress) -> Bool {
            guard let generation = shutDownGenerations[addr] else { return false }
            return endpoints[addr]?.heartbeat.generation == generation
        }

        mutating func requestEcho(_ addr: NodeAddress, into out: inout [Directive]) {
            guard echoInFlight[addr] == nil, !hasShutDown(addr) else { return }
            echoInFlight[addr] = clock.monotonicNanos()
            out.append(.send(to: addr, Envelope(from: localAddress, message: .echo)))
        }

        mutating func markAliveAfterEcho(_ addr: NodeAddress, into out: inout [Directive]) {
            echoInFlight[addr] = nil
            guard let st = endpoints[addr], !st.isDeadState, !liveEndpoints.contains(addr), !hasShutDown(addr) else { return }
            liveEndpoints.insert(addr)
            unreachableEndpoints[addr] = nil
            detector.report(addr, at: clock.monotonicNanos())
            out.append(.notify(.alive(addr)))
        }

        mutating func evict(_ addr: NodeAddress, now: UInt64, into out: inout [Directive]) {
            endpoints[addr] = nil
            liveEndpoints.remove(addr)
            unreachableEndpoints[addr] = nil
            echoInFlight[addr] = nil
            deadStateSince[addr] = nil
            shutDownGenerations[addr] = nil
            detector.remove(addr)
            quarantined[addr] = now
            out.append(.notify(.evicted(addr)))
        }
    }
}
