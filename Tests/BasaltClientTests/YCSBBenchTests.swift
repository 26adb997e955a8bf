import BasaltTestSupport
import Foundation
import Testing

/// `basalt bench ycsb` against a real `basalt cql-standalone`: the load phase inserts every record,
/// the run phase mixes the workload's operations and reports each one, in the closed and the open
/// loop, with a JSON summary and `.hgrm` percentile files.
@Suite(.timeLimit(.minutes(3)))
struct YCSBBenchTests {
    struct Summary: Decodable {
        struct Phase: Decodable {
            struct Latency: Decodable {
                var operations: Int
                var errors: Int
                var missing: Int
                var p50: Double
                var p99: Double
            }

            var phase: String
            var mode: String
            var opsPerSecond: Double
            var overall: Latency
            var perOperation: [String: Latency]
        }

        var workload: String
        var phases: [Phase]
    }

    func ycsb(_ node: StandaloneNode, _ arguments: [String]) async throws -> (status: Int32?, output: String, summary: Summary?, prefix: String) {
        let out = node.directory.path + "/ycsb-\(UUID().uuidString.prefix(6))"
        let p = try ChildProcess(BasaltBinary.path, ["bench", "ycsb", "--hosts", node.host, "--replication-factor", "1", "--records", "2000",
                                                       "--concurrency", "16", "--json-file", out + ".json", "--hgrm", out] + arguments,
                                   outputPath: out + ".log")
        defer { p.killAndReap() }
        let status = await p.waitForExit(timeout: .seconds(120))
        let output = (try? String(contentsOfFile: out + ".log", encoding: .utf8)) ?? ""
        let summary = (try? Data(contentsOf: URL(fileURLWithPath: out + ".json"))).flatMap { try? JSONDecoder().decode(Summary.self, from: $0) }
        return (status, output, summary, out)
    }

    @Test func loadsEveryRecordThenMixesReadsAndUpdates() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(22))
        defer { node.stop() }
        _ = try await node.session()
        let r = try await ycsb(node, ["--workload", "a", "--seconds", "1"])
        #expect(r.status == 0, "\(r.output)")
        guard let phases = r.summary?.phases, phases.count == 2 else { Issue.record("no JSON summary: \(r.output)"); return }
        #expect(phases[0].phase == "load" && phases[0].perOperation.keys.sorted() == ["INSERT"])
        #expect(phases[0].overall.operations == 2000 && phases[0].overall.errors == 0, "\(r.output)")
        let run = phases[1]
        #expect(run.perOperation.keys.sorted() == ["READ", "UPDATE"], "\(r.output)")
        let reads = run.perOperation["READ"]?.operations ?? 0, updates = run.perOperation["UPDATE"]?.operations ?? 0
        #expect(reads > 0 && updates > 0 && run.overall.errors == 0, "\(r.output)")
        #expect(run.overall.missing == 0, "every record read was loaded")
        #expect(r.output.contains("[OVERALL] run (closed loop, 16 in flight)"), "\(r.output)")
        for file in ["-load.hgrm", "-load-INSERT.hgrm", "-run.hgrm", "-run-READ.hgrm", "-run-UPDATE.hgrm"] {
            let text = (try? String(contentsOfFile: r.prefix + file, encoding: .utf8)) ?? ""
            #expect(text.contains("Percentile") && text.contains("#[Mean"), "\(file): \(text.prefix(200))")
        }
    }

    @Test func scansInsertsAndReadModifyWritesInTheOpenLoop() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(23))
        defer { node.stop() }
        _ = try await node.session()
        let loaded = try await ycsb(node, ["--workload", "e", "--phases", "load"])
        #expect(loaded.status == 0, "\(loaded.output)")
        let e = try await ycsb(node, ["--workload", "e", "--phases", "run", "--seconds", "2", "--target", "50", "--max-scan-length", "10"])
        #expect(e.status == 0, "\(e.output)")
        let scan = try #require(e.summary?.phases.first)
        #expect(scan.mode.hasPrefix("open loop at 50 ops/s"))
        #expect((scan.perOperation["SCAN"]?.operations ?? 0) > 0 && scan.overall.errors == 0, "\(e.output)")
        let f = try await ycsb(node, ["--workload", "f", "--phases", "run", "--seconds", "1"])
        let rmw = try #require(f.summary?.phases.first)
        #expect((rmw.perOperation["READ-MODIFY-WRITE"]?.operations ?? 0) > 0 && rmw.overall.errors == 0, "\(f.output)")
    }
}
