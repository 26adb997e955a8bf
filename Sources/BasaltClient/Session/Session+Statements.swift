import BasaltProtocol
import BasaltCore

extension Session {
    // MARK: - Simple statements

    /// Runs a CQL statement (QUERY). Values bind `?` markers by position, each sent as its own
    /// case's type (``CQLValue/inferredType``); nil is null. Routed round-robin unless
    /// `options.routingKey` and `options.routingKeyspace` are given. DDL waits for schema
    /// agreement and refreshes the topology before returning.
    public func query(_ cql: String, _ values: [CQLValue?] = [], consistency: ConsistencyLevel? = nil,
                      options: StatementOptions = StatementOptions()) async throws(ClientError) -> ResultPage {
        var encoded = [ProtocolValue]()
        for v in values { encoded.append(try v.map { v throws(ClientError) in .bytes(try v.encodedAsInferred()) } ?? .null) }
        let request = EncodedRequest(.query(cql, parameters(consistency, encoded, options)))
        let token = options.routingKey.map { Murmur3.token($0) }
        let response = try await run(request, token: token, keyspace: options.routingKeyspace, statement: nil, options: options)
        let page = try response.page()
        if case .schemaChange = page.kind { await schemaChanged() }
        return page
    }

    // MARK: - Prepared statements

    /// Prepares `cql` on one node, then on every other live node (ids are the same everywhere,
    /// so any node can execute it at once; a node that misses it answers Unprepared and the
    /// statement is re-prepared there transparently).
    public func prepare(_ cql: String) async throws(ClientError) -> PreparedStatement {
        let request = EncodedRequest(.prepare(cql))
        let response = try await run(request, token: nil, keyspace: nil, statement: nil, options: StatementOptions())
        guard case let .prepared(result) = try response.result() else {
            throw .protocolViolation(node: response.coordinator, reason: "PREPARE did not answer PREPARED")
        }
        let statement = PreparedStatement(query: cql, result: result)
        let others = routing.withLock { $0.pools }.filter { $0.isUp && $0.address != response.coordinator }
        let timeout = configuration.requestTimeout
        let mismatches = await withTaskGroup(of: String?.self) { group in
            for pool in others {
                group.addTask {
                    guard case let .connection(connection) = pool.pick(),
                          case let .prepared(other)? = try? await connection.request(.prepare(cql), timeout: timeout).resultBody else { return nil }
                    return other.id == result.id ? nil : pool.address
                }
            }
            return await group.reduce(into: [String]()) { if let m = $1 { $0.append(m) } }
        }
        if !mismatches.isEmpty {
            logger.warning("prepared statement ids differ between nodes", metadata: ["query": "\(cql)", "nodes": "\(mismatches)"])
        }
        return statement
    }

    /// Executes a prepared statement with `values` (nil is null), routed to a replica of the
    /// partition the values address.
    public func execute(_ statement: PreparedStatement, _ values: [CQLValue?] = [], consistency: ConsistencyLevel? = nil,
                        options: StatementOptions = StatementOptions()) async throws(ClientError) -> ResultPage {
        try await execute(statement, encoded: try statement.encode(values), consistency: consistency, options: options)
    }

    /// ``execute(_:_:consistency:options:)`` with values already serialized.
    public func execute(_ statement: PreparedStatement, encoded values: [ProtocolValue], consistency: ConsistencyLevel? = nil,
                        options: StatementOptions = StatementOptions()) async throws(ClientError) -> ResultPage {
        let response: ExecutionResponse = try await withCheckedContinuation { continuation in
            execute(statement, encoded: values, consistency: consistency, options: options) { continuation.resume(returning: $0) }
        }.get()
        let page = try response.page(knownColumns: statement.resultColumns)
        if case .schemaChange = page.kind { await schemaChanged() }
        return page
    }

