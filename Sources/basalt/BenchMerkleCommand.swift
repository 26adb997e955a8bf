import ArgumentParser
import BasaltCluster
import BasaltCore
import BasaltStorage
import Foundation
import Logging

/// `basalt bench merkle --dir D`: times repair's validation — building Merkle trees over every
/// partition of the `bench.kv` table that `basalt bench storage --dir D` wrote — split into
/// `--ranges` equal token ranges as a node's vnode ranges would be, and reports GB per second of
/// SSTable data and seconds per GB.
struct BenchMerkleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merkle", abstract: "Time Merkle tree building (repair validation) over data written by `bench storage --dir`.")

    @Option(help: "A data directory written by `basalt bench storage --dir`.") var dir: String
    @Option(help: "Tree depth.") var depth = 12
    @Option(help: "Equal token ranges to build one tree each for.") var ranges = 16

    func run() throws {
        var logger = Logger(label: "basalt.bench.merkle")
        logger.logLevel = .warning
        let schema = TableSchema(keyspace: "bench", name: "kv", id: BenchStorageCommand.schemaId, columns: [
            ColumnDefinition(name: "key", type: .blob, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "value", type: .blob, kind: .regular),
        ])
        let (engine, _) = try StorageEngine.open(directory: dir, tables: [schema], logger: logger)
        defer { engine.close(flush: false) }
        try engine.flush(tableId: schema.id)
        let bytes = try engine.liveDataBytes(tableId: schema.id)
        let step = UInt64.max / UInt64(max(1, ranges))
        var start = Token.min
        var partitions = 0
        let began = ContinuousClock.now
        for i in 0 ..< max(1, ranges) {
            let end = i == ranges - 1 ? Token.min : Token(Int64.min &+ Int64(bitPattern: step &* UInt64(i + 1)))
            let request = ValidationRequest(keyspace: "bench", table: "kv", tableId: schema.id, range: TokenRange(start: start, end: end), depth: depth)
            partitions += try MerkleTree.build(engine: engine, request: request).partitions
            start = end
        }
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let gb = Double(bytes) / 1e9
        print(String(format: "merkle: %d partitions, %.3f GB of SSTables, %d trees of depth %d in %.2f s: %.1f s per GB, %.0f MB/s, %.0f partitions/s",
                     partitions, gb, ranges, depth, seconds, seconds / max(gb, 1e-9), Double(bytes) / 1e6 / seconds, Double(partitions) / seconds))
    }
}
