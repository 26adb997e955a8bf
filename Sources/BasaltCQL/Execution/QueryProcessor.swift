import BasaltCluster
import BasaltCore
import BasaltProtocol
import BasaltStorage
import Logging

/// Executes the native protocol's statement requests (QUERY, PREPARE, EXECUTE, BATCH): parse,
/// bind against the current schema, then run — USE, DDL through the ``SchemaDistributor``,
/// writes and reads through the ``RequestCoordinator`` (system keyspaces from live state),
/// DESCRIBE through ``SchemaDescriber``. Every failure is a ``CQLError`` answer, never a trap.
public final class QueryProcessor: Sendable {
    public struct Settings: Sendable {
        /// Prepared statements remembered (beyond: Unprepared, and the client re-prepares).
        public var maxPreparedStatements = 20_000
        /// Unpaged SELECTs stop with Invalid beyond this many rows (bounded memory).
        public var maxUnpagedRows = 1_000_000
        /// Asked before a write that needs a server-side timestamp (no `USING TIMESTAMP`, no
        /// protocol default timestamp): a reason refuses it with Invalid (the node's clock is too
        /// far from the cluster's); nil lets it through.
        public var serverTimestampRefusal: (@Sendable () -> String?)?
        public init() {}
    }

    public let schema: SchemaHolder
    public let coordinator: any RequestCoordinator
    public let distributor: any SchemaDistributor
    public let cluster: any ClusterInfoSource
    public let clock: any Clock
    public let timestamps: TimestampGenerator
    let listPaths: ListElementPaths
    let prepared: PreparedStatementCache
    let timeUUIDNode: UInt64
    let settings: Settings
    let logger: Logger
    /// Authentication and authorization; nil when neither is configured.
    public let auth: AuthService?

    public init(schema: SchemaHolder, coordinator: any RequestCoordinator, distributor: any SchemaDistributor, cluster: any ClusterInfoSource,
                clock: any Clock, timestamps: TimestampGenerator? = nil, settings: Settings = Settings(), auth: AuthService? = nil, logger: Logger) {
        self.schema = schema
        self.coordinator = coordinator
        self.distributor = distributor
        self.cluster = cluster
        self.clock = clock
        self.timestamps = timestamps ?? TimestampGenerator(clock: clock)
        let node = UInt64.random(in: 0 ... .max)
        self.listPaths = ListElementPaths(node: node)
        self.timeUUIDNode = node
        self.prepared = PreparedStatementCache(capacity: settings.maxPreparedStatements)
        self.settings = settings
        self.logger = logger
        self.auth = auth
    }

    /// Answers one statement request. Never throws: errors become ERROR responses.
    public func process(_ request: Request, session: ClientSession) async -> Response {
        do {
            switch request {
            case let .query(text, params):
                let parsed = try Self.parse(text)
                let bound = try binder(keyspace: params.keyspace ?? session.keyspace).bind(parsed)
                try await authorize(bound, text: text, session: session)
                return .result(try await execute(bound, params, session: session))
            case let .prepare(text, queryKeyspace):
                let parsed = try Self.parse(text)
                let keyspace = queryKeyspace ?? session.keyspace
                let bound = try binder(keyspace: keyspace).bind(parsed)
                let id = PreparedStatementID.compute(query: text, keyspace: keyspace)
                prepared.put(id, .init(query: text, keyspace: keyspace, parsed: parsed))
                return .result(.prepared(bound.prepared(id: id)))
            case let .execute(id, params):
                guard let entry = prepared.get(id) else {
                    throw CQLError.unprepared("Prepared query with ID \(id.hexString) not found (either the query was not prepared on this host (maybe the host has been restarted?) or you have prepared too many queries and it has been evicted from the internal cache)", id: id)
                }
                let bound = try bindPrepared(id, entry)
                try await authorize(bound, text: entry.query, session: session)
                return .result(try await execute(bound, params, session: session))
            case let .batch(batch):
                return .result(try await executeBatch(batch, session: session))
            default:
                return .error(.protocolError("Unexpected \(request.opcode) message"))
            }
        } catch let e as CQLError {
            return .error(e)
        } catch {
            return .error(.serverError("\(error)"))
        }
    }

    /// Checks the session's permissions for a statement about to run (every statement of a batch,
    /// prepared ones at each execution) and writes its audit line.
    func authorize(_ bound: BoundStatement, text: String?, session: ClientSession) async throws(CQLError) {
        guard let auth, !session.isInternal else { return }
        if let audit = auth.audit, let text {
            let category = switch bound.kind {
            case .schemaChange, .truncate: "DDL"
            case .auth: "DCL"
            default: "QUERY"
            }
            audit.record(.init(category: category, type: "STATEMENT", role: session.user ?? "anonymous", address: session.clientAddress, operation: text))
        }
        try await auth.authorize(bound, schema: schema.schema, session: session)
    }

    static func parse(_ text: String) throws(CQLError) -> ParsedStatement {
        do { return try CQLParser.parse(text) } catch { throw error.cqlError }
    }

    func binder(keyspace: String?) -> Binder {
        Binder(schema: schema.schema, keyspace: keyspace, nowMicros: clock.now().micros)
    }

