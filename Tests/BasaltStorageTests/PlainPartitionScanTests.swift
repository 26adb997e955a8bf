import BasaltCore
@testable import BasaltStorage
import Testing

/// The check that lets compaction copy a partition's bytes without decoding them.
@Suite("Plain partition scan")
struct PlainPartitionScanTests {
    func range(_ p: PartitionUpdate) -> (min: Int64, max: Int64)? {
        var w = ByteWriter(capacity: 64)
        StorageCodec.writePartition(p, &w)
        return StorageCodec.plainLiveTimestampRange(ByteReader(w.bytes))
    }

    @Test func plainLiveDataGivesItsTimestampRange() {
        let p = PartitionUpdate(staticRow: Row(clustering: [], cells: [.live(column: "s", timestamp: 3, value: [1])]),
                                rows: [Row(clustering: [[1], [2, 3]], liveness: LivenessInfo(timestamp: 7), cells: [
                                    .live(column: "a", timestamp: 5, value: [9]), .live(column: "m", path: [1], timestamp: 9, value: []),
                                ])])
        let r = range(p)
        #expect(r?.min == 3 && r?.max == 9)
    }

    @Test func anythingPurgeableOrMalformedIsRefused() {
        let row = Row(clustering: [], cells: [.live(column: "a", timestamp: 1, value: [1])])
        #expect(range(PartitionUpdate(partitionDeletion: DeletionTime(markedForDeleteAt: 1, localDeletionTime: 1), rows: [row])) == nil)
        #expect(range(PartitionUpdate(rows: [Row(clustering: [], cells: [.tombstone(column: "a", timestamp: 1, deletedAt: 1)])])) == nil)
        #expect(range(PartitionUpdate(rows: [Row(clustering: [], cells: [.live(column: "a", timestamp: 1, value: [1], ttl: 5, now: 1)])])) == nil)
        #expect(range(PartitionUpdate(rows: [Row(clustering: [], liveness: LivenessInfo(timestamp: 1, ttl: 5, localExpirationTime: 6), cells: [])])) == nil)
        #expect(range(PartitionUpdate(rows: [Row(clustering: [], deletion: DeletionTime(markedForDeleteAt: 1, localDeletionTime: 1))])) == nil)
        var w = ByteWriter(capacity: 64)
        StorageCodec.writePartition(PartitionUpdate(rows: [row]), &w)
        for cut in 0 ..< w.bytes.count {
            #expect(StorageCodec.plainLiveTimestampRange(ByteReader(Array(w.bytes[0 ..< cut]))) == nil)
        }
        #expect(StorageCodec.plainLiveTimestampRange(ByteReader(w.bytes + [0])) == nil)
    }
}
