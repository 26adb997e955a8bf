import BasaltCore
import BasaltTestSupport
import BasaltVector
import Foundation
import Testing

/// Recall of the graph against exact search, deletions, concurrency and persistence.
@Suite struct HNSWGraphTests {
    static func build(_ vectors: [[Float]], _ similarity: VectorSimilarity, m: Int = 16, efc: Int = 100) throws -> HNSWGraph {
        let g = HNSWGraph(dimension: vectors[0].count, similarity: similarity, parameters: HNSWParameters(m: m, efConstruction: efc))
        for v in vectors { try g.insert(v) }
        return g
    }

    /// Mean recall@k of `graph.search` against `graph.exactSearch`.
    static func recall(_ g: HNSWGraph, _ queries: [[Float]], k: Int = 10, ef: Int) throws -> Double {
        var hits = 0, total = 0
        for q in queries {
            let exact = try q.withUnsafeBufferPointer { (p) throws(VectorError) in try g.exactSearch(p, k: k, filter: AcceptAllNodes()) }
            let found = Set(try g.search(q, k: k, ef: ef).map(\.id))
            hits += exact.filter { found.contains($0.id) }.count
            total += exact.count
        }
        return Double(hits) / Double(max(total, 1))
    }

    static func data(_ n: Int, dim: Int, clusters: Int, seed: UInt64) -> [[Float]] {
        var gen = ClusteredVectors(dimension: dim, clusters: clusters, seed: seed)
        return (0 ..< n).map { _ in gen.next() }
    }

    @Test(arguments: [VectorSimilarity.euclidean, .cosine, .dotProduct])
    func recallOnClusteredData(similarity: VectorSimilarity) throws {
        let all = Self.data(4_100, dim: 32, clusters: 20, seed: 7)
        let g = try Self.build(Array(all.prefix(4_000)), similarity)
        let r = try Self.recall(g, Array(all.suffix(100)), ef: 64)
        #expect(r >= 0.95, "recall \(r) with \(similarity)")
    }

    @Test func recallOnUniformRandomData() throws {
        let all = Self.data(4_100, dim: 24, clusters: 0, seed: 11)
        let g = try Self.build(Array(all.prefix(4_000)), .euclidean)
        let r = try Self.recall(g, Array(all.suffix(100)), ef: 100)
        #expect(r >= 0.95, "recall \(r)")
    }

    @Test func resultsAreSortedAndScoresMatchBruteForce() throws {
        let all = Self.data(1_000, dim: 16, clusters: 5, seed: 3)
        let g = try Self.build(all, .euclidean)
        let q = all[17]
        let got = try g.search(q, k: 5, ef: 50)
        #expect(got.first?.id == 17 && got.first?.distance == 0)
        #expect(zip(got, got.dropFirst()).allSatisfy { $0.distance <= $1.distance })
    }

    @Test func deletedNodesAreNeverReturnedAndRecallHolds() throws {
        let all = Self.data(4_100, dim: 32, clusters: 20, seed: 5)
        let g = try Self.build(Array(all.prefix(4_000)), .euclidean)
        var rng = SplitMix64(seed: 9)
        var deleted = Set<UInt32>()
        while deleted.count < 2_000 { deleted.insert(UInt32(rng.next() % 4_000)) }
        for d in deleted { g.markDeleted(d) }
        #expect(g.liveCount == 2_000)
        for q in all.suffix(100) {
            let found = try g.search(q, k: 10, ef: 64)
            #expect(found.count == 10)
            #expect(found.allSatisfy { !deleted.contains($0.id) })
        }
        // Half the graph deleted: still navigable, recall against the live nodes stays.
        let r = try Self.recall(g, Array(all.suffix(100)), ef: 64)
        #expect(r >= 0.95, "recall after deleting half: \(r)")
        // Deleting the entry point and every node but one still answers.
        let survivor = (0 ..< UInt32(4_000)).first { !deleted.contains($0) }!
        for id in 0 ..< UInt32(4_000) where id != survivor { g.markDeleted(id) }
        #expect(try g.search(all[0], k: 10).map(\.id) == [survivor])
    }

    @Test func compactionDropsDeletedNodesAndKeepsRecall() throws {
        let all = Self.data(3_100, dim: 16, clusters: 10, seed: 21)
        let g = try Self.build(Array(all.prefix(3_000)), .cosine)
        for id in stride(from: UInt32(0), to: 3_000, by: 3) { g.markDeleted(id) }
        let (c, old) = g.compacted()
        #expect(c.count == 2_000 && old.count == 2_000)
        #expect(old.allSatisfy { $0 % 3 != 0 })
        #expect(try Self.recall(c, Array(all.suffix(100)), ef: 64) >= 0.95)
    }

