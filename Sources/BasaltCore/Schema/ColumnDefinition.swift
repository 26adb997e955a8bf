/// One column of a table.
///
/// Columns are identified by name everywhere data is stored or sent (SSTables, commit log, internode
/// messages), as Cassandra does; a dropped column's name is remembered with its drop time in
/// ``TableSchema/droppedColumns`` so that older data under that name is never read back.
public struct ColumnDefinition: Hashable, Sendable {
    /// The column's role, named as `system_schema.columns.kind` names it.
    public enum Kind: String, Hashable, Sendable {
        case partitionKey = "partition_key"
        case clustering
        case regular
        case `static`
    }

    public var name: String
    public var type: CQLType
    public var kind: Kind
    /// Index within the partition key or clustering key; -1 for regular and static columns.
    public var position: Int
    /// For clustering columns: whether rows sort by this column descending.
    public var isDescending: Bool

    public init(name: String, type: CQLType, kind: Kind, position: Int = -1, isDescending: Bool = false) {
        self.name = name
        self.type = type
        self.kind = kind
        self.position = position
        self.isDescending = isDescending
    }

    /// `asc`, `desc` or `none`, as `system_schema.columns.clustering_order` holds.
    public var clusteringOrderName: String {
        kind == .clustering ? (isDescending ? "desc" : "asc") : "none"
    }

    public var isPrimaryKey: Bool { kind == .partitionKey || kind == .clustering }
}
