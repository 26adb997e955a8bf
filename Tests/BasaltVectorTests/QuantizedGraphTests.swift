import BasaltCore
import BasaltTestSupport
import BasaltVector
import Foundation
import Testing

/// Int8 graphs: recall after reranking against exact float search, training, deletions,
/// persistence (mapped and copied, old format versions), rebuilds and concurrent inserts.
@Suite struct QuantizedGraphTests {
    static func int8(rerank: Int = HNSWParameters.defaultRerank, trainingSize: Int = 1_000) -> HNSWParameters {
        HNSWParameters(m: 16, efConstruction: 100, quantization: .int8, rerank: rerank, quantizerTrainingSize: trainingSize)
    }

    static func build(_ vectors: [[Float]], _ similarity: VectorSimilarity, _ parameters: HNSWParameters = int8()) throws -> HNSWGraph {
        let g = HNSWGraph(dimension: vectors[0].count, similarity: similarity, parameters: parameters)
        for v in vectors { try g.insert(v) }
        return g
    }

    static func write(_ g: HNSWGraph, _ path: String, version: UInt16 = HNSWGraph.formatVersion) throws {
        let w = try IndexFileWriter(path: path, magic: "TEST", version: version)
        try g.write(to: w)
        try w.finish()
    }

    static func read(_ path: String, mapped: Bool) throws -> HNSWGraph {
        try HNSWGraph.read(from: IndexFileReader(path: path, magic: "TEST", supportedVersions: HNSWGraph.readableFormatVersions, mapped: mapped))
    }

