import BasaltProtocol
import BasaltCore

/// A statement prepared on the cluster: its id (the same on every node), one ``ColumnSpec`` per
/// bind marker, the markers forming the partition key, and the columns a SELECT returns.
public struct PreparedStatement: Sendable, Hashable {
    public let query: String
    public let id: [UInt8]
    /// One spec per `?` marker, in order: the column's keyspace, table, name and type.
    public let variables: [ColumnSpec]
    /// For each partition-key column in key order, the marker giving it; empty when the
    /// statement cannot be routed by token.
    public let partitionKeyIndexes: [UInt16]
    /// The result columns of a SELECT (empty otherwise).
    public let resultColumns: [ColumnSpec]

    public init(query: String, result: PreparedResult) {
        self.query = query
        id = result.id
        variables = result.variables
        partitionKeyIndexes = result.partitionKeyIndexes
        resultColumns = result.resultMetadata.columns
    }

    /// The keyspace whose replication routes the statement: the bound columns' keyspace.
    public var keyspace: String? { variables.first?.keyspace ?? resultColumns.first?.keyspace }

    /// Serializes `values` with the markers' types (nil is null). Throws
    /// ``ClientError/invalidValue(_:)`` naming the marker when a value does not fit or the count
    /// is wrong.
    public func encode(_ values: [CQLValue?]) throws(ClientError) -> [ProtocolValue] {
        guard values.count == variables.count else {
            throw .invalidValue("\(query) has \(variables.count) bind markers, \(values.count) values given")
        }
        var out = [ProtocolValue]()
        out.reserveCapacity(values.count)
        for (i, value) in values.enumerated() {
            guard let value else {
                out.append(.null)
                continue
            }
            do {
                out.append(.bytes(try variables[i].type.encode(value)))
            } catch {
                throw .invalidValue("marker \(i) (\(variables[i].name)): \(error)")
            }
        }
        return out
    }
}
