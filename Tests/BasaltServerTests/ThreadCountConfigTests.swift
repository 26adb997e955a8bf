import BasaltServer
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
}
