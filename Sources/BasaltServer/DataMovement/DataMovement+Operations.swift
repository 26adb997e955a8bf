import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltStorage

extension DataMovementComponent {
    // MARK: - Bootstrap and replace (first start)

    /// Bootstrap: waits for the schema, announces `tokens` as JOINING, waits until every live node
    /// counts this node as a pending replica (and for writes started before that to finish), then
    /// streams every range it will replicate from a current replica. Throws when any of it fails:
    /// the node then does not join.
    func bootstrap(tokens: [Token], context: NodeContext) async throws {
        try await waitForSchemaAgreement(context)
        let keyspaces = movableKeyspaces()
        let me = localIdentity(context)
        guard keyspaces.contains(where: { !$0.tables.isEmpty }) else {
            context.logger.info("bootstrap: no replicated tables yet, nothing to stream")
            return
        }
        await context.updateLocalState([.tokens(tokens), .status(.joining)])
        try await waitUntilEveryoneSees(context.hostId, .joining, context: context)
        // Writes coordinated before a node saw this one as pending may still be in flight.
        try await Task.sleep(for: .milliseconds(context.config.writeTimeoutMillis))
        let snapshot = context.membership()
        let future = snapshot.ring.adding(RingMember(identity: me, dataCenter: context.config.dataCenter, rack: context.config.rack, tokens: tokens))
        let transfers = try RangeMovement.transfers(from: snapshot.ring, to: future, keyspaces: movableKeyspaces(), local: me,
                                                    receivers: [me], usable: { id in Self.isAlive(id, snapshot) })
        try await stream(transfers, purpose: "bootstrap", context: context)
    }

    /// Replace: like bootstrap with the dead node's tokens; the data comes from the other replicas
    /// of its ranges. Afterwards the dead node is marked removed.
    func replace(_ dead: Member, tokens: [Token], context: NodeContext) async throws {
        guard let deadId = dead.identity else { throw StreamError.refused("the node to replace has no host id") }
        try await waitForSchemaAgreement(context)
        let me = localIdentity(context)
        await context.updateLocalState([.tokens(tokens), .status(.joining)])
        try await waitUntilEveryoneSees(context.hostId, .joining, context: context)
        try await Task.sleep(for: .milliseconds(context.config.writeTimeoutMillis))
        let snapshot = context.membership()
        // The new node claims the dead node's tokens: in the future ring it takes the dead node's
        // place; the data comes from the dead node's fellow replicas.
        let future = snapshot.ring.adding(RingMember(identity: me, dataCenter: dead.dataCenter, rack: dead.rack, tokens: tokens))
        let transfers = try RangeMovement.transfers(from: snapshot.ring, to: future, keyspaces: movableKeyspaces(), local: me,
                                                    receivers: [me], usable: { id in id != deadId && Self.isAlive(id, snapshot) })
        try await stream(transfers, purpose: "replace", context: context)
        await context.updateMembership { $0.setRemoteStatus(of: dead.address, to: .removed) }
    }

