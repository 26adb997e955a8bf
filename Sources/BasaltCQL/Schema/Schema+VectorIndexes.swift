import BasaltCore
import BasaltIndex
import BasaltVector

extension Schema {
    /// The vector indexes of every user table, as the storage-attached index registry needs them
    /// (every user table is listed, with no index when it has none, so dropped indexes go).
    public var vectorIndexDefinitions: [UUIDValue: [VectorIndexDefinition]] {
        var out: [UUIDValue: [VectorIndexDefinition]] = [:]
        for k in userKeyspaces.values {
            for t in k.tables.values {
                out[t.id] = k.indexes(on: t.name).compactMap { index in
                    guard index.target == .column, let column = t.column(named: index.column),
                          case let .vector(_, dimension) = column.type.unfrozen else { return nil }
                    let o = index.settings
                    let parameters = HNSWParameters(m: o.maximumNodeConnections ?? HNSWParameters.defaultM,
                                                    efConstruction: o.constructionBeamWidth ?? HNSWParameters.defaultEfConstruction)
                    return VectorIndexDefinition(name: index.name, column: index.column, dimension: dimension,
                                                 similarity: index.similarity, parameters: parameters)
                }
            }
        }
        return out
    }
}
