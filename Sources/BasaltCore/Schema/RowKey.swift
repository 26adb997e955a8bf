/// A row's primary key as storage holds it: the serialized partition key and the clustering
/// values (empty for a table without clustering columns; in a table that has clustering columns,
/// an empty clustering stands for the whole partition). Index answers, their merges and the
/// rows read for them are keyed by it.
public struct RowKey: Hashable, Sendable {
    public var partitionKey: [UInt8]
    public var clustering: [[UInt8]]

    public init(partitionKey: [UInt8], clustering: [[UInt8]]) {
        self.partitionKey = partitionKey
        self.clustering = clustering
    }
}
