import BasaltStorage
@testable import BasaltServer
import Foundation
import Testing

@Suite("Snapshot admin answers")
struct SnapshotAdminTests {
    static let entries = [
        SnapshotEntry(tag: "t1", keyspace: "ks", table: "a", directory: "/d/ks/a-1/snapshots/t1", files: 8, sizeOnDiskBytes: 3 << 20,
                      trueSizeBytes: 100),
        SnapshotEntry(tag: "t1", keyspace: "ks", table: "b", directory: "/d/ks/b-2/snapshots/t1", files: 1, sizeOnDiskBytes: 50,
                      trueSizeBytes: 50),
    ]

    @Test func listingsReadLikeNodetoolOrAsJSON() throws {
        let text = SnapshotComponent.render(Self.entries, format: nil, header: "Snapshot Details:\n")
        #expect(text.status == 200)
        #expect(String(decoding: text.body, as: UTF8.self) == """
            Snapshot Details:
            Snapshot name  Keyspace name  Column family name  True size  Size on disk
            t1  ks  a  100 bytes  3.00 MiB
            t1  ks  b  50 bytes  50 bytes

            Total TrueDiskSpaceUsed: 150 bytes

            """)
        let json = SnapshotComponent.render(Self.entries, format: "json", header: "")
        #expect(json.contentType == "application/json")
        #expect(try JSONDecoder().decode([SnapshotEntry].self, from: Data(json.body)) == Self.entries)
        #expect(SnapshotComponent.render([], format: "xml", header: "").status == 400)
        #expect(String(decoding: SnapshotComponent.render([], format: "text", header: "There are no snapshots\n").body, as: UTF8.self)
            == "There are no snapshots\n")
    }
}
