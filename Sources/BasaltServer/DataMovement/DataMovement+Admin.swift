import BasaltCluster
import BasaltCore
import BasaltStorage
import Foundation

/// Long operations started through the admin endpoint, with their progress, newest last (bounded).
struct AdminOperationLog: Sendable {
    struct Operation: Codable, Equatable, Sendable {
        var id: Int
        var kind: String
        var target: String?
        /// `running`, `completed`, `left` (decommission) or `failed: why`.
        var state: String
        var progress: String
    }

    var operations: [Operation] = []
    var nextId = 1

    var running: Operation? { operations.first { $0.state == "running" } }

    mutating func start(_ kind: String, target: String?) -> Int {
        let id = nextId
        nextId += 1
        operations.append(Operation(id: id, kind: kind, target: target, state: "running", progress: "starting"))
        if operations.count > 32 { operations.removeFirst() }
        return id
    }
}

extension DataMovementComponent: AdminRouteProvider {
    func progress(_ op: Int, _ line: String) {
        operations.withLock { log in
            if let i = log.operations.firstIndex(where: { $0.id == op }) { log.operations[i].progress = line }
        }
        context?.logger.info("\(line)", metadata: ["operation": "\(op)"])
    }

    func finish(_ op: Int, state: String) {
        operations.withLock { log in
            if let i = log.operations.firstIndex(where: { $0.id == op }), log.operations[i].state == "running" {
                log.operations[i].state = state
            }
        }
    }

    /// Starts `body` as operation `kind` unless another one runs; answers 202 with the operation.
    private func launch(_ kind: String, target: String?,
                        _ body: @escaping @Sendable (DataMovementComponent, Int, NodeContext) async throws -> Void) -> HTTPResponse {
        guard let context else { return .error(503, "the node is not started") }
        let started: (id: Int?, busy: String) = operations.withLock { log in
            if let r = log.running { return (nil, "operation \(r.id) (\(r.kind)) is still running") }
            return (log.start(kind, target: target), "")
        }
        switch started.id {
        case nil:
            return .error(409, started.busy)
        case let id?:
            Task {
                do {
                    try await body(self, id, context)
                    self.finish(id, state: "completed")
                } catch {
                    context.logger.error("\(kind) failed", metadata: ["error": "\(error)"])
                    self.finish(id, state: "failed: \(error)")
                }
            }
            return json(202, operations.withLock { $0.operations.first { $0.id == id } })
        }
    }

