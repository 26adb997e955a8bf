import BasaltCore
import BasaltVector
import Testing

/// The scalar quantiser's error bounds and the code-space distances against the reconstructions.
@Suite struct ScalarQuantizerTests {
    static func sample(_ n: Int, dim: Int, seed: UInt64) -> [[Float]] {
        var gen = ClusteredVectors(dimension: dim, clusters: 8, seed: seed)
        return (0 ..< n).map { _ in gen.next() }
    }

    static func train(_ vectors: [[Float]]) -> ScalarQuantizer {
        let flat = vectors.flatMap { $0 }
        return flat.withUnsafeBufferPointer { ScalarQuantizer(training: $0, dimension: vectors[0].count) }
    }

    @Test func trainingSetsMidpointsAndOneScale() {
        let q = Self.train([[-1, 10, 5], [3, 20, 5], [1, 14, 5]])
        #expect(q.offsets == [1, 15, 5])
        // The widest half-range is 5 (10…20), over 127 steps.
        #expect(q.scale == Float(5) / 127)
        let (codes, _) = q.encode([-1, 20, 5])
        #expect(codes == [-51, 127, 0])
    }

    @Test(arguments: [1, 7, 16, 33, 128])
    func roundTripErrorIsAtMostHalfAStep(dim: Int) {
        let data = Self.sample(500, dim: dim, seed: UInt64(dim))
        let q = Self.train(data)
        for v in data {
            let (codes, _) = q.encode(v)
            #expect(codes.allSatisfy { $0 >= -127 && $0 <= 127 })
            let back = q.decode(codes)
            for i in 0 ..< dim {
                #expect(abs(back[i] - v[i]) <= q.maximumComponentError * 1.001 + 1e-6, "component \(i): \(v[i]) came back as \(back[i])")
            }
        }
    }

    @Test func codeDistancesMatchTheReconstructionsAndBoundTheTrueOnes() {
        let dim = 64
        let data = Self.sample(300, dim: dim, seed: 5)
        let q = Self.train(data)
        // ‖x − x̂‖ ≤ (s / 2) √d, so true and reconstructed distances differ by at most twice that.
        let bound = Double(q.maximumComponentError) * Double(dim).squareRoot() * 2
        for (x, y) in zip(data, data.dropFirst()) {
            let (cx, bx) = q.encode(x), (cy, by) = q.encode(y)
            let rx = q.decode(cx), ry = q.decode(cy)
            let reconstructed = zip(rx, ry).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            let viaCodes = cx.withUnsafeBufferPointer { a in cy.withUnsafeBufferPointer { b in q.squaredEuclidean(a.baseAddress!, b.baseAddress!) } }
            #expect(abs(Double(viaCodes) - reconstructed) <= 1e-4 * max(reconstructed, 1))
            let truth = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            #expect(abs(reconstructed.squareRoot() - truth.squareRoot()) <= bound)

            let reconstructedDot = zip(rx, ry).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let dotViaCodes = cx.withUnsafeBufferPointer { a in cy.withUnsafeBufferPointer { b in q.dot(a.baseAddress!, bx, b.baseAddress!, by) } }
            #expect(abs(Double(dotViaCodes) - reconstructedDot) <= 1e-4 * max(abs(reconstructedDot), 100))
        }
    }

    @Test func valuesOutsideTheTrainedRangeAreClamped() {
        let q = Self.train([[0, 0], [1, 2]])
        #expect(q.encode([100, -100]).codes == [127, -127])
        #expect(q.encode([.greatestFiniteMagnitude, -.greatestFiniteMagnitude]).codes == [127, -127])
        #expect(q.encode([.nan, .infinity]).codes == [0, 127])
        // Inside the range the error bound still holds after those.
        let back = q.decode(q.encode([0.5, 1.5]).codes)
        #expect(abs(back[0] - 0.5) <= q.maximumComponentError && abs(back[1] - 1.5) <= q.maximumComponentError)
    }

    @Test func degenerateSamplesStillGiveAUsableQuantizer() {
        let constant = Self.train([[3, 3, 3], [3, 3, 3]])
        #expect(constant.scale > 0 && constant.scale.isFinite)
        #expect(constant.encode([3, 3, 3]).codes == [0, 0, 0])
        let empty = [Float]().withUnsafeBufferPointer { ScalarQuantizer(training: $0, dimension: 4) }
        #expect(empty.offsets == [0, 0, 0, 0] && empty.scale == 1 / 127)
        let huge = Self.train([[-.greatestFiniteMagnitude], [.greatestFiniteMagnitude]])
        #expect(huge.scale.isFinite && huge.offsets == [0])
        #expect(huge.encode([.greatestFiniteMagnitude]).codes == [127])
        #expect(ScalarQuantizer(dimension: 2, offsets: [0, .nan], scale: 1) == nil)
        #expect(ScalarQuantizer(dimension: 2, offsets: [0, 0], scale: 0) == nil)
        #expect(ScalarQuantizer(dimension: 3, offsets: [0, 0], scale: 1) == nil)
    }
}
