import BasaltCore
import BasaltProtocol
import BasaltStorage

/// Cassandra 5's checks on a vector written to a column with a storage-attached index, made
/// before anything is applied: every component finite (`non-finite value at vector[i]=NaN`), and
/// for a cosine index not all (near) zero. A refused write changes nothing, in any replica.
/// (A vector of the wrong dimension is refused earlier, when its value is bound.)
enum VectorWriteValidation {
    static func check(_ mutations: [Mutation], schema: Schema) throws(CQLError) {
        var indexed: [UUIDValue: [(column: String, dimension: Int, cosine: Bool)]] = [:]
        for m in mutations {
            if indexed[m.tableId] == nil {
                guard let k = schema.keyspace(m.keyspace), let t = k.tables[m.table] else { continue }
                indexed[m.tableId] = k.indexes(on: t.name).compactMap { index in
                    guard index.target == .column, let c = t.column(named: index.column), case let .vector(_, n) = c.type.unfrozen else { return nil }
                    return (c.name, n, index.similarity == .cosine)
                }
            }
            guard let columns = indexed[m.tableId], !columns.isEmpty else { continue }
            for row in m.update.rows {
                for cell in row.cells where !cell.isTombstone {
                    guard let v = columns.first(where: { $0.column == cell.column }), cell.value.count == v.dimension * 4 else { continue }
                    try check(cell.value, dimension: v.dimension, cosine: v.cosine)
                }
            }
        }
    }

    static func check(_ bytes: [UInt8], dimension: Int, cosine: Bool) throws(CQLError) {
        var allZero = true
        for i in 0 ..< dimension {
            let bits = UInt32(bytes[4 * i]) << 24 | UInt32(bytes[4 * i + 1]) << 16 | UInt32(bytes[4 * i + 2]) << 8 | UInt32(bytes[4 * i + 3])
            let x = Float(bitPattern: bits)
            guard x.isFinite else {
                let shown = x.isNaN ? "NaN" : (x < 0 ? "-Infinity" : "Infinity")
                throw .invalid("non-finite value at vector[\(i)]=\(shown)")
            }
            if abs(x) > 1e-6 { allZero = false }
        }
        if cosine && allZero { throw .invalid("Zero and near-zero vectors cannot be indexed or queried with cosine similarity") }
    }
}
