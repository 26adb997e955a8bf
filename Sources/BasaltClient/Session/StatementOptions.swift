import BasaltCore

/// Per-statement settings; every field defaults to the session's behaviour.
public struct StatementOptions: Sendable {
    /// Rows per page; nil takes ``SessionConfiguration/defaultPageSize``, 0 or less is unpaged.
    public var pageSize: Int32?
    /// Where to resume: a previous page's ``ResultPage/pagingState``.
    public var pagingState: [UInt8]?
    /// SERIAL or LOCAL_SERIAL, for conditional statements.
    public var serialConsistency: ConsistencyLevel?
    /// The write timestamp in µs since the epoch; nil sends the client's current time (as the
    /// Python driver does), so that retries keep one timestamp.
    public var timestamp: Int64?
    /// Whether the statement may run twice: then a timeout or a connection lost after sending
    /// lets the request try the next node; otherwise such failures are returned as they are.
    public var isIdempotent = false
    /// Total time for the request, all attempts included; nil takes
    /// ``SessionConfiguration/requestTimeout``.
    public var timeout: Duration?
    /// For simple (unprepared) statements: the serialized partition key and the keyspace, to
    /// route them to a replica like prepared ones.
    public var routingKey: [UInt8]?
    public var routingKeyspace: String?

    public init(pageSize: Int32? = nil, pagingState: [UInt8]? = nil, serialConsistency: ConsistencyLevel? = nil,
                timestamp: Int64? = nil, isIdempotent: Bool = false, timeout: Duration? = nil) {
        self.pageSize = pageSize
        self.pagingState = pagingState
        self.serialConsistency = serialConsistency
        self.timestamp = timestamp
        self.isIdempotent = isIdempotent
        self.timeout = timeout
    }
}
