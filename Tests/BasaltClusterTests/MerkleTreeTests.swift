import BasaltCore
import Foundation
@testable import BasaltCluster
import BasaltStorage
import BasaltTestSupport
import Logging
import Testing

@Suite("Merkle trees")
struct MerkleTreeTests {
    static let schema = TableSchema(keyspace: "ks", name: "t", id: UUIDValue(msb: 7, lsb: 7), columns: [
        ColumnDefinition(name: "k", type: .int, kind: .partitionKey, position: 0),
        ColumnDefinition(name: "c", type: .int, kind: .clustering, position: 0),
        ColumnDefinition(name: "v", type: .text, kind: .regular),
    ])

    static func key(_ k: Int) -> [UInt8] { try! CQLType.int.encode(.int(Int32(k))) }

    static func row(_ k: Int, c: Int, ts: Int64, v: String) -> Mutation {
        Mutation(schema: schema, partitionKey: key(k), update: PartitionUpdate(rows: [
            Row(clustering: [try! CQLType.int.encode(.int(Int32(c)))], liveness: LivenessInfo(timestamp: ts),
                cells: [.live(column: "v", timestamp: ts, value: Array(v.utf8))]),
        ]))
    }

    static func openEngine(_ dir: TemporaryDirectory) throws -> StorageEngine {
        var config = StorageConfig()
        config.commitLogSync = .batch
        let (e, _) = try StorageEngine.open(directory: dir.path, config: config, tables: [schema], logger: Logger(label: "test"))
        return e
    }

    static func tree(_ e: StorageEngine, _ range: TokenRange, depth: Int = 10) throws -> MerkleTree {
        try MerkleTree.build(engine: e, request: ValidationRequest(keyspace: "ks", table: "t", tableId: schema.id, range: range, depth: depth))
    }

    @Test func leavesCutTheRangeIntoContiguousPiecesThatHoldTheirTokens() {
        let ranges = [
            TokenRange(start: Token(-1000), end: Token(5000)),
            TokenRange(start: Token(.max - 10_000), end: Token(.min + 123_456)),  // wraps
            TokenRange(start: Token(42), end: Token(42)),  // the whole ring
            TokenRange(start: Token(.min), end: Token(.max)),
            TokenRange(start: Token(10), end: Token(15)),  // five tokens
        ]
        var rng = SplitMix64(seed: 11)
        for range in ranges {
            let tree = MerkleTree(range: range, depth: 6)
            #expect(tree.leafRange(0).start == range.start)
            #expect(tree.leafRange(tree.leaves.count - 1).end == range.end)
            for i in 1 ..< tree.leaves.count {
                #expect(tree.leafRange(i).start == tree.leafRange(i - 1).end)
                #expect(tree.leafRange(i).start != tree.leafRange(i).end)  // never an empty (whole-ring) leaf
            }
            for _ in 0 ..< 500 {
                var t = Token(Int64(bitPattern: rng.next()))
                if !range.contains(t) { t = range.end }
                let leaf = tree.leafIndex(for: t)
                #expect(tree.leafRange(leaf).contains(t), "token \(t) in leaf \(leaf) \(tree.leafRange(leaf)) of \(range)")
            }
        }
        #expect(MerkleTree(range: ranges[4], depth: 6).depth == 2)  // at least one token per leaf
        #expect(MerkleTree(range: ranges[3], depth: 40).depth == MerkleTree.maxDepth)
        #expect(MerkleTree(range: ranges[0], depth: 40).depth == 12)  // 6,000 tokens: 4,096 leaves
    }

