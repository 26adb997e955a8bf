import BasaltCore
import BasaltNet
import BasaltStorage

extension ClusterCoordinator {
    /// A logged batch: all of its mutations are eventually applied or none is. Before any is
    /// written, the batch is stored in the batch log of up to two other live nodes of this data
    /// center (on different racks when possible; this node when it is alone), and removed from
    /// there once every mutation met the level. If the coordinator dies in between, a batch-log
    /// node replays the batch (``BatchlogService``).
    func writeLoggedBatch(_ mutations: [Mutation], consistency: ConsistencyLevel) async throws(CoordinatorError) {
        // Unavailable before anything is stored, as Cassandra checks.
        let snapshot = topology.snapshot
        for m in mutations {
            let ks = try keyspace(m.keyspace)
            _ = try ReplicaPlan.forWrite(consistency, replicas: snapshot.replicas(for: m.token, ks.replication),
                                         replication: ks.replication, localDataCenter: snapshot.localDataCenter)
        }
        let now = clock.now().micros
        let entry = BatchlogEntry(id: UUIDValue.timeBased(unixMicros: now, sequenceAndNode: UInt64.random(in: 0 ... UInt64.max)),
                                  createdAtMicros: now, mutations: mutations)
        let endpoints = batchlogEndpoints(snapshot)
        try await storeBatch(entry, on: endpoints, snapshot: snapshot)
        try await writeEach(mutations, consistency: consistency, writeType: .batch)
        removeBatch(entry.id, storedAt: now, from: endpoints, snapshot: snapshot)
    }

    /// Up to two live nodes of this data center other than this one, on distinct racks when the
    /// data center has several; this node alone when no other is alive.
    func batchlogEndpoints(_ snapshot: ClusterTopology.Snapshot) -> [Replica] {
        let others = snapshot.nodes.values
            .filter { $0.isAlive && $0.dataCenter == snapshot.localDataCenter && $0.identity.hostId != snapshot.local.hostId }
            .shuffled()
        guard !others.isEmpty else { return [snapshot.replica(snapshot.local)] }
        var chosen: [ClusterTopology.Node] = []
        for n in others where chosen.count < 2 && !chosen.contains(where: { $0.rack == n.rack }) { chosen.append(n) }
        for n in others where chosen.count < 2 && !chosen.contains(where: { $0.identity == n.identity }) { chosen.append(n) }
        return chosen.map { snapshot.replica($0.identity) }
    }

    private func storeBatch(_ entry: BatchlogEntry, on endpoints: [Replica], snapshot: ClusterTopology.Snapshot) async throws(CoordinatorError) {
        let payload = entry.encoded()
        let mutation = BatchlogTable.store(entry)
        let acked = await withTaskGroup(of: Bool.self) { group in
            for r in endpoints {
                group.addTask { await self.storeBatch(payload, mutation, on: r, snapshot: snapshot) }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        if acked < endpoints.count {
            let e = CoordinatorError.writeTimeout(consistency: .one, received: acked, blockFor: endpoints.count, writeType: .batchLog)
            count(e)
            throw e
        }
    }

    private func storeBatch(_ payload: [UInt8], _ mutation: Mutation, on r: Replica, snapshot: ClusterTopology.Snapshot) async -> Bool {
        if r.isLocal {
            do { try await engine.apply(mutation) } catch { return false }
            return true
        }
        guard let address = snapshot.address(of: r.hostId) else { return false }
        do {
            _ = try await messaging.request(to: address, verb: ReplicaVerbs.batchlogStore, payload: payload, timeout: settings.writeTimeout)
            return true
        } catch {
            return false
        }
    }

    /// Removes the batch from its batch-log nodes; not awaited (a batch left behind is replayed,
    /// which is harmless: mutations are idempotent).
    private func removeBatch(_ id: UUIDValue, storedAt: Int64, from endpoints: [Replica], snapshot: ClusterTopology.Snapshot) {
        let payload = BatchlogTable.removePayload(id, timestampMicros: storedAt)
        for r in endpoints {
            if r.isLocal {
                engine.apply(BatchlogTable.remove(id, timestampMicros: storedAt, nowSeconds: clock.nowSeconds())) { _ in }
            } else if let address = snapshot.address(of: r.hostId) {
                try? messaging.send(to: address, verb: ReplicaVerbs.batchlogRemove, payload: payload)
            }
        }
    }
}
