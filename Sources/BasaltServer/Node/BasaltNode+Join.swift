import BasaltCluster
import BasaltCore

extension BasaltNode {
    /// A first start's way into the ring; returns the tokens to announce as NORMAL.
    ///
    /// - `replace_address_first_boot`: take the dead node's tokens and stream its data
    ///   (``DataMovementComponent/replace(_:tokens:context:)``).
    /// - A node that is not a seed, with `auto_bootstrap` on and a ring to join: pick tokens, then
    ///   bootstrap (stream the ranges it will own while coordinators count it as a pending replica).
    /// - Otherwise (a seed, the first node, auto_bootstrap off): pick tokens and join at once.
    ///
    /// A failed bootstrap or replacement throws: the node does not join and stores no identity.
    func joinRing(gossip: GossipService, seeds: [NodeAddress], self address: NodeAddress, context: NodeContext)
        async throws(NodeStartError) -> [Token]
    {
        let movement = nodeComponents.lazy.compactMap { $0 as? DataMovementComponent }.first
        if !config.replaceAddressFirstBoot.isEmpty {
            guard let movement else { throw .component(name: "data movement", "replace_address_first_boot needs streaming") }
            let target = NodeAddress(host: config.replaceAddressFirstBoot, port: UInt16(config.internodePort))
            let dead = try await waitForMember(target, gossip: gossip)
            guard !dead.isAlive else {
                throw .component(name: "data movement", "cannot replace \(target): it is alive (replace only a dead node)")
            }
            try await prepareForStreaming(context)
            do { try await movement.replace(dead, tokens: dead.tokens, context: context) } catch {
                throw .component(name: "replace", "\(error)")
            }
            return dead.tokens
        }
        let tokens = try await chooseTokens(gossip: gossip, seeds: seeds, self: address)
        let isSeed = seeds.contains(address)
        let ring = gossip.snapshot.ring
        guard config.autoBootstrap, !isSeed, !ring.isEmpty, let movement else {
            if !ring.isEmpty && !isSeed && !config.autoBootstrap {
                logger.notice("auto_bootstrap is off: joining without streaming the data of the new ranges")
            }
            return tokens
        }
        try await prepareForStreaming(context)
        do { try await movement.bootstrap(tokens: tokens, context: context) } catch {
            throw .component(name: "bootstrap", "\(error)")
        }
        return tokens
    }

    private func prepareForStreaming(_ context: NodeContext) async throws(NodeStartError) {
        for component in nodeComponents {
            do { try await component.beforeJoin(context) } catch { throw .component(name: component.name, "\(error)") }
        }
    }

    /// Waits (up to the ring delay, at least 10 s) until gossip knows `address` with its tokens.
    private func waitForMember(_ address: NodeAddress, gossip: GossipService) async throws(NodeStartError) -> Member {
        let deadline = clock.monotonicNanos() + UInt64(max(config.ringDelayMillis, 10_000)) * 1_000_000
        while true {
            if let m = gossip.snapshot.members[address], !m.tokens.isEmpty, m.hostId != nil {
                // Let the failure detector have its say: a node that answers is not dead.
                try? await Task.sleep(for: .seconds(3))
                return gossip.snapshot.members[address] ?? m
            }
            if clock.monotonicNanos() >= deadline {
                throw .component(name: "replace", "no node with tokens at \(address) is known to gossip; nothing to replace")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
