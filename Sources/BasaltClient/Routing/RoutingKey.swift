import BasaltProtocol
import BasaltCore

/// The partition key of a bound statement, built as Cassandra builds it, and its token.
///
/// The PREPARED result's pk_indexes name the bind markers giving each partition-key column in
/// key order. One column: the key is that value's bytes; several: per component a 2-byte
/// big-endian length, the bytes, then 0x00 (``TableSchema/partitionKeyBytes(_:)``, the server's
/// own builder). The token is ``Murmur3/token(_:)-([UInt8])`` of that key.
public enum RoutingKey {
    /// The serialized partition key, nil when there are no pk indexes or a component is null,
    /// unset or missing (such a statement is not routed by token).
    public static func bytes(values: [ProtocolValue], partitionKeyIndexes: [UInt16]) -> [UInt8]? {
        if partitionKeyIndexes.count == 1 {
            let i = Int(partitionKeyIndexes[0])
            guard i < values.count, case let .bytes(b) = values[i] else { return nil }
            return b
        }
        guard !partitionKeyIndexes.isEmpty else { return nil }
        var components = [[UInt8]]()
        components.reserveCapacity(partitionKeyIndexes.count)
        for index in partitionKeyIndexes {
            let i = Int(index)
            guard i < values.count, case let .bytes(b) = values[i] else { return nil }
            components.append(b)
        }
        return TableSchema.partitionKeyBytes(components)
    }

    /// The token of the partition the values address, nil when it cannot be built.
    public static func token(values: [ProtocolValue], partitionKeyIndexes: [UInt16]) -> Token? {
        bytes(values: values, partitionKeyIndexes: partitionKeyIndexes).map { Murmur3.token($0) }
    }
}
