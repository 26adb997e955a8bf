import BasaltServer
import BasaltStorage
import Testing

@Suite("Thread counts follow the machine")
struct ThreadCountConfigTests {
    @Test func zeroMeansDerivedFromCores() {
        let c = NodeConfig()
        let cores = NodeConfig.availableCores
        #expect(cores >= 1)
        #expect(c.eventLoops == 0 && c.resolvedEventLoops == cores)
        #expect((1 ... 8).contains(c.resolvedConcurrentCompactors))
        #expect((1 ... 4).contains(c.resolvedMemtableFlushWriters))
    }

    @Test func yamlKeysSetAndRoundTrip() throws {
        let c = try NodeConfig().loading(yaml: "event_loops: 3\nconcurrent_compactors: 2\nmemtable_flush_writers: 1\n")
        #expect(c.resolvedEventLoops == 3 && c.resolvedConcurrentCompactors == 2 && c.resolvedMemtableFlushWriters == 1)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        var bad = NodeConfig()
        bad.eventLoops = -1
        #expect(bad.problems().contains("event_loops must be between 0 (follow the machine's cores) and 256"))
    }

    /// `commitlog_preallocate_segments`: on by default, reaches the storage engine, round-trips.
    @Test func commitLogPreallocation() throws {
        #expect(NodeConfig().commitLogPreallocateSegments)
        #expect(StorageComponent.storageConfig(NodeConfig()).commitLogPreallocation)
        let c = try NodeConfig().loading(yaml: "commitlog_preallocate_segments: false\n")
        #expect(!c.commitLogPreallocateSegments)
        #expect(!StorageComponent.storageConfig(c).commitLogPreallocation)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
    }

    /// `commitlog_total_space_in_mb`: 0 (the engine's own default) unless set; reaches the engine;
    /// round-trips; a negative value is a problem.
    @Test func commitLogTotalSpace() throws {
        #expect(NodeConfig().commitLogTotalSpaceMiB == 0)
        #expect(StorageComponent.storageConfig(NodeConfig()).commitLogTotalSpaceBytes == nil)
        let c = try NodeConfig().loading(yaml: "commitlog_total_space_in_mb: 2048\n")
        #expect(StorageComponent.storageConfig(c).commitLogTotalSpaceBytes == 2048 << 20)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        var bad = NodeConfig()
        bad.commitLogTotalSpaceMiB = -1
        #expect(bad.problems().contains("commitlog_total_space_in_mb must be 0 (automatic)…16777216"))
    }

    /// `background_cpu_share`: 0.25 by default, reaches the storage engine, and is range-checked.
    @Test func backgroundCPUShare() throws {
        #expect(NodeConfig().backgroundCPUShare == 0.25)
        let c = try NodeConfig().loading(yaml: "background_cpu_share: 0.5\n")
        #expect(c.backgroundCPUShare == 0.5)
        #expect(StorageComponent.storageConfig(c).backgroundCPUShare == 0.5)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        for v in [0.0, 0.01, 1.5, -1] {
            var bad = NodeConfig()
            bad.backgroundCPUShare = v
            #expect(bad.problems().contains("background_cpu_share must be 0.05…1 (1 = flushes and compactions never pace)"))
        }
        #expect(NodeConfig().problems().isEmpty)
    }
}