    @Test func equalDataGivesEqualTreesAndAChangedPartitionNamesItsLeaf() throws {
        let d1 = TemporaryDirectory("merkle-a"), d2 = TemporaryDirectory("merkle-b")
        let a = try Self.openEngine(d1), b = try Self.openEngine(d2)
        defer { a.close(); b.close() }
        for k in 0 ..< 500 {
            try a.apply(Self.row(k, c: 0, ts: 100, v: "x\(k)"))
            try b.apply(Self.row(k, c: 0, ts: 100, v: "x\(k)"))
        }
        try a.flush(tableId: Self.schema.id)  // one on disk, the other still in its memtable
        let full = TokenRange(start: .min, end: .min)
        let ta = try Self.tree(a, full), tb = try Self.tree(b, full)
        #expect(ta.partitions == 500 && tb.partitions == 500)
        #expect(ta == tb && ta.root == tb.root)
        #expect(ta.differences(from: tb).isEmpty)

        // Same value, newer timestamp: a difference (timestamps are hashed).
        try b.apply(Self.row(17, c: 0, ts: 101, v: "x17"))
        let token17 = Murmur3.token(Self.key(17))
        var diff = ta.differences(from: try Self.tree(b, full))
        #expect(diff.count == 1 && diff[0].contains(token17))
        #expect(ta.differences(from: MerkleTree(range: full, depth: 10), whereThisHasData: true).count >= 1)
        #expect(MerkleTree(range: full, depth: 10).differences(from: ta, whereThisHasData: true).isEmpty)  // nothing to send
        // A tombstone alone is a difference too; repairing both leaves makes the trees equal again.
        try a.apply(Mutation(schema: Self.schema, partitionKey: Self.key(300),
                             update: PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 50, localDeletionTime: 1))))
        diff = try Self.tree(a, full).differences(from: try Self.tree(b, full))
        #expect(diff.count == 2 && diff.contains { $0.contains(Murmur3.token(Self.key(300))) })
        try a.apply(Self.row(17, c: 0, ts: 101, v: "x17"))
        try b.apply(Mutation(schema: Self.schema, partitionKey: Self.key(300),
                             update: PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 50, localDeletionTime: 1))))
        #expect(try Self.tree(a, full) == (try Self.tree(b, full)))

        // A tree over part of the ring counts only its partitions.
        let part = TokenRange(start: Token(0), end: Token(.max / 2))
        let inPart = (0 ..< 500).filter { part.contains(Murmur3.token(Self.key($0))) }.count
        #expect(try Self.tree(a, part).partitions == inPart)
    }

    @Test func aTreeBuiltAcrossAQuarantineHashesOnlyWhatIsLeft() throws {
        // Every partition in one SSTable whose last quarter is damaged: the partitions before the
        // damage read fine, then the whole SSTable is quarantined. The tree must not count them.
        let dir = TemporaryDirectory("merkle-damaged")
        let e = try Self.openEngine(dir)
        defer { e.close() }
        for k in 0 ..< 500 { try e.apply(Self.row(k, c: 0, ts: 100, v: String(repeating: "x", count: 200) + "\(k)")) }
        try e.flush(tableId: Self.schema.id)
        let data = try #require(try e.sstablePaths(tableId: Self.schema.id).first)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int)
        let handle = try #require(FileHandle(forWritingAtPath: data))
        try handle.seek(toOffset: UInt64(size * 3 / 4))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 64))
        try handle.close()
        try e.apply(Self.row(1000, c: 0, ts: 100, v: "kept"))  // in the memtable: still there afterwards

        let full = TokenRange(start: .min, end: .min)
        let tree = try Self.tree(e, full)
        #expect(try e.quarantineReports(tableId: Self.schema.id).count == 1)
        #expect(tree.partitions == 1)
        #expect(tree == (try Self.tree(e, full)))
    }

    @Test func treesTravelIntactAndBadEncodingsAreRefused() throws {
        var tree = MerkleTree(range: TokenRange(start: Token(-5), end: Token(1 << 40)), depth: 8)
        tree.add(token: Token(77), digest: ResultDigest((1, 2)))
        tree.add(token: Token(1 << 39), digest: ResultDigest((3, 4)))
        let bytes = tree.encoded()
        #expect(try MerkleTree.decode(bytes) == tree)
        #expect(throws: DecodeError.self) { try MerkleTree.decode(Array(bytes.dropLast())) }
        var deeper = bytes
        deeper[17] = 30
        #expect(throws: DecodeError.self) { try MerkleTree.decode(deeper) }
        let request = ValidationRequest(keyspace: "ks", table: "t", tableId: UUIDValue(msb: 1, lsb: 2), range: tree.range, depth: 8)
        #expect(try ValidationRequest.decode(request.encoded()) == request)
        #expect(throws: DecodeError.self) { try ValidationRequest.decode(request.encoded() + [0]) }
    }
}