    /// The hot-path form: no task, no decoding. `completion` runs once, on an event loop (do not
    /// block it), never inside this call, with the undecoded response or the error.
    public func execute(_ statement: PreparedStatement, encoded values: [ProtocolValue], consistency: ConsistencyLevel? = nil,
                        options: StatementOptions = StatementOptions(),
                        completion: @escaping @Sendable (Result<ExecutionResponse, ClientError>) -> Void) {
        var parameters = parameters(consistency, values, options)
        // The columns are known from PREPARE: the server need not send them with every page.
        parameters.skipMetadata = !statement.resultColumns.isEmpty
        let request = EncodedRequest(.execute(id: statement.id, parameters))
        let token = RoutingKey.token(values: values, partitionKeyIndexes: statement.partitionKeyIndexes)
        send(request, token: token, keyspace: statement.keyspace, statement: statement, options: options, completion: completion)
    }

    /// The nodes a request for these values would try first: the partition's replicas in plan
    /// order (for tests and diagnostics).
    public func replicas(of statement: PreparedStatement, encoded values: [ProtocolValue]) -> [ClusterNode] {
        guard let keyspace = statement.keyspace,
              let token = RoutingKey.token(values: values, partitionKeyIndexes: statement.partitionKeyIndexes) else { return [] }
        return topology.replicas(for: token, keyspace: keyspace)
    }

    // MARK: - Paging

    /// Every row of a prepared statement's result, fetched page by page as the sequence is read.
    public func rows(_ statement: PreparedStatement, _ values: [CQLValue?] = [], consistency: ConsistencyLevel? = nil,
                     options: StatementOptions = StatementOptions()) throws(ClientError) -> PagedRows {
        let encoded = try statement.encode(values)
        return PagedRows(firstPagingState: options.pagingState) { [self] (state: [UInt8]?) async throws(ClientError) -> ResultPage in
            var o = options
            o.pagingState = state
            return try await execute(statement, encoded: encoded, consistency: consistency, options: o)
        }
    }

    /// Every row of a simple statement's result, fetched page by page as the sequence is read.
    public func rows(_ cql: String, _ values: [CQLValue?] = [], consistency: ConsistencyLevel? = nil,
                     options: StatementOptions = StatementOptions()) -> PagedRows {
        PagedRows(firstPagingState: options.pagingState) { [self] (state: [UInt8]?) async throws(ClientError) -> ResultPage in
            var o = options
            o.pagingState = state
            return try await query(cql, values, consistency: consistency, options: o)
        }
    }

    // MARK: - Internals

    func parameters(_ consistency: ConsistencyLevel?, _ values: [ProtocolValue], _ options: StatementOptions) -> QueryParameters {
        let pageSize = options.pageSize ?? configuration.defaultPageSize
        return QueryParameters(
            consistency: consistency ?? configuration.defaultConsistency, values: values, skipMetadata: false,
            pageSize: pageSize > 0 ? pageSize : nil, pagingState: options.pagingState,
            serialConsistency: options.serialConsistency, defaultTimestamp: options.timestamp ?? SystemClock().now().micros)
    }

    func send(_ request: EncodedRequest, token: Token?, keyspace: String?, statement: PreparedStatement?, options: StatementOptions,
              completion: @escaping @Sendable (Result<ExecutionResponse, ClientError>) -> Void) {
        let loop = group.next()
        guard !isClosed else {
            if !loop.execute({ completion(.failure(.sessionClosed)) }) { completion(.failure(.sessionClosed)) }
            return
        }
        let (state, plan) = plan(token: token, keyspace: keyspace)
        RequestExecution(request: request, pools: state.pools, plan: plan, statement: statement, isIdempotent: options.isIdempotent,
                         timeout: options.timeout ?? configuration.requestTimeout, refusalLoop: loop, completion: completion).start()
    }

    func run(_ request: EncodedRequest, token: Token?, keyspace: String?, statement: PreparedStatement?,
             options: StatementOptions) async throws(ClientError) -> ExecutionResponse {
        try await withCheckedContinuation { continuation in
            send(request, token: token, keyspace: keyspace, statement: statement, options: options) { continuation.resume(returning: $0) }
        }.get()
    }

    /// After DDL: wait for agreement, then re-read keyspaces so new ones are routed by token.
    private func schemaChanged() async {
        if !(await awaitSchemaAgreement()) {
            logger.warning("schema versions did not agree within \(configuration.schemaAgreementTimeout)")
        }
        try? await refreshTopology()
    }
}

extension Response {
    /// The RESULT body, nil for any other response.
    var resultBody: ResultBody? {
        if case let .result(body) = self { return body }
        return nil
    }
}
