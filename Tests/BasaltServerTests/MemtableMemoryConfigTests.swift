import BasaltServer
import BasaltStorage
import Testing

@Suite("Memtable memory configuration")
struct MemtableMemoryConfigTests {
    @Test func heapSpaceAndCleanupThresholdSetTheEngineLimits() throws {
        let c = try NodeConfig().loading(yaml: "memtable_size_in_mb: 8\nmemtable_heap_space_in_mb: 48\nmemtable_cleanup_threshold: 0.25\n")
        #expect(c.problems().isEmpty)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        let s = StorageComponent.storageConfig(c)
        #expect(s.memtableHeapSpaceBytes == 48 << 20)
        #expect(s.memtableTotalLimitBytes == 12 << 20)
        #expect(s.memtableSizeLimitBytes == 8 << 20)
        // Unset: writes wait above twice the flush threshold, as before.
        let d = StorageComponent.storageConfig(NodeConfig())
        #expect(d.memtableHeapSpaceBytes == nil && d.memtableTotalLimitBytes == 512 << 20)
    }

    @Test func badValuesAreNamed() throws {
        #expect(throws: NodeConfigError(["memtable_cleanup_threshold must be a number"])) {
            try NodeConfig().loading(yaml: "memtable_cleanup_threshold: lots\n")
        }
        var c = NodeConfig()
        c.memtableCleanupThreshold = 0
        c.memtableHeapSpaceMiB = -1
        #expect(c.problems().contains("memtable_cleanup_threshold must be above 0 and at most 1"))
        #expect(c.problems().contains("memtable_heap_space_in_mb must be 0 (automatic)…1048576"))
    }
}
