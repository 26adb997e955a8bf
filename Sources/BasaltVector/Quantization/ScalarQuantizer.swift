/// Scalar quantisation of float32 vectors to signed 8-bit codes, one byte per component, so a
/// graph can walk its links comparing codes (a quarter of the memory, exact integer kernels) and
/// keep the float vectors only for reranking its final candidates.
///
/// **The code.** Component `i` of `x` is stored as
/// `c_i = clamp(round((x_i − m_i) / s), −127, 127)`, and read back as `x̂_i = m_i + s · c_i`, where
/// `m_i` is the midpoint of the smallest and largest `x_i` of the training vectors and `s` is ONE
/// scale for every component: the largest half-range over all components, divided by 127. For a
/// component inside its trained range the error `|x_i − x̂_i|` is at most `s / 2`.
///
/// **Why one scale.** With a per-component scale `s_i`, `Σ (c_i − d_i)²` would weigh each
/// component by `1 / s_i²` and its order would not be the order of true distances. With one scale,
/// `x̂ − ŷ = s · (c − d)`, so `‖x̂ − ŷ‖² = s² · ‖c − d‖²`: squared euclidean distance in code space
/// is proportional to the squared distance between the reconstructed vectors, and comparing the
/// integer sums `‖c − d‖²` (``DistanceKernels/squaredEuclidean(_:_:_:)-(UnsafePointer<Int8>,_,_)``)
/// orders neighbours as the reconstructions do. The price: a component whose range is much
/// narrower than the widest one gets fewer than 255 levels.
///
/// **Dot product and cosine.** The offsets do not cancel in a dot product:
/// `x̂ · ŷ = Σ (m_i + s c_i)(m_i + s d_i) = s² (c · d) + s (c · m) + s (d · m) + m · m`.
/// `c · d` is an exact integer dot product of the codes; `s (c · m)` depends on one vector only,
/// so it is computed once when the vector is encoded and kept beside its codes (its *correction*,
/// returned by ``encode(_:into:)``); `m · m` is one constant of the quantiser
/// (``offsetSquaredNorm``). A distance between two coded vectors is therefore one integer dot
/// product, one multiply and three additions. Cosine graphs store normalised vectors and use the
/// same formula.
///
/// **Vectors outside the trained range.** The quantiser is trained once, from a sample (see
/// ``HNSWParameters/quantizerTrainingSize``), and is not updated as data arrives: a component that
/// falls outside `m_i ± 127 s` is clamped to ±127, so its code under-states how far out it is. The
/// error is bounded by how far the value lies outside the range, never a crash or an overflow, and
/// the graph's final answers are reranked with the exact float vectors, so a clamped vector is
/// only at risk of being missed when its code distance pushes it out of the candidate list. A
/// graph whose data has drifted retrains when it is rebuilt (``HNSWGraph/compacted()`` trains a
/// fresh quantiser on all live vectors).
///
/// **Limits.** Integer sums are 32-bit: `254² · dimension` must fit, so quantisation is offered up
/// to ``maximumDimension`` components (graphs with more stay float32).
public struct ScalarQuantizer: Hashable, Sendable {
    /// The largest dimension whose squared code distances fit in an `Int32`.
    public static let maximumDimension = 32_768
    /// Codes are in `-codeLimit … codeLimit`; −128 is never produced, so the code space is
    /// symmetric around the offset.
    public static let codeLimit: Float = 127

    public let dimension: Int
    /// `m`: per component, the midpoint of the trained range.
    public let offsets: [Float]
    /// `s`: the one step between adjacent codes, for every component.
    public let scale: Float
    /// `m · m`, the constant term of every reconstructed dot product.
    public let offsetSquaredNorm: Float

    /// A quantiser trained on `sample`, a flat buffer of whole vectors of `dimension` components
    /// (vector `j` at `j · dimension`; a trailing partial vector is ignored). An empty sample
    /// gives the range −1…1 for every component.
    public init(training sample: UnsafeBufferPointer<Float>, dimension: Int) {
        var trainer = Trainer(dimension: dimension)
        if let base = sample.baseAddress {
            var start = 0
            while start + dimension <= sample.count {
                trainer.add(base + start)
                start += dimension
            }
        }
        self = trainer.quantizer()
    }

    /// A quantiser with the given offsets and scale, or nil when they cannot be one (used when
    /// reading an index file): the scale must be positive and finite, every offset finite.
    public init?(dimension: Int, offsets: [Float], scale: Float) {
        guard dimension > 0, dimension <= Self.maximumDimension, offsets.count == dimension,
              scale.isFinite, scale > 0, offsets.allSatisfy(\.isFinite)
        else { return nil }
        self.dimension = dimension
        self.offsets = offsets
        self.scale = scale
        var norm: Float = 0
        for m in offsets { norm += m * m }
        offsetSquaredNorm = norm
    }

