import BasaltCore

/// Which regular and static columns a read returns; `nil` names means every column.
public struct ColumnSelection: Hashable, Sendable {
    /// Selected column names, sorted; nil for all.
    public var names: [String]?

    public init(_ names: [String]?) {
        self.names = names.map { Array(Set($0)).sorted() }
    }

    public static let all = ColumnSelection(nil)

    @inlinable
    public func includes(_ column: String) -> Bool {
        guard let names else { return true }
        return names.contains(column)
    }
}

/// A read of one partition: which rows (clustering slices), which columns, in which order, how many
/// live rows at most, and the time (seconds) against which TTLs are judged.
public struct ReadCommand: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    public var partitionKey: [UInt8]
    /// Rows in any of these ranges are returned; `[.all]` for the whole partition.
    public var slices: [ClusteringSlice]
    public var columns: ColumnSelection
    /// Whether the caller consumes rows in descending clustering order (the row limit then counts
    /// from the end). Results always hold rows in ascending order.
    public var reversed: Bool
    /// At most this many live rows; `Int.max` for no limit.
    public var limit: Int
    /// Wall-clock seconds for TTL expiry.
    public var nowSeconds: Int64

    public init(keyspace: String, table: String, tableId: UUIDValue, partitionKey: [UInt8], slices: [ClusteringSlice] = [.all], columns: ColumnSelection = .all, reversed: Bool = false, limit: Int = .max, nowSeconds: Int64) {
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.partitionKey = partitionKey
        self.slices = slices
        self.columns = columns
        self.reversed = reversed
        self.limit = limit
        self.nowSeconds = nowSeconds
    }

    public init(schema: TableSchema, partitionKey: [UInt8], slices: [ClusteringSlice] = [.all], columns: ColumnSelection = .all, reversed: Bool = false, limit: Int = .max, nowSeconds: Int64) {
        self.init(keyspace: schema.keyspace, table: schema.name, tableId: schema.id, partitionKey: partitionKey, slices: slices, columns: columns, reversed: reversed, limit: limit, nowSeconds: nowSeconds)
    }
}

/// A place in a token-ordered scan: the last partition (and, when a page ended inside it, the last
/// row) returned. The next page starts strictly after it.
public struct ScanPosition: Hashable, Sendable {
    public var token: Token
    public var partitionKey: [UInt8]
    /// The last clustering returned when the page ended inside the partition; nil when the whole
    /// partition was returned.
    public var clustering: [[UInt8]]?

    public init(token: Token, partitionKey: [UInt8], clustering: [[UInt8]]? = nil) {
        self.token = token
        self.partitionKey = partitionKey
        self.clustering = clustering
    }
}

/// A page of a token-range scan: partitions whose token lies in `range`, in token order (then key
/// bytes), starting after `after`. A page holds about `pageSize` rows: it stops once that many rows
/// (live or not; a partition without rows counts as one) were returned.
public struct TokenScanCommand: Hashable, Sendable {
    public var keyspace: String
    public var table: String
    public var tableId: UUIDValue
    public var range: TokenRange
    public var after: ScanPosition?
    public var pageSize: Int
    public var columns: ColumnSelection
    public var nowSeconds: Int64

    public init(keyspace: String, table: String, tableId: UUIDValue, range: TokenRange, after: ScanPosition? = nil, pageSize: Int, columns: ColumnSelection = .all, nowSeconds: Int64) {
        self.keyspace = keyspace
        self.table = table
        self.tableId = tableId
        self.range = range
        self.after = after
        self.pageSize = pageSize
        self.columns = columns
        self.nowSeconds = nowSeconds
    }

    public init(schema: TableSchema, range: TokenRange, after: ScanPosition? = nil, pageSize: Int, columns: ColumnSelection = .all, nowSeconds: Int64) {
        self.init(keyspace: schema.keyspace, table: schema.name, tableId: schema.id, range: range, after: after, pageSize: pageSize, columns: columns, nowSeconds: nowSeconds)
    }
}

/// The unfiltered content of one partition as a read returns it.
public struct PartitionResult: Hashable, Sendable, CustomStringConvertible {
    public var partitionKey: [UInt8]
    public var token: Token
    public var update: PartitionUpdate

    public init(partitionKey: [UInt8], token: Token, update: PartitionUpdate) {
        self.partitionKey = partitionKey
        self.token = token
        self.update = update
    }

    public init(partitionKey: [UInt8], update: PartitionUpdate) {
        self.init(partitionKey: partitionKey, token: Murmur3.token(partitionKey), update: update)
    }

    /// Reconciles two responses for the same partition (e.g. from two replicas) with the same
    /// merge the engine uses between memtables and SSTables.
    public static func reconcile(_ a: PartitionResult, _ b: PartitionResult, _ cmp: ClusteringComparator) -> PartitionResult {
        PartitionResult(partitionKey: a.partitionKey, token: a.token, update: .merge(a.update, b.update, cmp))
    }

    public var description: String { "partition \(partitionKey.hexString) token \(token)\n\(update)" }
}

/// A page of a token-range scan.
public struct ScanResult: Hashable, Sendable {
    public var partitions: [PartitionResult]
    /// Where the next page starts; nil when the range is exhausted.
    public var next: ScanPosition?

    public init(partitions: [PartitionResult], next: ScanPosition?) {
        self.partitions = partitions
        self.next = next
    }
}
