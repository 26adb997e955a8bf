import BasaltCluster
import BasaltCore
import BasaltStorage
import Foundation
import Logging
import Synchronization

/// Anti-entropy repair on this node: serves `repair.validate` (this node's Merkle trees) to peers,
/// and runs repairs started through the admin endpoint (`basalt admin repair`):
///
/// | request | does |
/// | --- | --- |
/// | `POST /repair?keyspace=K&table=T&primary_range=true&depth=D` | starts a full repair of the ranges this node replicates (only those it is the primary owner of with `primary_range`) for every replicated keyspace, K only, or K.T; answers at once with the repair's id |
/// | `GET /repair?id=ID&format=text\|json` | its progress: per table, ranges validated and done, ranges that differed, sync tasks and bytes streamed, and the outcome once finished |
///
/// One repair runs at a time; tables are repaired one after another.
public final class RepairComponent: NodeComponent, @unchecked Sendable {
    // @unchecked: `context` is written once in `prepare` under `lock`; repairs live in a Mutex.
    public let name = "repair"
    public let stage = NodeComponentStage.service
    let storage: StorageComponent
    let movement: DataMovementComponent
    let schema: @Sendable () -> (any SchemaSource)?
    private let lock = Lock()
    private var contextBox: NodeContext?
    private var running = false
    let repairs = Mutex<[String: RepairStatus]>([:])
    private let counter = Atomic<Int>(0)
    /// Sync tasks (stream sessions) a repair runs at once; the others wait their turn.
    static let concurrentSyncs = 16

    init(storage: StorageComponent, movement: DataMovementComponent, schema: @escaping @Sendable () -> (any SchemaSource)?) {
        self.storage = storage
        self.movement = movement
        self.schema = schema
    }

    public func prepare(_ context: NodeContext) throws {
        lock.withLock { contextBox = context }
        let storage = self.storage
        ValidationService(engine: { storage.engine }, logger: context.logger).register(on: context.messaging)
        context.admin.register("POST", "/repair") { [self] request in startRepair(request) }
        context.admin.register("GET", "/repair") { [self] request in status(request) }
    }

    public func start(_ context: NodeContext) async throws { lock.withLock { running = true } }
    public func stop() async { lock.withLock { running = false } }

    // MARK: admin

    func startRepair(_ request: HTTPRequest) -> HTTPResponse {
        guard let context = lock.withLock({ running ? contextBox : nil }), let streams = movement.streamService else {
            return .error(503, "the node is not serving yet")
        }
        let keyspace = request.queryValue("keyspace").flatMap { $0.isEmpty ? nil : $0 }
        let table = request.queryValue("table").flatMap { $0.isEmpty ? nil : $0 }
        let primaryOnly = request.queryValue("primary_range") == "true"
        var settings = RepairSession.Settings()
        if let d = request.queryValue("depth") {
            guard let depth = Int(d), (0 ... MerkleTree.maxDepth).contains(depth) else {
                return .error(400, "depth must be 0 to \(MerkleTree.maxDepth)")
            }
            settings.depth = depth
        }
        if let busy = repairs.withLock({ $0.values.first { $0.state == "running" } }) {
            return .error(409, "repair \(busy.id) is still running")
        }
        let plan: RepairPlan
        do {
            plan = try RepairPlan.make(keyspace: keyspace, table: table, primaryOnly: primaryOnly, tables: storage.engine.tableSchemas,
                                       schema: schema(), membership: context.membership(), local: context.hostId)
        } catch {
            return .error(400, "\(error)")
        }
        let id = "\(context.generation % 100_000)-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        var status = RepairStatus(id: id, state: "running", keyspace: keyspace, table: table, primaryRange: primaryOnly,
                                  depth: settings.depth)
        status.tables = plan.tables.map { RepairStatus.Table(name: "\($0.schema.keyspace).\($0.schema.name)", ranges: $0.jobs.count) }
        repairs.withLock { all in
            all[id] = status
            if all.count > 32, let old = all.values.filter({ $0.state != "running" }).map(\.id).min() { all[old] = nil }
        }
        context.logger.info("repair started", metadata: ["id": "\(id)", "tables": "\(plan.tables.count)", "primary_range": "\(primaryOnly)"])
        let executor = StreamSyncExecutor(streams: streams, messaging: context.messaging, local: plan.local,
                                          limiter: SyncLimiter(slots: RepairComponent.concurrentSyncs))
        Task { await run(id, plan, settings, executor, context) }
        return HTTPResponse(status: 200, text: "repair \(id) started: \(plan.tables.count) table(s), \(plan.tables.map(\.jobs.count).reduce(0, +)) range(s)\n")
    }

    func status(_ request: HTTPRequest) -> HTTPResponse {
        let all = repairs.withLock { $0 }
        let chosen: RepairStatus?
        if let id = request.queryValue("id") { chosen = all[id] } else { chosen = all.values.max { $0.id < $1.id } }
        guard let status = chosen else { return .error(404, "no such repair") }
        return .report(status, format: request.queryValue("format")) { $0.text }
    }

    // MARK: running

    private func run(_ id: String, _ plan: RepairPlan, _ settings: RepairSession.Settings, _ executor: StreamSyncExecutor,
                     _ context: NodeContext) async {
        let membership = context.membership
        var failed = false
        for (n, t) in plan.tables.enumerated() {
            let run = RepairRun(
                table: t.schema, jobs: t.jobs, settings: settings, local: plan.local, engine: storage.engine, messaging: context.messaging,
                executor: executor, clock: context.clock,
                isAlive: { address in membership().members[address]?.isAlive ?? false }, logger: context.logger,
                report: { [self] progress, bytes in
                    update(id) { $0.tables[n].progress(progress, bytes: bytes) }
                })
            let outcome = await run.run()
            update(id) { $0.tables[n].finish(outcome) }
            failed = failed || !outcome.succeeded
        }
        update(id) { $0.state = failed ? "failed" : "completed" }
        let final = repairs.withLock { $0[id] }
        context.logger.info("repair finished", metadata: ["id": "\(id)", "state": "\(final?.state ?? "?")"])
    }

    private func update(_ id: String, _ change: (inout RepairStatus) -> Void) {
        repairs.withLock { all in
            if var s = all[id] {
                change(&s)
                all[id] = s
            }
        }
    }
}
