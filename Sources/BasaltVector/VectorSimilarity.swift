/// How an index compares vectors (`similarity_function` of a vector index, as Cassandra 5 names
/// them), and the scores Cassandra reports for each, all in [0, 1] with 1 the most similar.
///
/// Inside the graph every similarity is turned into a distance (smaller is closer):
/// - ``euclidean``: the squared euclidean distance;
/// - ``dotProduct``: minus the dot product;
/// - ``cosine``: vectors are stored normalised to unit length, and the distance is minus their dot
///   product (minus the cosine).
public enum VectorSimilarity: String, Hashable, Sendable, CaseIterable {
    case cosine = "COSINE"
    case dotProduct = "DOT_PRODUCT"
    case euclidean = "EUCLIDEAN"

    /// The graph distance between two stored (for cosine: normalised) vectors.
    @inlinable @inline(__always)
    public func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        switch self {
        case .euclidean: DistanceKernels.squaredEuclidean(a, b, count)
        case .dotProduct, .cosine: -DistanceKernels.dot(a, b, count)
        }
    }

    /// Cassandra's similarity score for a graph distance: cosine (1 + cos) / 2, dot product
    /// (1 + dot) / 2, euclidean 1 / (1 + d²).
    @inlinable
    public func score(distance: Float) -> Float {
        switch self {
        case .euclidean: 1 / (1 + distance)
        case .dotProduct, .cosine: (1 - distance) / 2
        }
    }

    /// Cassandra's similarity score of two raw vectors of the same length (the
    /// `similarity_cosine / _dot_product / _euclidean` functions): cosine of a zero vector is 0.
    public func score(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "similarity of vectors of different lengths")
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let x = pa.baseAddress, let y = pb.baseAddress else { return self == .euclidean ? 1 : 0.5 }
                let n = a.count
                switch self {
                case .euclidean:
                    return 1 / (1 + DistanceKernels.squaredEuclidean(x, y, n))
                case .dotProduct:
                    return (1 + DistanceKernels.dot(x, y, n)) / 2
                case .cosine:
                    let denominator = (DistanceKernels.squaredNorm(x, n) * DistanceKernels.squaredNorm(y, n)).squareRoot()
                    guard denominator > 0 else { return 0 }
                    return (1 + DistanceKernels.dot(x, y, n) / denominator) / 2
                }
            }
        }
    }

    /// Checks that `vector` can be indexed or searched with this similarity: the right dimension,
    /// finite components, and for cosine a non-zero length.
    public func validate(_ vector: UnsafeBufferPointer<Float>, dimension: Int) throws(VectorError) {
        guard vector.count == dimension else { throw .wrongDimension(expected: dimension, actual: vector.count) }
        for (i, x) in vector.enumerated() where !x.isFinite { throw .nonFiniteComponent(index: i) }
        if self == .cosine, let p = vector.baseAddress, DistanceKernels.squaredNorm(p, dimension) == 0 {
            throw .zeroVectorForCosine
        }
    }
}

/// Why a vector was refused, or an index file could not be used.
public enum VectorError: Error, Hashable, Sendable, CustomStringConvertible {
    case wrongDimension(expected: Int, actual: Int)
    case nonFiniteComponent(index: Int)
    case zeroVectorForCosine
    /// An index file that cannot be used: bad magic, version, checksum or truncated content.
    case damagedFile(path: String, reason: String)
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case let .wrongDimension(expected, actual):
            "Invalid vector literal: expected a vector of \(expected) dimensions but got \(actual)"
        case let .nonFiniteComponent(index):
            "Invalid vector: component \(index) is NaN or infinite"
        case .zeroVectorForCosine:
            "Zero and near-zero vectors cannot be indexed or queried with cosine similarity"
        case let .damagedFile(path, reason):
            "damaged vector index file \(path): \(reason)"
        case let .io(path, operation, errno):
            "vector index file \(path): \(operation) failed (errno \(errno))"
        }
    }
}