    /// Accumulates the per-component range of a sample one vector at a time, so training on
    /// every live vector of a graph needs no copy of them.
    public struct Trainer: Sendable {
        public let dimension: Int
        private var low: [Float]
        private var high: [Float]
        public private(set) var count = 0

        public init(dimension: Int) {
            self.dimension = dimension
            low = [Float](repeating: .infinity, count: dimension)
            high = [Float](repeating: -.infinity, count: dimension)
        }

        /// Adds the vector of `dimension` components at `vector`; non-finite components are
        /// ignored (a graph never stores them).
        public mutating func add(_ vector: UnsafePointer<Float>) {
            count += 1
            for i in 0 ..< dimension {
                let x = vector[i]
                guard x.isFinite else { continue }
                if x < low[i] { low[i] = x }
                if x > high[i] { high[i] = x }
            }
        }

        /// The quantiser for the ranges seen so far.
        public func quantizer() -> ScalarQuantizer {
            var offsets = [Float](repeating: 0, count: dimension)
            var halfRange: Float = 0
            for i in 0 ..< dimension where low[i] <= high[i] {
                // Halves first: `high − low` overflows for components near ±Float.greatestFiniteMagnitude.
                offsets[i] = low[i] / 2 + high[i] / 2
                halfRange = max(halfRange, high[i] / 2 - low[i] / 2)
            }
            if count == 0 { halfRange = 1 }
            var scale = halfRange / ScalarQuantizer.codeLimit
            // All training values equal (or a subnormal range): any positive step encodes them as 0.
            if !(scale.isNormal && scale > 0) { scale = halfRange > 0 ? .leastNormalMagnitude : 1 / ScalarQuantizer.codeLimit }
            return ScalarQuantizer(dimension: dimension, offsets: offsets, scale: scale)
                ?? ScalarQuantizer(dimension: dimension, offsets: [Float](repeating: 0, count: dimension), scale: 1)!
        }
    }

    /// Writes the codes of `vector` (`dimension` components) to `codes` and returns its dot-product
    /// correction `s · (c · m)`.
    @inlinable
    public func encode(_ vector: UnsafePointer<Float>, into codes: UnsafeMutablePointer<Int8>) -> Float {
        offsets.withUnsafeBufferPointer { m in
            let inverse = 1 / scale
            var cm: Float = 0
            for i in 0 ..< dimension {
                let t = ((vector[i] - m[i]) * inverse).rounded()
                // NaN (never in a graph, which validates vectors) encodes as the offset.
                let c: Int8 = t >= Self.codeLimit ? 127 : t <= -Self.codeLimit ? -127 : t.isNaN ? 0 : Int8(t)
                codes[i] = c
                cm += Float(c) * m[i]
            }
            return scale * cm
        }
    }

    /// The codes of `vector` and its correction.
    public func encode(_ vector: [Float]) -> (codes: [Int8], correction: Float) {
        precondition(vector.count == dimension, "encoding a vector of \(vector.count) components with a quantiser of \(dimension)")
        var codes = [Int8](repeating: 0, count: dimension)
        let correction = vector.withUnsafeBufferPointer { v in
            codes.withUnsafeMutableBufferPointer { encode(v.baseAddress!, into: $0.baseAddress!) }
        }
        return (codes, correction)
    }

    /// The reconstruction `m + s · c`.
    public func decode(_ codes: [Int8]) -> [Float] {
        precondition(codes.count == dimension, "decoding \(codes.count) codes with a quantiser of \(dimension)")
        return (0 ..< dimension).map { offsets[$0] + scale * Float(codes[$0]) }
    }

    /// `‖x̂ − ŷ‖² = s² · ‖c − d‖²`, the squared euclidean distance of two reconstructions.
    @inlinable @inline(__always)
    public func squaredEuclidean(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>) -> Float {
        scale * scale * Float(DistanceKernels.squaredEuclidean(a, b, dimension))
    }

    /// `x̂ · ŷ = s² (c · d) + corrections + m · m`, the dot product of two reconstructions.
    @inlinable @inline(__always)
    public func dot(_ a: UnsafePointer<Int8>, _ aCorrection: Float, _ b: UnsafePointer<Int8>, _ bCorrection: Float) -> Float {
        scale * scale * Float(DistanceKernels.dot(a, b, dimension)) + aCorrection + bCorrection + offsetSquaredNorm
    }

    /// The largest error of one component inside the trained range: half a step.
    public var maximumComponentError: Float { scale / 2 }
}