    @Test(arguments: [VectorSimilarity.euclidean, .cosine, .dotProduct])
    func recallWithRerankingOnClusteredData(similarity: VectorSimilarity) throws {
        let all = HNSWGraphTests.data(4_100, dim: 32, clusters: 20, seed: 7)
        let g = try Self.build(Array(all.prefix(4_000)), similarity)
        #expect(g.activeQuantizer != nil)
        let queries = Array(all.suffix(100))
        let r = try HNSWGraphTests.recall(g, queries, ef: 64)
        #expect(r >= 0.95, "recall \(r) with \(similarity)")
        // Reranked distances are the exact float ones, closest first.
        for q in queries.prefix(20) {
            let exact = try q.withUnsafeBufferPointer { (p) throws(VectorError) in try g.exactSearch(p, k: 10, filter: AcceptAllNodes()) }
            let byId = Dictionary(uniqueKeysWithValues: exact.map { ($0.id, $0.distance) })
            let found = try g.search(q, k: 10, ef: 64)
            #expect(zip(found, found.dropFirst()).allSatisfy { $0.distance <= $1.distance })
            for n in found { if let d = byId[n.id] { #expect(d == n.distance) } }
        }
    }

    @Test func theQuantizerIsTrainedOnTheFirstInsertsAndWalksUseIt() throws {
        let all = HNSWGraphTests.data(1_200, dim: 16, clusters: 6, seed: 2)
        let g = HNSWGraph(dimension: 16, similarity: .euclidean, parameters: Self.int8(trainingSize: 500))
        for v in all.prefix(499) { try g.insert(v) }
        #expect(g.activeQuantizer == nil)
        let floatBytes = g.memoryBytes
        try g.insert(all[499])
        let q = try #require(g.activeQuantizer)
        // Codes (16 bytes) and a correction (4) per node and the quantiser's offsets, besides the
        // new node's own vector and links (a random number of layers).
        let grown = g.memoryBytes - floatBytes
        #expect(grown >= 500 * 20 + 16 * 4 && grown < 500 * 20 + 16 * 4 + 1_000, "grew by \(grown)")
        for v in all[500...] { try g.insert(v) }
        #expect(g.activeQuantizer == q)
        #expect(try HNSWGraphTests.recall(g, Array(all.prefix(100)), ef: 64) >= 0.95)
        // A float graph never trains one.
        #expect(try HNSWGraphTests.build(Array(all.prefix(600)), .euclidean).activeQuantizer == nil)
    }

    @Test func aQuantizerGivenUpFrontIsUsedFromTheFirstInsert() throws {
        let all = HNSWGraphTests.data(2_100, dim: 24, clusters: 10, seed: 4)
        let sample = all.prefix(300).flatMap { $0 }
        let quantizer = sample.withUnsafeBufferPointer { ScalarQuantizer(training: $0, dimension: 24) }
        let g = HNSWGraph(dimension: 24, similarity: .euclidean, parameters: Self.int8(), quantizer: quantizer)
        try g.insert(all[0])
        #expect(g.activeQuantizer == quantizer)
        for v in all[1 ..< 2_000] { try g.insert(v) }
        #expect(try HNSWGraphTests.recall(g, Array(all.suffix(100)), ef: 64) >= 0.95)
    }

    @Test func deletedNodesAreNeverReturned() throws {
        let all = HNSWGraphTests.data(4_100, dim: 32, clusters: 20, seed: 5)
        let g = try Self.build(Array(all.prefix(4_000)), .cosine)
        var rng = SplitMix64(seed: 9)
        var deleted = Set<UInt32>()
        while deleted.count < 2_000 { deleted.insert(UInt32(rng.next() % 4_000)) }
        for d in deleted { g.markDeleted(d) }
        for q in all.suffix(100) {
            let found = try g.search(q, k: 10, ef: 64)
            #expect(found.count == 10)
            #expect(found.allSatisfy { !deleted.contains($0.id) })
        }
        #expect(try HNSWGraphTests.recall(g, Array(all.suffix(100)), ef: 64) >= 0.95)
        let survivor = (0 ..< UInt32(4_000)).first { !deleted.contains($0) }!
        for id in 0 ..< UInt32(4_000) where id != survivor { g.markDeleted(id) }
        #expect(try g.search(all[0], k: 10).map(\.id) == [survivor])
    }

    @Test(arguments: [false, true])
    func writeAndReadBackGivesTheSameAnswers(mapped: Bool) throws {
        let dir = TemporaryDirectory("vector-int8")
        let all = HNSWGraphTests.data(3_100, dim: 24, clusters: 10, seed: 17)
        let g = try Self.build(Array(all.prefix(3_000)), .dotProduct)
        for id in stride(from: UInt32(0), to: 3_000, by: 10) { g.markDeleted(id) }
        let path = dir.path + "/graph.idx"
        try Self.write(g, path)
        let back = try Self.read(path, mapped: mapped)
        #expect(back.count == g.count && back.liveCount == g.liveCount)
        #expect(back.parameters == g.parameters && back.activeQuantizer == g.activeQuantizer)
        #expect(back.mappedBytes == (mapped ? 3_000 * 24 * 4 : 0))
        #expect(back.memoryBytes == g.memoryBytes - back.mappedBytes)
        for q in all.suffix(50) {
            #expect(try back.search(q, k: 10) == g.search(q, k: 10))
        }
        // Inserts after the reload go to the heap beside the mapped vectors, and the graph can be
        // written again from both.
        for v in all[3_000 ..< 3_050] { try back.insert(v) }
        // (Dot product: a vector's nearest node need not be itself.)
        let exact = try all[3_020].withUnsafeBufferPointer { (p) throws(VectorError) in try back.exactSearch(p, k: 5, filter: AcceptAllNodes()) }
        #expect(try back.search(all[3_020], k: 5) == exact)
        #expect(back.wasDeleted(3_020) == false && back.count == 3_050)
        #expect(back.storedVector(3_020) == all[3_020] && back.storedVector(5) == g.storedVector(5))
        let again = dir.path + "/again.idx"
        try Self.write(back, again)
        let third = try Self.read(again, mapped: true)
        for q in all.suffix(50) {
            #expect(try third.search(q, k: 10) == back.search(q, k: 10))
        }
    }

    @Test func filesOfTheFirstFormatStillLoad() throws {
        let dir = TemporaryDirectory("vector-v1")
        let all = HNSWGraphTests.data(1_100, dim: 16, clusters: 5, seed: 8)
        let g = try HNSWGraphTests.build(Array(all.prefix(1_000)), .euclidean)
        let path = dir.path + "/v1.idx"
        try Self.write(g, path, version: 1)
        for mapped in [false, true] {
            let back = try Self.read(path, mapped: mapped)
            #expect(back.parameters == g.parameters && back.activeQuantizer == nil && back.mappedBytes == 0)
            for q in all.suffix(20) { #expect(try back.search(q, k: 10) == g.search(q, k: 10)) }
        }
        // A float graph in the new format reads back the same way.
        try Self.write(g, path)
        let v2 = try Self.read(path, mapped: true)
        for q in all.suffix(20) { #expect(try v2.search(q, k: 10) == g.search(q, k: 10)) }
    }

    @Test func damagedFilesAreDetected() throws {
        let dir = TemporaryDirectory("vector-int8")
        let g = try Self.build(HNSWGraphTests.data(1_200, dim: 8, clusters: 3, seed: 1), .euclidean)
        let path = dir.path + "/graph.idx"
        try Self.write(g, path)
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        for offset in [0, 7, 70, 100, bytes.count / 2, bytes.count - 10] {
            var copy = bytes
            copy[offset] ^= 0x10
            _ = FileManager.default.createFile(atPath: path, contents: Data(copy))
            #expect(throws: VectorError.self) { _ = try Self.read(path, mapped: true) }
        }
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes.prefix(bytes.count - 30)))
        #expect(throws: VectorError.self) { _ = try Self.read(path, mapped: true) }
    }

    @Test func compactionRetrainsOnTheLiveVectors() throws {
        // The quantiser is trained on the first 1,000; the next 1,000 lie well outside its range.
        let first = HNSWGraphTests.data(1_000, dim: 16, clusters: 5, seed: 31)
        let shifted = HNSWGraphTests.data(1_100, dim: 16, clusters: 5, seed: 32).map { $0.map { $0 * 3 + 40 } }
        let g = try Self.build(first + Array(shifted.prefix(1_000)), .euclidean)
        for id in 0 ..< UInt32(1_000) { g.markDeleted(id) }
        let (c, old) = g.compacted()
        #expect(old == Array(1_000 ..< 2_000))
        let before = try #require(g.activeQuantizer), after = try #require(c.activeQuantizer)
        let meanBefore: Float = before.offsets.reduce(0, +) / 16
        let meanAfter: Float = after.offsets.reduce(0, +) / 16
        #expect(meanAfter > meanBefore + 30)
        #expect(try HNSWGraphTests.recall(c, Array(shifted.suffix(100)), ef: 64) >= 0.95)
    }

    @Test func searchesRunWhileInsertsCrossTheTrainingPoint() async throws {
        let all = HNSWGraphTests.data(4_000, dim: 16, clusters: 10, seed: 13)
        let g = try Self.build(Array(all.prefix(200)), .cosine, Self.int8(trainingSize: 1_500))
        try await HNSWGraphTests.insertWhileSearching(g, all[200...], queries: Array(all.prefix(200)))
        #expect(g.activeQuantizer != nil)
        #expect(try HNSWGraphTests.recall(g, Array(all.prefix(50)), ef: 64) >= 0.95)
    }
}
