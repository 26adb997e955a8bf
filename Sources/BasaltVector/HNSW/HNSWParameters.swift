#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The knobs of a hierarchical navigable small world graph (Malkov & Yashunin, "Efficient and
/// robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs",
/// IEEE TPAMI 2018, §4 "Construction parameters").
///
/// Defaults were chosen from `basalt bench vector` sweeps (docs/vector.md): M = 16 with
/// ef_construction = 100 keeps recall@10 ≥ 0.95 at ef_search 40 on clustered 128-dimension data
/// while building about twice as fast as ef_construction = 200.
public struct HNSWParameters: Hashable, Sendable {
    /// M: links per node on the upper layers; the ground layer keeps up to `2 · M` (Mmax0, §4).
    public var m: Int
    /// efConstruction: the dynamic candidate list size while inserting (§4.1).
    public var efConstruction: Int
    /// ef: the candidate list size of a search unless the query asks for another.
    public var efSearch: Int
    /// Seed of the level generator, so that a build is reproducible.
    public var seed: UInt64
    /// Whether the graph walks float32 vectors or int8 codes (``VectorQuantization``).
    public var quantization: VectorQuantization
    /// With ``VectorQuantization/int8``: a search reranks its best `max(k, rerank)` candidates
    /// (by code distance, out of its `ef`) with exact float distances.
    public var rerank: Int
    /// With ``VectorQuantization/int8`` and no quantiser given to the graph: the graph walks float
    /// vectors until it holds this many nodes, then trains its quantiser on them and encodes them.
    public var quantizerTrainingSize: Int

    public static let defaultM = 16
    public static let defaultEfConstruction = 100
    public static let defaultEfSearch = 64
    public static let defaultRerank = 40
    public static let defaultQuantizerTrainingSize = 1_000

    public init(
        m: Int = defaultM, efConstruction: Int = defaultEfConstruction, efSearch: Int = defaultEfSearch, seed: UInt64 = 0x5EED,
        quantization: VectorQuantization = .none, rerank: Int = defaultRerank, quantizerTrainingSize: Int = defaultQuantizerTrainingSize
    ) {
        self.m = min(max(m, 2), 128)
        self.efConstruction = min(max(efConstruction, self.m), 4096)
        self.efSearch = min(max(efSearch, 1), 4096)
        self.seed = seed
        self.quantization = quantization
        self.rerank = min(max(rerank, 0), 4096)
        self.quantizerTrainingSize = min(max(quantizerTrainingSize, 1), 1 << 20)
    }

    /// Mmax0: the ground layer's neighbour limit (`2 · M`, §4).
    public var maxGroundLinks: Int { 2 * m }

    /// mL = 1 / ln(M), the level normalisation that §4 recommends.
    public var levelMultiplier: Double { 1 / log(Double(m)) }
}
