import BasaltCluster
import BasaltCore
import Foundation

/// What one repair covers: the tables chosen and, per table, the ring ranges this node replicates
/// (those it is the primary owner of, with `primaryOnly`) with every replica of each range, as
/// the ring and the keyspace's replication place them now.
struct RepairPlan: Sendable {
    struct TableJobs: Sendable {
        var schema: TableSchema
        var jobs: [RepairSession.RangeJob]
    }

    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    var local: NodeAddress
    var tables: [TableJobs]

    static func make(keyspace: String?, table: String?, primaryOnly: Bool, tables: [TableSchema], schema: (any SchemaSource)?,
                     membership: MembershipSnapshot, local hostId: UUIDValue) throws -> RepairPlan {
        guard let schema else { throw Refusal(description: "the schema is not loaded yet") }
        let ring = membership.ring
        guard let me = ring.members.first(where: { $0.identity.hostId == hostId })?.identity else {
            throw Refusal(description: "this node has no tokens in the ring yet")
        }
        if let keyspace {
            guard let ks = schema.keyspace(named: keyspace) else { throw Refusal(description: "keyspace \(keyspace) does not exist") }
            if ks.replication == .local { throw Refusal(description: "keyspace \(keyspace) is local to each node: nothing to repair") }
            if let table, schema.table(keyspace: keyspace, name: table) == nil {
                throw Refusal(description: "table \(keyspace).\(table) does not exist")
            }
        }
        var out: [TableJobs] = []
        let chosen = tables.filter { t in
            (keyspace == nil || t.keyspace == keyspace) && (table == nil || t.name == table)
        }.sorted { ($0.keyspace, $0.name) < ($1.keyspace, $1.name) }
        var placements: [String: ReplicaPlacement] = [:]
        for t in chosen {
            guard let ks = schema.keyspace(named: t.keyspace), ks.replication != .local else { continue }
            let placement = placements[t.keyspace] ?? ReplicationStrategy(ks.replication).placement(in: ring, localNode: me)
            placements[t.keyspace] = placement
            var jobs: [RepairSession.RangeJob] = []
            for i in ring.sortedTokens.indices {
                let replicas = placement.replicas(forRangeEndingAt: i)
                guard replicas.contains(me) else { continue }
                if primaryOnly && ring.members[ring.owners[i]].identity != me { continue }
                jobs.append(RepairSession.RangeJob(range: ring.range(endingAt: i), replicas: replicas.map(\.address)))
            }
            out.append(TableJobs(schema: t, jobs: jobs))
        }
        return RepairPlan(local: me.address, tables: out)
    }
}

/// A repair's progress as `GET /repair` reports it.
struct RepairStatus: Codable, Sendable {
    struct Table: Codable, Sendable {
        var name: String
        var ranges: Int
        var validated = 0
        var done = 0
        var failed = 0
        var syncTasks = 0
        var syncTasksDone = 0
        var bytesStreamed = 0
        /// Ranges whose replicas differed (known once done).
        var outOfSync = 0
        var inSync = 0
        var failures: [String] = []
        var finished = false

        init(name: String, ranges: Int) {
            self.name = name
            self.ranges = ranges
        }

        mutating func progress(_ p: RepairSession.Progress, bytes: Int) {
            validated = p.validated
            done = p.done
            failed = p.failed
            syncTasks = p.syncTasksStarted
            syncTasksDone = p.syncTasksDone
            outOfSync = p.outOfSync
            bytesStreamed = bytes
        }

        mutating func finish(_ outcome: RepairSession.Outcome) {
            finished = true
            done = outcome.ranges.count
            (inSync, outOfSync, failures) = (0, 0, [])
            for r in outcome.ranges {
                switch r.status {
                case .inSync: inSync += 1
                case .synced: outOfSync += 1
                case let .failed(why): failures.append("\(r.range): \(why)")
                }
            }
            failed = failures.count
        }

        var line: String {
            "\(name): \(done)/\(ranges) ranges done (\(validated) validated, \(failed) failed), \(outOfSync) out of sync, "
                + "sync tasks \(syncTasksDone)/\(syncTasks), \(bytesStreamed) bytes streamed" + (finished ? "" : " …")
        }
    }

    var id: String
    var state: String
    var keyspace: String?
    var table: String?
    var primaryRange: Bool
    var depth: Int
    var tables: [Table] = []

    var text: String {
        var s = "repair \(id): \(state)\n"
        for t in tables {
            s += "  " + t.line + "\n"
            for f in t.failures.prefix(10) { s += "    failed \(f)\n" }
        }
        return s
    }
}
