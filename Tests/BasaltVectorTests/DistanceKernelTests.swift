import BasaltCore
import BasaltVector
import Testing

/// The SIMD kernels against plain scalar loops, at every length around the SIMD block sizes.
@Suite struct DistanceKernelTests {
    static func reference(_ a: [Float], _ b: [Float]) -> (l2: Double, dot: Double) {
        var l2 = 0.0, dot = 0.0
        for i in a.indices {
            let d = Double(a[i]) - Double(b[i])
            l2 += d * d
            dot += Double(a[i]) * Double(b[i])
        }
        return (l2, dot)
    }

    static func randomVector(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
        (0 ..< n).map { _ in Float(rng.nextUnit() * 2 - 1) }
    }

    @Test(arguments: [1, 3, 4, 7, 15, 16, 17, 31, 32, 33, 47, 64, 100, 128, 384, 385, 1536])
    func floatKernelsMatchScalarReference(length: Int) {
        var rng = SplitMix64(seed: UInt64(length))
        for _ in 0 ..< 20 {
            let a = Self.randomVector(length, &rng), b = Self.randomVector(length, &rng)
            let ref = Self.reference(a, b)
            let l2 = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                DistanceKernels.squaredEuclidean(pa.baseAddress!, pb.baseAddress!, length) } }
            let dot = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                DistanceKernels.dot(pa.baseAddress!, pb.baseAddress!, length) } }
            let tolerance = 1e-5 * Double(length) + 1e-6
            #expect(abs(Double(l2) - ref.l2) <= tolerance * max(1, ref.l2))
            #expect(abs(Double(dot) - ref.dot) <= tolerance * max(1, abs(ref.dot)))
        }
    }

    @Test(arguments: [1, 15, 16, 17, 64, 129, 384])
    func integerKernelsAreExact(length: Int) {
        var rng = SplitMix64(seed: UInt64(1000 + length))
        let a = (0 ..< length).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 255) - 127) }
        let b = (0 ..< length).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 255) - 127) }
        var l2: Int32 = 0, dot: Int32 = 0
        for i in 0 ..< length {
            let d = Int32(a[i]) - Int32(b[i])
            l2 += d * d
            dot += Int32(a[i]) * Int32(b[i])
        }
        let gotL2 = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            DistanceKernels.squaredEuclidean(pa.baseAddress!, pb.baseAddress!, length) } }
        let gotDot = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
            DistanceKernels.dot(pa.baseAddress!, pb.baseAddress!, length) } }
        #expect(gotL2 == l2)
        #expect(gotDot == dot)
    }

    @Test func cassandraSimilarityScores() {
        let a: [Float] = [1, 0], b: [Float] = [0, 1], c: [Float] = [2, 0]
        #expect(VectorSimilarity.cosine.score(a, b) == 0.5)
        #expect(VectorSimilarity.cosine.score(a, c) == 1)
        #expect(VectorSimilarity.cosine.score(a, [0, 0]) == 0)
        #expect(VectorSimilarity.dotProduct.score(a, c) == 1.5)
        #expect(VectorSimilarity.euclidean.score(a, c) == 0.5)
        #expect(VectorSimilarity.euclidean.score(a, b) == Float(1) / 3)
    }

    @Test func badVectorsAreRefused() {
        let s = VectorSimilarity.cosine
        #expect(throws: VectorError.wrongDimension(expected: 3, actual: 2)) {
            try [Float(1), 2].withUnsafeBufferPointer { (p) throws(VectorError) in try s.validate(p, dimension: 3) }
        }
        #expect(throws: VectorError.nonFiniteComponent(index: 1)) {
            try [Float(1), .nan, 2].withUnsafeBufferPointer { (p) throws(VectorError) in try s.validate(p, dimension: 3) }
        }
        #expect(throws: VectorError.nonFiniteComponent(index: 0)) {
            try [Float.infinity, 1, 2].withUnsafeBufferPointer { (p) throws(VectorError) in try VectorSimilarity.euclidean.validate(p, dimension: 3) }
        }
        #expect(throws: VectorError.zeroVectorForCosine) {
            try [Float(0), 0, 0].withUnsafeBufferPointer { (p) throws(VectorError) in try s.validate(p, dimension: 3) }
        }
        #expect(throws: Never.self) {
            try [Float(0), 0, 0].withUnsafeBufferPointer { (p) throws(VectorError) in try VectorSimilarity.euclidean.validate(p, dimension: 3) }
        }
    }
}