    /// Waits until this node's schema version is every live peer's (the tables to stream exist).
    private func waitForSchemaAgreement(_ context: NodeContext) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let snapshot = context.membership()
            let mine = snapshot.local?.schemaVersion
            let others = snapshot.members.values.filter { $0.isAlive && $0.address != snapshot.localAddress && $0.status == .normal }
            if mine != nil, others.allSatisfy({ $0.schemaVersion == mine }) { return }
            if ContinuousClock.now >= deadline { throw StreamError.refused("no schema agreement with the cluster after 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    static func isAlive(_ id: NodeIdentity, _ snapshot: MembershipSnapshot) -> Bool {
        snapshot.members[id.address].map { $0.isAlive && $0.hostId == id.hostId } ?? false
    }

    private func stream(_ transfers: [RangeMovement.Transfer], purpose: String, context: NodeContext) async throws {
        let tasks = transfers.reduce(0) { $0 + $1.tasks.count }
        context.logger.info("\(purpose): streaming", metadata: ["sources": "\(Set(transfers.map(\.source)).count)", "tasks": "\(tasks)"])
        let started = ContinuousClock.now
        try await run(transfers, purpose: purpose, context: context) { done, total in
            context.logger.info("\(purpose): \(done)/\(total) transfers done")
        }
        context.logger.info("\(purpose): streaming complete", metadata: ["took": "\(ContinuousClock.now - started)"])
    }

    // MARK: - Decommission

    /// Decommission: LEAVING, wait until every node counts the new owners as pending, stream every
    /// range to its new replicas, hand off hints, LEFT, then stop the process. A failure before LEFT
    /// announces NORMAL again (the node stays in the ring with its data).
    func decommission(_ op: Int, context: NodeContext) async throws {
        let snapshot = context.membership()
        let me = localIdentity(context)
        guard snapshot.local?.status == .normal else { throw StreamError.refused("this node is \(snapshot.local?.status?.rawValue ?? "not in the ring"), not NORMAL") }
        let future = snapshot.ring.removing(me)
        guard !future.isEmpty else { throw StreamError.refused("this is the last node of the ring; there is nowhere to move its data") }
        let keyspaces = movableKeyspaces()
        for ks in keyspaces {
            if case let .simple(rf) = ks.replication, rf > future.members.count {
                throw StreamError.refused("keyspace \(ks.name) has replication factor \(rf) and only \(future.members.count) nodes would remain")
            }
        }
        progress(op, "announcing LEAVING")
        await context.updateLocalState([.status(.leaving)])
        do {
            try await waitUntilEveryoneSees(context.hostId, .leaving, context: context)
            try await Task.sleep(for: .milliseconds(context.config.writeTimeoutMillis))
            let transfers = try RangeMovement.transfers(from: snapshot.ring, to: future, keyspaces: movableKeyspaces(), local: me,
                                                        usable: { $0 == me })
            try await run(transfers, purpose: "decommission", context: context) { [self] done, total in
                progress(op, "streamed to new replicas: \(done)/\(total) transfers")
            }
            progress(op, "handing off hints")
            try await handOffHints(context: context, excluding: me)
        } catch {
            await context.updateLocalState([.status(.normal)])
            throw error
        }
        progress(op, "announcing LEFT")
        await context.updateLocalState([.status(.left)])
        try? await waitUntilEveryoneSees(context.hostId, .left, context: context, timeout: .seconds(30))
        // The memtables go to disk now, so the stop that follows (which flushes too) is quick.
        try? storage.engine.flushAll()
        progress(op, "left the ring; stopping")
        finish(op, state: "left")
        // Lets a polling `basalt admin decommission` read the final state before the port closes.
        try? await Task.sleep(for: .seconds(1))
        context.requestStop("decommissioned")
    }

    /// Every stored hint goes to its target when it is alive, else to another live node to keep.
    private func handOffHints(context: NodeContext, excluding me: NodeIdentity) async throws {
        guard let store = coordination.hintedHandoff?.store else { return }
        for target in store.targets() {
            let snapshot = context.membership()
            let targetMember = snapshot.members.values.first { $0.hostId == target }
            let keeper: Member?
            if let t = targetMember, t.isAlive {
                keeper = t
            } else {
                keeper = snapshot.members.values.filter { $0.isAlive && $0.status == .normal && $0.hostId != me.hostId && $0.hostId != target }
                    .sorted { $0.address < $1.address }.first
            }
            guard let keeper, let address = try? SocketAddress(host: keeper.address.host, port: keeper.address.port) else {
                context.logger.warning("decommission: no live node to hand hints to", metadata: ["target": "\(target)"])
                continue
            }
            while let batch = store.nextBatch(for: target, maxBytes: 1 << 20) {
                for hint in batch.hints {
                    if keeper.hostId == target {
                        _ = try await context.messaging.request(to: address, verb: ReplicaVerbs.hint, payload: hint.mutation)
                    } else {
                        _ = try await context.messaging.request(to: address, verb: StreamVerbs.hintHandoff,
                                                                payload: StreamVerbs.hintHandoff(target: target, createdAtMicros: hint.createdAtMicros,
                                                                                                 mutation: hint.mutation))
                    }
                }
                store.markDelivered(batch)
            }
        }
    }

    // MARK: - removenode

    /// removenode: the dead node is announced LEAVING on its behalf (so writes go to its ranges'
    /// new replicas too), the new replicas fetch its ranges from the remaining ones, then it is
    /// announced REMOVED.
    func removeNode(_ host: UUIDValue, _ op: Int, context: NodeContext) async throws {
        let snapshot = context.membership()
        guard host != context.hostId else { throw StreamError.refused("a node cannot remove itself; use decommission") }
        guard let dead = snapshot.members.values.first(where: { $0.hostId == host }), let deadId = dead.identity else {
            throw StreamError.refused("no node with host id \(host)")
        }
        guard !dead.isAlive else { throw StreamError.refused("node \(dead.address) is alive; decommission it instead of removing it") }
        guard snapshot.ring.member(deadId) != nil else { throw StreamError.refused("node \(dead.address) owns no tokens") }
        let future = snapshot.ring.removing(deadId)
        let me = localIdentity(context)
        progress(op, "announcing \(dead.address) LEAVING")
        await context.updateMembership { $0.setRemoteStatus(of: dead.address, to: .leaving) }
        try await waitUntilEveryoneSees(host, .leaving, context: context)
        try await Task.sleep(for: .milliseconds(context.config.writeTimeoutMillis))
        let transfers = try RangeMovement.transfers(from: snapshot.ring, to: future, keyspaces: movableKeyspaces(), local: me,
                                                    usable: { id in id != deadId && Self.isAlive(id, snapshot) })
        try await run(transfers, purpose: "removenode", context: context) { [self] done, total in
            progress(op, "re-replicated: \(done)/\(total) transfers")
        }
        await context.updateMembership { $0.setRemoteStatus(of: dead.address, to: .removed) }
        coordination.hintedHandoff?.forget(host)
        try? await waitUntilEveryoneSees(host, .removed, context: context, timeout: .seconds(30))
        finish(op, state: "completed")
    }

    // MARK: - cleanup

    /// Drops the data of ranges this node no longer replicates, table by table.
    func cleanup(keyspace: String?, _ op: Int, context: NodeContext) async throws {
        let snapshot = context.membership()
        let me = localIdentity(context)
        guard snapshot.local?.status == .normal else { throw StreamError.refused("cleanup runs on a NORMAL node only") }
        let ring = snapshot.ring
        if let future = coordination.clusterTopology?.snapshot.futureRing, future != ring {
            throw StreamError.refused("ranges are moving (a node is joining or leaving); run cleanup when they are done")
        }
        var keyspaces = movableKeyspaces()
        if let keyspace {
            keyspaces = keyspaces.filter { $0.name == keyspace }
            guard !keyspaces.isEmpty else { throw StreamError.refused("no replicated keyspace named \(keyspace)") }
        }
        let tables = keyspaces.reduce(0) { $0 + $1.tables.count }
        var done = 0
        var freed = 0
        for ks in keyspaces {
            let owned = RangeMovement.ownedRanges(of: me, in: ring, replication: ks.replication)
            for t in ks.tables {
                let result = try storage.engine.cleanup(tableId: t.id) { token in owned.contains { $0.contains(token) } }
                freed += result.before - result.after
                done += 1
                progress(op, "cleaned \(done)/\(tables) tables, \(freed) bytes freed")
            }
        }
        await publishLoad()
        finish(op, state: "completed")
    }
}
