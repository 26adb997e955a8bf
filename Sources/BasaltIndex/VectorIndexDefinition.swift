import BasaltVector

/// A vector index as storage needs to know it: which column, how vectors compare, graph knobs.
/// (The CQL layer turns its `CREATE CUSTOM INDEX … USING 'StorageAttachedIndex'` into this.)
public struct VectorIndexDefinition: Hashable, Sendable {
    public var name: String
    public var column: String
    public var dimension: Int
    public var similarity: VectorSimilarity
    public var parameters: HNSWParameters

    public init(name: String, column: String, dimension: Int, similarity: VectorSimilarity, parameters: HNSWParameters = HNSWParameters()) {
        self.name = name
        self.column = column
        self.dimension = dimension
        self.similarity = similarity
        self.parameters = parameters
    }

    /// The file of this index beside SSTable `generation` in `directory`.
    func segmentPath(directory: String, generation: Int) -> String {
        "\(directory)/bs-\(generation)-VectorIndex-\(fileSafeName).db"
    }

    /// The index name when it is a plain identifier, else its bytes in hex (quoted CQL names may
    /// hold any character).
    var fileSafeName: String {
        let plain = name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
        return plain ? name : "x" + name.utf8.map { String($0, radix: 16) }.joined()
    }
}
