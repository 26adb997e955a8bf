import BasaltCore
@testable import BasaltServer
import BasaltStorage
import Testing

@Suite("basalt load: source directories and partition pieces")
struct SSTableLoadSourceTests {
    @Test func keyspaceAndTableComeFromThePathAsSSTableLoaderReadsIt() {
        let hex = String(repeating: "ab", count: 16)
        #expect(SSTableLoadSource.inferTable(from: "/d/data/ks/t-\(hex)") ?? ("", "") == ("ks", "t"))
        #expect(SSTableLoadSource.inferTable(from: "/d/data/ks/t-\(hex)/") ?? ("", "") == ("ks", "t"))
        #expect(SSTableLoadSource.inferTable(from: "/d/data/ks/t-\(hex)/snapshots/tag1") ?? ("", "") == ("ks", "t"))
        #expect(SSTableLoadSource.inferTable(from: "/d/data/ks/t-\(hex)/backups") ?? ("", "") == ("ks", "t"))
        #expect(SSTableLoadSource.inferTable(from: "/backup/ks/plain_table") ?? ("", "") == ("ks", "plain_table"))
        // A dash not followed by a 32-digit id is part of no identifier.
        #expect(SSTableLoadSource.inferTable(from: "/backup/ks/t-1234") == nil)
        #expect(SSTableLoadSource.inferTable(from: "/backup/ks/bad name!") == nil)
        #expect(SSTableLoadSource.inferTable(from: "onlyone") == nil)
    }

    @Test func wrongPathsAreRefusedWithTheirReason() {
        #expect(throws: SSTableLoadSource.Problem.notADirectory("/no/such/dir")) { try SSTableLoadSource.open("/no/such/dir") }
    }

    @Test func largePartitionsTravelInPiecesThatMergeBackToTheWhole() {
        let schema = TableSchema(keyspace: "ks", name: "t", id: UUIDValue(msb: 1, lsb: 2), columns: [
            ColumnDefinition(name: "k", type: .int, kind: .partitionKey, position: 0),
            ColumnDefinition(name: "c", type: .int, kind: .clustering, position: 0),
            ColumnDefinition(name: "v", type: .blob, kind: .regular),
        ])
        let cmp = ClusteringComparator(schema)
        let rows = (0 ..< 500).map { i in
            Row(clustering: [try! CQLType.int.encode(.int(Int32(i)))], liveness: LivenessInfo(timestamp: 10),
                cells: [.live(column: "v", timestamp: 10 + Int64(i), value: [UInt8](repeating: UInt8(i & 0xFF), count: 1000))])
        }
        let whole = PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 5, localDeletionTime: 1), rows: rows)
        let pieces = whole.pieces(maxBytes: 64 << 10)
        #expect(pieces.count >= 8)
        #expect(pieces.allSatisfy { $0.encodedSize <= 64 << 10 })
        #expect(pieces.filter { $0.partitionDeletion != nil }.count == 1)
        #expect(PartitionUpdate.merge(pieces, cmp).normalized(cmp) == whole.normalized(cmp))
        #expect(whole.pieces(maxBytes: 1 << 30) == [whole])
    }
}
