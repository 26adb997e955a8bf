import BasaltCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reproducible synthetic vectors for benchmarks and tests: points drawn around gaussian centres
/// (centre components are standard normal times `spread`, each point adds standard normal noise),
/// the shape real embeddings have (clusters of near-duplicates), or uniform random points when
/// `clusters` is 0.
public struct ClusteredVectors: Sendable {
    public let dimension: Int
    public let centres: [[Float]]
    private var rng: SplitMix64

    public init(dimension: Int, clusters: Int, spread: Float = 4, seed: UInt64) {
        self.dimension = dimension
        rng = SplitMix64(seed: seed)
        var centres: [[Float]] = []
        for _ in 0 ..< clusters {
            var c = [Float](repeating: 0, count: dimension)
            for i in 0 ..< dimension { c[i] = spread * Self.gaussian(&rng) }
            centres.append(c)
        }
        self.centres = centres
    }

    /// The next point.
    public mutating func next() -> [Float] {
        var v = [Float](repeating: 0, count: dimension)
        if centres.isEmpty {
            for i in 0 ..< dimension { v[i] = Float(rng.nextUnit()) * 2 - 1 }
            return v
        }
        let c = centres[Int(rng.next() % UInt64(centres.count))]
        for i in 0 ..< dimension { v[i] = c[i] + Self.gaussian(&rng) }
        return v
    }

    /// `count` points in one flat array (point `i` at `i · dimension`).
    public mutating func flat(_ count: Int) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count * dimension)
        for _ in 0 ..< count { out.append(contentsOf: next()) }
        return out
    }

    /// A standard normal sample (Box–Muller).
    static func gaussian(_ rng: inout SplitMix64) -> Float {
        let u1 = max(rng.nextUnit(), 1e-300), u2 = rng.nextUnit()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
