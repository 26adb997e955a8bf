import BasaltCore

extension Gossip.Instance {
    /// SYN handling (Cassandra's `examineGossiper`): for each digest, request what the sender knows
    /// better and send what this node knows better.
    func examine(_ digests: [Gossip.Digest]) -> (requests: [Gossip.Digest], states: [Gossip.EndpointDelta]) {
        var requests: [Gossip.Digest] = []
        var states: [Gossip.EndpointDelta] = []
        var bytes = 0
        let latestBelievable = clock.nowSeconds() + settings.maxGenerationDriftSeconds
        for d in digests where quarantined[d.address] == nil {
            guard let local = endpoints[d.address] else {
                if d.generation <= latestBelievable && endpoints.count + requests.count < settings.maxEndpoints {
                    requests.append(Gossip.Digest(address: d.address, generation: d.generation, maxVersion: 0))
                }
                continue
            }
            let localGeneration = local.heartbeat.generation
            let localMax = local.maxVersion
            if d.generation == localGeneration && d.maxVersion == localMax { continue }
            var send: Gossip.EndpointState? = nil
            if d.generation > localGeneration {
                if d.generation <= latestBelievable {
                    requests.append(Gossip.Digest(address: d.address, generation: d.generation, maxVersion: 0))
                }
            } else if d.generation < localGeneration {
                send = local
            } else if d.maxVersion > localMax {
                requests.append(Gossip.Digest(address: d.address, generation: d.generation, maxVersion: localMax))
            } else {
                send = local.delta(after: d.maxVersion)
            }
            if let send, bytes < settings.maxMessageBytes {
                let delta = Gossip.EndpointDelta(address: d.address, state: send)
                bytes += Gossip.Envelope.encodedSize(delta)
                states.append(delta)
            }
        }
        return (requests, states)
    }

    /// ACK handling: the states the ACK's sender asked for. A request naming an older generation
    /// than this node's gets the whole state; one naming a newer generation gets nothing.
    func statesFor(_ requests: [Gossip.Digest]) -> [Gossip.EndpointDelta] {
        var out: [Gossip.EndpointDelta] = []
        var bytes = 0
        for r in requests where quarantined[r.address] == nil && bytes < settings.maxMessageBytes {
            guard let local = endpoints[r.address] else { continue }
            let state: Gossip.EndpointState?
            if r.generation < local.heartbeat.generation {
                state = local
            } else if r.generation == local.heartbeat.generation {
                state = local.delta(after: r.maxVersion)
            } else {
                state = nil
            }
            if let state {
                let delta = Gossip.EndpointDelta(address: r.address, state: state)
                bytes += Gossip.Envelope.encodedSize(delta)
                out.append(delta)
            }
        }
        return out
    }

    /// Reports advancing heartbeats to the failure detector, before the states are applied (Cassandra's
    /// `notifyFailureDetector`): a newer generation counts (and clears the history of an endpoint not
    /// up), as does a heartbeat version above everything known for the endpoint.
    mutating func notifyFailureDetector(_ deltas: [Gossip.EndpointDelta]) {
        let now = clock.monotonicNanos()
        for d in deltas where d.address != localAddress {
            guard let local = endpoints[d.address] else { continue }
            let remote = d.state.heartbeat
            if remote.generation > local.heartbeat.generation {
                if !liveEndpoints.contains(d.address) { detector.remove(d.address) }
                detector.report(d.address, at: now)
            } else if remote.generation == local.heartbeat.generation && remote.version > local.maxVersion {
                detector.report(d.address, at: now)
            }
        }
    }

    /// Merges received states (Cassandra's `applyStateLocally`).
    mutating func apply(_ deltas: [Gossip.EndpointDelta], into out: inout [Gossip.Directive]) {
        let latestBelievable = clock.nowSeconds() + settings.maxGenerationDriftSeconds
        for d in deltas {
            let addr = d.address
            guard addr != localAddress, quarantined[addr] == nil else { continue }
            let remote = d.state
            if remote.heartbeat.generation > latestBelievable {
                out.append(.rejected(peer: "\(addr)",
                                     reason: "generation \(remote.heartbeat.generation) is too far in the future; ignored"))
                continue
            }
            guard let local = endpoints[addr] else {
                guard endpoints.count < settings.maxEndpoints else {
                    out.append(.rejected(peer: "\(addr)", reason: "already tracking \(endpoints.count) endpoints; ignored"))
                    continue
                }
                detector.report(addr, at: clock.monotonicNanos())
                replaceState(of: addr, with: remote, restarted: false, into: &out)
                continue
            }
            if remote.heartbeat.generation > local.heartbeat.generation {
                replaceState(of: addr, with: remote, restarted: true, into: &out)
            } else if remote.heartbeat.generation == local.heartbeat.generation {
                if remote.maxVersion > local.maxVersion {
                    applyNewerValues(of: addr, from: remote, into: &out)
                }
                if let current = endpoints[addr], !liveEndpoints.contains(addr), !current.isDeadState {
                    requestEcho(addr, into: &out)
                }
            }
        }
    }

    /// A new endpoint, or a restart: the remote state replaces the local one (Cassandra's
    /// `handleMajorStateChange`).
    mutating func replaceState(of addr: NodeAddress, with remote: Gossip.EndpointState, restarted: Bool,
                               into out: inout [Gossip.Directive]) {
        endpoints[addr] = remote
        deadStateSince[addr] = nil
        out.append(.notify(restarted ? .restarted(addr) : .discovered(addr)))
        if remote.isDeadState {
            deadStateSince[addr] = clock.monotonicNanos()
            markDead(addr, into: &out)
        } else if !liveEndpoints.contains(addr) {
            requestEcho(addr, into: &out)
        }
    }

    /// Same generation: take the heartbeat and every value with a larger version.
    mutating func applyNewerValues(of addr: NodeAddress, from remote: Gossip.EndpointState, into out: inout [Gossip.Directive]) {
        guard var local = endpoints[addr] else { return }
        if remote.heartbeat.version > local.heartbeat.version { local.heartbeat = remote.heartbeat }
        var changed: [Gossip.ApplicationState] = []
        for (key, value) in remote.states.sorted(by: { $0.key < $1.key })
        where value.version > (local.states[key]?.version ?? .min) {
            local.states[key] = value
            changed.append(key)
        }
        endpoints[addr] = local
        if !changed.isEmpty { out.append(.notify(.updated(addr, changed))) }
        if local.isDeadState && deadStateSince[addr] == nil {
            deadStateSince[addr] = clock.monotonicNanos()
            markDead(addr, into: &out)
        }
    }
}
