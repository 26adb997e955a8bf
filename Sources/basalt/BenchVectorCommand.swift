import ArgumentParser
import BasaltCore
import BasaltVector
import Foundation
import Synchronization

/// `basalt bench vector`: builds an HNSW index in process and sweeps ef_search, printing recall@k
/// against exact brute force and single-thread queries per second (one query at a time, as a
/// server answers them), with the build time and the index's bytes per vector.
///
/// With `--quantization int8` the graph walks int8 codes and reranks with float vectors; after the
/// build it is written to an index file and read back mapped, so the sweep runs with the float
/// vectors left in the file, and the reload line gives the bytes per vector left in the heap.
///
/// Data comes from `.fvecs` files (`--base`, `--queries`, optionally `--truth` as `.ivecs`) or is
/// generated: `--count` points around `--clusters` gaussian centres scaled by 4 with unit noise.
struct BenchVectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vector",
        abstract: "HNSW index benchmark: build time, memory, recall@k and single-thread QPS per ef_search."
    )

    @Option(help: "Base vectors (.fvecs). Without it, data is generated.")
    var base: String?
    @Option(help: "Query vectors (.fvecs).")
    var queries: String?
    @Option(help: "Exact neighbours of each query (.ivecs). Without it, computed by brute force.")
    var truth: String?
    @Option(help: "Generated data: number of vectors.")
    var count = 100_000
    @Option(help: "Generated data: dimensions.")
    var dimensions = 128
    @Option(name: .customLong("query-count"), help: "Generated data: number of queries.")
    var queryCount = 1_000
    @Option(help: "Generated data: gaussian centres (0: uniform).")
    var clusters = 100
    @Option(help: "Generated data: seed.")
    var seed: UInt64 = 42
    @Option(help: "euclidean, cosine or dot_product.")
    var metric = "euclidean"
    @Option(help: "HNSW M.")
    var m = HNSWParameters.defaultM
    @Option(name: .customLong("ef-construction"))
    var efConstruction = HNSWParameters.defaultEfConstruction
    @Option(name: .customLong("ef-search"), help: "Comma-separated ef_search values.")
    var efSearch = "10,20,40,80,120,160"
    @Option(help: "Neighbours per query (recall@k).")
    var k = 10
    @Option(help: "Passes over the queries per ef_search; the fastest is reported (the one least disturbed by the rest of the machine).")
    var passes = 3
    @Option(help: "Write the index to a file in this directory, read it back, and report both times (start-up cost).")
    var persist: String?
    @Option(help: "none or int8 (walk int8 codes, rerank with float vectors left in the mapped index file; implies writing the index to --persist or the temporary directory).")
    var quantization = "none"
    @Option(help: "With int8: candidates reranked with exact float distances (at least k).")
    var rerank = HNSWParameters.defaultRerank
    @Option(name: .customLong("insert-threads"), help: "Threads inserting at once (a replica indexes writes from several loops).")
    var insertThreads = 1

    func run() throws {
        guard let similarity = VectorSimilarity(rawValue: metric.uppercased()) else {
            throw ValidationError("unknown metric \(metric): euclidean, cosine or dot_product")
        }
        let efs = efSearch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !efs.isEmpty else { throw ValidationError("--ef-search needs at least one value") }
        let data = try loadData()
        let n = data.base.count / data.dimension, nq = data.queries.count / data.dimension
        guard let quantized = VectorQuantization(rawValue: quantization.uppercased()) else {
            throw ValidationError("unknown quantization \(quantization): none or int8")
        }
        let graph = HNSWGraph(dimension: data.dimension, similarity: similarity,
                              parameters: HNSWParameters(m: m, efConstruction: efConstruction, quantization: quantized, rerank: rerank), capacity: n)
        let start = ContinuousClock.now
        try insertAll(data, into: graph)
        let buildSeconds = (ContinuousClock.now - start).seconds
        let bytesPerVector = Double(graph.memoryBytes) / Double(n)
        print("vector build: vectors=\(n) dimensions=\(data.dimension) metric=\(metric) m=\(m) ef_construction=\(efConstruction) seconds=\(fmt(buildSeconds, 3)) bytes_per_vector=\(fmt(bytesPerVector, 1)) quantization=\(quantized.rawValue.lowercased())")
        var searched = graph
        if persist != nil || quantized != .none {
            searched = try persistAndReload(graph, directory: persist ?? FileManager.default.temporaryDirectory.path, mapped: quantized != .none)
        }
        let truth = try data.truth ?? exactNeighbours(graph, data.queries, nq)
        for ef in efs {
            var found = 0
            var results: [[Neighbor]] = []
            var seconds = Double.infinity
            for _ in 0 ..< max(1, passes) {
                results.removeAll(keepingCapacity: true)
                results.reserveCapacity(nq)
                let t0 = ContinuousClock.now
                try data.queries.withUnsafeBufferPointer { all in
                    for q in 0 ..< nq {
                        let query = UnsafeBufferPointer(rebasing: all[q * data.dimension ..< (q + 1) * data.dimension])
                        results.append(try searched.search(query, k: k, ef: ef, filter: AcceptAllNodes()))
                    }
                }
                seconds = min(seconds, (ContinuousClock.now - t0).seconds)
            }
            for q in 0 ..< nq {
                let expected = Set(truth[q].prefix(k))
                found += results[q].filter { expected.contains(Int($0.id)) }.count
            }
            let recall = Double(found) / Double(nq * k)
            print("vector search: ef_search=\(ef) recall@\(k)=\(fmt(recall, 4)) qps=\(fmt(Double(nq) / seconds, 1))")
        }
    }

    /// Inserts every base vector, from `insertThreads` threads taking the next vector in turn.
    func insertAll(_ data: DataSet, into graph: HNSWGraph) throws {
        let n = data.base.count / data.dimension, d = data.dimension
        let next = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)
        let base = data.base
        DispatchQueue.concurrentPerform(iterations: max(1, insertThreads)) { _ in
            base.withUnsafeBufferPointer { all in
                while true {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    if i >= n { return }
                    do { _ = try graph.insert(UnsafeBufferPointer(rebasing: all[i * d ..< (i + 1) * d])) } catch {
                        failure.withLock { $0 = error }
                        return
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Writes the graph as a node writes an SSTable's index segment, reads it back as a node does
    /// at start-up (checksum, structure checks), and returns the reloaded graph so the sweep below
    /// searches what was read.
    func persistAndReload(_ graph: HNSWGraph, directory: String, mapped: Bool) throws -> HNSWGraph {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/bench-vector-index-\(ProcessInfo.processInfo.processIdentifier).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t0 = ContinuousClock.now
        let writer = try IndexFileWriter(path: path, magic: "BVBN", version: HNSWGraph.formatVersion)
        try graph.write(to: writer)
        try writer.finish()
        let t1 = ContinuousClock.now
        let loaded = try HNSWGraph.read(from: IndexFileReader(path: path, magic: "BVBN", supportedVersions: HNSWGraph.readableFormatVersions, mapped: mapped))
        let t2 = ContinuousClock.now
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let n = Double(max(loaded.count, 1))
        print("vector persist: vectors=\(loaded.count) file_bytes=\(size) write_seconds=\(fmt((t1 - t0).seconds, 3)) load_seconds=\(fmt((t2 - t1).seconds, 3)) heap_bytes_per_vector=\(fmt(Double(loaded.memoryBytes) / n, 1)) mapped_bytes_per_vector=\(fmt(Double(loaded.mappedBytes) / n, 1))")
        return loaded
    }

    struct DataSet {
        var dimension: Int
        var base: [Float]
        var queries: [Float]
        var truth: [[Int]]?
    }

    func loadData() throws -> DataSet {
        if let base {
            guard let queries else { throw ValidationError("--base needs --queries") }
            let (d, b) = try VectorFiles.readFvecs(base)
            let (dq, q) = try VectorFiles.readFvecs(queries)
            guard d == dq else { throw ValidationError("base has \(d) dimensions, queries \(dq)") }
            return DataSet(dimension: d, base: b, queries: q, truth: try truth.map(VectorFiles.readIvecs))
        }
        var gen = ClusteredVectors(dimension: dimensions, clusters: clusters, seed: seed)
        let b = gen.flat(count)
        let q = gen.flat(queryCount)
        return DataSet(dimension: dimensions, base: b, queries: q, truth: nil)
    }

    func exactNeighbours(_ graph: HNSWGraph, _ queries: [Float], _ nq: Int) throws -> [[Int]] {
        let d = graph.dimension
        return try queries.withUnsafeBufferPointer { all in
            try (0 ..< nq).map { q in
                try graph.exactSearch(UnsafeBufferPointer(rebasing: all[q * d ..< (q + 1) * d]), k: k, filter: AcceptAllNodes()).map { Int($0.id) }
            }
        }
    }

    func fmt(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", x) }
}

/// The `.fvecs` / `.ivecs` formats of the ANN benchmark data sets: per vector a little-endian
/// int32 dimension, then that many little-endian float32 (or int32) components.
enum VectorFiles {
    static func readFvecs(_ path: String) throws -> (Int, [Float]) {
        let (d, words) = try readVecs(path)
        return (d, words.map { Float(bitPattern: $0) })
    }

    static func readIvecs(_ path: String) throws -> [[Int]] {
        let (d, words) = try readVecs(path)
        return stride(from: 0, to: words.count, by: d).map { words[$0 ..< $0 + d].map { Int(Int32(bitPattern: $0)) } }
    }

    private static func readVecs(_ path: String) throws -> (Int, [UInt32]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        var out: [UInt32] = []
        var dimension = 0
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                guard offset + 4 <= raw.count else { throw ValidationError("\(path): truncated at byte \(offset)") }
                let d = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                if dimension == 0 { dimension = d }
                guard d == dimension, d > 0, offset + 4 + 4 * d <= raw.count else {
                    throw ValidationError("\(path): bad vector header at byte \(offset)")
                }
                out.reserveCapacity(raw.count / 4)
                for i in 0 ..< d { out.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 + 4 * i, as: UInt32.self))) }
                offset += 4 + 4 * d
            }
        }
        return (dimension, out)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