    public func respond(to request: HTTPRequest) -> HTTPResponse? {
        switch (request.method, request.path) {
        case ("POST", "/decommission"):
            return launch("decommission", target: nil) { c, op, ctx in try await c.decommission(op, context: ctx) }
        case ("POST", "/removenode"):
            guard let text = request.queryValue("host"), let host = UUIDValue(text) else {
                return .error(400, "removenode needs ?host=HOST_ID (a host id as basalt admin status shows it)")
            }
            return launch("removenode", target: text) { c, op, ctx in try await c.removeNode(host, op, context: ctx) }
        case ("POST", "/cleanup"):
            let keyspace = request.queryValue("keyspace")
            return launch("cleanup", target: keyspace) { c, op, ctx in try await c.cleanup(keyspace: keyspace, op, context: ctx) }
        case ("POST", "/flush"):
            let keyspace = request.queryValue("keyspace").flatMap { $0.isEmpty ? nil : $0 }
            let names = (request.queryValue("tables") ?? "").split(separator: ",").map(String.init)
            guard let engine = storage.openEngine else { return .error(503, "storage is not open yet") }
            var tables: [TableSchema]? = nil
            if let keyspace {
                let all = engine.tableSchemas.filter { $0.keyspace == keyspace }
                guard !all.isEmpty || schema()?.keyspace(named: keyspace) != nil else { return .error(400, "keyspace \(keyspace) does not exist") }
                if let missing = names.first(where: { n in !all.contains { $0.name == n } }) {
                    return .error(400, "table \(keyspace).\(missing) does not exist")
                }
                tables = names.isEmpty ? all : all.filter { names.contains($0.name) }
            } else if !names.isEmpty {
                return .error(400, "flush names tables only after their keyspace")
            }
            // Off the admin loop (it is also the gossip loop): writing SSTables takes a while.
            let target = keyspace.map { ks in names.isEmpty ? ks : names.map { "\(ks).\($0)" }.joined(separator: ",") }
            return launch("flush", target: target) { [tables] c, op, _ in
                if let tables {
                    for (i, t) in tables.enumerated() {
                        try engine.flush(tableId: t.id)
                        c.progress(op, "flushed \(i + 1)/\(tables.count) table(s): \(t.keyspace).\(t.name)")
                    }
                } else {
                    try engine.flushAll()
                    c.progress(op, "flushed every memtable")
                }
                await c.publishLoad()
            }
        case ("POST", "/drain"):
            guard let engine = storage.openEngine else { return .error(503, "storage is not open yet") }
            if coordination.writeGate.isClosed { return .error(409, "this node is already drained; restart it to take writes again") }
            return launch("drain", target: nil) { c, op, ctx in
                c.coordination.writeGate.close()
                ctx.logger.notice("draining: client writes and peers' mutations are refused from now until restart")
                c.progress(op, "writes refused; flushing every memtable")
                try engine.flushAll()
                await c.publishLoad()
                c.progress(op, "drained: every memtable flushed, writes refused until restart")
            }
        case ("GET", "/operations"), ("HEAD", "/operations"):
            let all = operations.withLock { $0.operations }
            if let text = request.queryValue("id") {
                guard let id = Int(text), let op = all.first(where: { $0.id == id }) else { return .error(404, "no operation \(text)") }
                return json(200, op)
            }
            return json(200, all)
        case ("GET", "/netstats"), ("HEAD", "/netstats"):
            guard let streams = streamService else { return .error(503, "streaming is not running") }
            let report = NetstatsReport(throughputBytesPerSecond: streams.throughputBytesPerSecond, sessions: streams.progress,
                                        served: streams.counters)
            if request.queryValue("format") == "json" { return json(200, report) }
            return HTTPResponse(status: 200, text: report.text)
        case ("GET", "/streamthroughput"):
            guard let streams = streamService else { return .error(503, "streaming is not running") }
            return HTTPResponse(status: 200, text: "Current stream throughput: \(streams.throughputBytesPerSecond >> 20) MiB/s\n")
        case ("POST", "/streamthroughput"):
            guard let streams = streamService else { return .error(503, "streaming is not running") }
            guard let text = request.queryValue("mib"), let mib = Int(text), mib >= 0, mib < 1 << 30 else {
                return .error(400, "streamthroughput needs ?mib=N (MiB/s, 0 = unthrottled)")
            }
            streams.setThroughput(bytesPerSecond: mib << 20)
            return HTTPResponse(status: 200, text: "stream throughput set to \(mib) MiB/s\n")
        default:
            return nil
        }
    }

    private func json<T: Encodable>(_ status: Int, _ value: T) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return .error(500, "could not encode the answer") }
        return HTTPResponse(status: status, contentType: "application/json", body: Array(data) + [10])
    }
}

/// `GET /netstats`: streams in progress and recently finished on this node (like nodetool netstats).
struct NetstatsReport: Codable, Sendable {
    var throughputBytesPerSecond: Int
    var sessions: [StreamService.Progress]
    var served: StreamService.SourceCounters

    var text: String {
        var out = "Stream throughput limit: \(throughputBytesPerSecond == 0 ? "unthrottled" : "\(throughputBytesPerSecond >> 20) MiB/s")\n"
        out += "Sent to receivers: \(served.chunksServed) chunks, \(served.bytesServed) bytes\n"
        if sessions.isEmpty { return out + "Not receiving any streams.\n" }
        let rows = sessions.map { s in
            [s.session, s.purpose, s.peer, "\(s.tasksCompleted)/\(s.tasksTotal)", "\(s.bytes)", "\(s.partitions)", "\(s.retries)", s.state]
        }
        return out + StatusReport.table(header: ["Session", "Purpose", "From", "Tasks", "Bytes", "Partitions", "Retries", "State"], rows: rows)
    }
}