    /// Inserts `vectors` on one task while three others each search 300 of `queries`; every
    /// search must answer 10 distinct rows.
    static func insertWhileSearching(_ g: HNSWGraph, _ vectors: ArraySlice<[Float]>, queries: [[Float]]) async throws {
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for v in vectors { try g.insert(v) }
                return 0
            }
            for t in 0 ..< 3 {
                group.addTask {
                    var answered = 0
                    for i in 0 ..< 300 {
                        let found = try g.search(queries[(i * 7 + t) % queries.count], k: 10, ef: 32)
                        #expect(found.count == 10)
                        #expect(Set(found.map(\.id)).count == found.count)
                        answered += 1
                    }
                    return answered
                }
            }
            var total = 0
            for try await n in group { total += n }
            #expect(total == 900)
        }
    }

    @Test func searchesRunWhileInserting() async throws {
        let all = Self.data(6_000, dim: 16, clusters: 10, seed: 13)
        let g = try Self.build(Array(all.prefix(1_000)), .euclidean)
        try await Self.insertWhileSearching(g, all[1_000...], queries: all)
        #expect(g.count == 6_000)
        #expect(try Self.recall(g, Array(all.prefix(50)), ef: 64) >= 0.95)
    }

    @Test func badVectorsAreRefusedAndTheGraphIsUnchanged() throws {
        let g = HNSWGraph(dimension: 3, similarity: .cosine)
        try g.insert([1, 2, 3])
        #expect(throws: VectorError.wrongDimension(expected: 3, actual: 2)) { try g.insert([1, 2]) }
        #expect(throws: VectorError.nonFiniteComponent(index: 2)) { try g.insert([1, 2, .nan]) }
        #expect(throws: VectorError.zeroVectorForCosine) { try g.insert([0, 0, 0]) }
        #expect(throws: VectorError.zeroVectorForCosine) { try g.search([0, 0, 0], k: 1) }
        #expect(throws: VectorError.wrongDimension(expected: 3, actual: 4)) { try g.search([1, 0, 0, 0], k: 1) }
        #expect(g.count == 1)
        #expect(try g.search([1, 2, 3], k: 1).map(\.id) == [0])
    }

    @Test func writeAndReadBackGivesTheSameAnswers() throws {
        let dir = TemporaryDirectory("vector")
        let all = Self.data(2_100, dim: 24, clusters: 10, seed: 17)
        let g = try Self.build(Array(all.prefix(2_000)), .cosine)
        for id in stride(from: UInt32(0), to: 2_000, by: 10) { g.markDeleted(id) }
        let path = dir.path + "/graph.idx"
        let w = try IndexFileWriter(path: path, magic: "TEST", version: 1)
        try g.write(to: w)
        try w.finish()
        let r = try IndexFileReader(path: path, magic: "TEST", supportedVersions: 1 ... 1)
        let back = try HNSWGraph.read(from: r)
        #expect(back.count == g.count && back.liveCount == g.liveCount)
        for q in all.suffix(50) {
            #expect(try back.search(q, k: 10) == g.search(q, k: 10))
        }
        // Inserting after a reload continues the same graph.
        try back.insert(all[2_050])
        #expect(try back.search(all[2_050], k: 1).first?.id == 2_000)
    }

    @Test func damagedFilesAreDetected() throws {
        let dir = TemporaryDirectory("vector")
        let g = try Self.build(Self.data(500, dim: 8, clusters: 3, seed: 1), .euclidean)
        let path = dir.path + "/graph.idx"
        let w = try IndexFileWriter(path: path, magic: "TEST", version: 1)
        try g.write(to: w)
        try w.finish()
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        // A flipped bit anywhere, a truncated file, another magic: each refused with a reason.
        for offset in [0, 7, 100, bytes.count / 2, bytes.count - 1] {
            var copy = bytes
            copy[offset] ^= 0x10
            FileManager.default.createFile(atPath: path, contents: Data(copy))
            #expect(throws: VectorError.self) {
                _ = try HNSWGraph.read(from: IndexFileReader(path: path, magic: "TEST", supportedVersions: 1 ... 1))
            }
        }
        bytes.removeLast(30)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            _ = try HNSWGraph.read(from: IndexFileReader(path: path, magic: "TEST", supportedVersions: 1 ... 1))
            Issue.record("a truncated file was accepted")
        } catch {
            #expect("\(error)".contains(path))
        }
    }
}