    /// A prepared statement bound against the current schema. Data statements are bound once per
    /// schema: their binding depends on the schema alone (values come at execution), so the bound
    /// form is kept with the prepared entry until the schema changes. Other statements are bound
    /// at every execution (a DDL statement's binding takes the time and new table ids).
    func bindPrepared(_ id: [UInt8], _ entry: PreparedStatementCache.Entry) throws(CQLError) -> BoundStatement {
        let (current, generation) = schema.current
        if let bound = entry.bound, entry.boundAt == generation { return bound }
        let bound = try Binder(schema: current, keyspace: entry.keyspace, nowMicros: clock.now().micros).bind(entry.parsed)
        switch bound.kind {
        case .writes, .select: prepared.remember(id, bound: bound, at: generation)
        default: break
        }
        return bound
    }

    var context: ExecutionContext { ExecutionContext(nowMicros: clock.now().micros, timeUUIDNode: timeUUIDNode) }

    /// Values in marker order: positional as sent, or reordered by name (flag 0x40).
    static func orderedValues(_ params: QueryParameters, _ bound: BoundStatement) throws(CQLError) -> [ProtocolValue] {
        guard let names = params.names else {
            if params.values.count != bound.variables.count {
                throw .invalid("There were \(bound.variables.count) markers(?) in CQL but \(params.values.count) bound variables")
            }
            return params.values
        }
        var out = [ProtocolValue]()
        for v in bound.variables {
            guard let i = names.firstIndex(of: v.name) else { throw .invalid("No value provided for \(v.name)") }
            out.append(params.values[i])
        }
        return out
    }

    func execute(_ bound: BoundStatement, _ params: QueryParameters, session: ClientSession) async throws(CQLError) -> ResultBody {
        let values = try Self.orderedValues(params, bound)
        switch bound.kind {
        case let .use(ks):
            session.keyspace = ks
            return .setKeyspace(ks)
        case let .schemaChange(change):
            if !session.isInternal { try StatementPermissions.checkProtectedSchema(change) }
            guard let description = try await distributor.announce(change) else { return .void }
            await auth?.onSchemaChange(change, session: session)
            return .schemaChange(description)
        case let .auth(statement, resource):
            guard let auth, auth.settings.authentication else {
                throw .unauthorized("You have to be logged in and not anonymous to perform this request")
            }
            return try await auth.execute(statement, resource: resource, session: session)
        case let .truncate(table):
            try await distributor.truncate(table)
            return .void
        case let .writes(plans, batch):
            let writeType: WriteType = switch batch {
            case .logged?: .batch
            case .unlogged?: .unloggedBatch
            case .counter?: .counter
            case nil: .simple
            }
            try checkServerTimestamp(plans, clientTimestamp: params.defaultTimestamp)
            try await write(plans.map { ($0, values) }, consistency: params.consistency,
                            timestamp: params.defaultTimestamp ?? timestamps.next().micros, writeType: writeType,
                            nowInSeconds: params.nowInSeconds)
            return .void
        case let .select(plan):
            return try await select(plan, bound: bound, values: values, params: params)
        case let .describe(d):
            let cluster = ClusterDescription(clusterName: self.cluster.clusterName)
            let result = try SchemaDescriber.describe(d, schema: schema.schema, currentKeyspace: session.keyspace, cluster: cluster)
            let rows = result.rows.map { $0.map { Optional(Array($0.utf8)) } }
            return .rows(RowsResult(metadata: ResultMetadata(columns: bound.resultColumns), rows: rows))
        }
    }

    /// Refuses writes that would take this node's clock as their timestamp while the node may not
    /// pick timestamps (``Settings/serverTimestampRefusal``).
    func checkServerTimestamp(_ plans: [WritePlan], clientTimestamp: Int64?) throws(CQLError) {
        guard clientTimestamp == nil, plans.contains(where: { $0.timestamp == nil }),
              let why = settings.serverTimestampRefusal?() else { return }
        throw .invalid(why)
    }

    func executeBatch(_ batch: BatchRequest, session: ClientSession) async throws(CQLError) -> ResultBody {
        if batch.type == .counter { throw .invalid("Counter batches are not supported by Basalt (no counter columns)") }
        var work = [(WritePlan, [ProtocolValue])]()
        for child in batch.children {
            let bound: BoundStatement
            let text: String
            switch child.statement {
            case let .query(t):
                text = t
                bound = try binder(keyspace: batch.keyspace ?? session.keyspace).bind(try Self.parse(t))
            case let .prepared(id):
                guard let entry = prepared.get(id) else { throw .unprepared("Prepared query with ID \(id.hexString) not found", id: id) }
                text = entry.query
                bound = try bindPrepared(id, entry)
            }
            try await authorize(bound, text: text, session: session)
            guard case let .writes(plans, _) = bound.kind else {
                throw .invalid("Invalid statement in batch: only UPDATE, INSERT and DELETE statements are allowed.")
            }
            let values = try Self.orderedValues(QueryParameters(values: child.values), bound)
            for p in plans { work.append((p, values)) }
        }
        try checkServerTimestamp(work.map(\.0), clientTimestamp: batch.defaultTimestamp)
        try await write(work, consistency: batch.consistency, timestamp: batch.defaultTimestamp ?? timestamps.next().micros,
                        writeType: batch.type == .logged ? .batch : .unloggedBatch, nowInSeconds: batch.nowInSeconds)
        return .void
    }
}
