import BasaltCore

/// Per-connection state the executor reads and changes: the current keyspace (USE) and the
/// authenticated user. Requests of one connection run concurrently, so access is locked.
public final class ClientSession: @unchecked Sendable {
    // @unchecked: both fields are only touched under `lock`.
    private let lock = Lock()
    private var _keyspace: String?
    private var _user: String?
    /// The node's own statements (role management, start-up): never checked for permissions.
    public let isInternal: Bool
    /// The client's address, for audit lines.
    public let clientAddress: String

    public init(keyspace: String? = nil, isInternal: Bool = false, clientAddress: String = "") {
        _keyspace = keyspace
        self.isInternal = isInternal
        self.clientAddress = clientAddress
    }

    /// A session for the node's own statements.
    public static func `internal`() -> ClientSession { ClientSession(isInternal: true) }

    public var keyspace: String? {
        get { lock.withLock { _keyspace } }
        set { lock.withLock { _keyspace = newValue } }
    }

    public var user: String? {
        get { lock.withLock { _user } }
        set { lock.withLock { _user = newValue } }
    }
}

/// Prepared statements by id, shared by every connection of the node, bounded: beyond
/// `capacity` the oldest entry is forgotten, and a client executing it gets Unprepared and
/// prepares again (which the drivers do transparently).
final class PreparedStatementCache: @unchecked Sendable {
    // @unchecked: `entries` and `order` are only touched under `lock`.
    struct Entry {
        var query: String
        var keyspace: String?
        var parsed: ParsedStatement
        /// The statement bound at the schema generation `boundAt`, kept for executions while the
        /// schema stays the same (INSERT, UPDATE, DELETE and SELECT only).
        var bound: BoundStatement? = nil
        var boundAt = -1
    }

    private let lock = Lock()
    private var entries: [[UInt8]: Entry] = [:]
    private var order: [[UInt8]] = []
    private var orderStart = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func get(_ id: [UInt8]) -> Entry? { lock.withLock { entries[id] } }

    /// Keeps `bound` with the entry of `id` (if it is still cached) for later executions.
    func remember(_ id: [UInt8], bound: BoundStatement, at generation: Int) {
        lock.withLock {
            entries[id]?.bound = bound
            entries[id]?.boundAt = generation
        }
    }

    func put(_ id: [UInt8], _ entry: Entry) {
        lock.withLock {
            if entries.updateValue(entry, forKey: id) != nil { return }
            order.append(id)
            while entries.count > capacity, orderStart < order.count {
                entries[order[orderStart]] = nil
                orderStart += 1
            }
            if orderStart > 1024, orderStart * 2 > order.count {
                order.removeFirst(orderStart)
                orderStart = 0
            }
        }
    }
}
