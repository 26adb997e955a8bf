import BasaltTestSupport
import Foundation
import Testing

/// `basalt bench cql` against a real `basalt cql-standalone`: it finishes within its bounds,
/// prints one line per run and a JSON summary, and counts errors instead of failing on them.
@Suite(.timeLimit(.minutes(3)))
struct BenchCommandTests {
    struct Summary: Decodable {
        struct Run: Decodable {
            struct Counts: Decodable {
                var ok: Int
                var missing: Int
                var timeouts: Int
                var unavailable: Int
                var other: Int
            }

            var workload: String
            var consistency: String
            var mode: String
            var opsPerSecond: Double
            var seconds: Double
            var counts: Counts
        }

        var runs: [Run]
    }

    func bench(_ node: StandaloneNode, _ arguments: [String]) async throws -> (status: Int32?, output: String, summary: Summary?) {
        let out = node.directory.path + "/bench-\(UUID().uuidString.prefix(6))"
        let p = try ChildProcess(BasaltBinary.path, ["bench", "cql", "--hosts", node.host, "--keys", "2000", "--concurrency", "32",
                                                       "--warmup-seconds", "0", "--json-file", out + ".json"] + arguments,
                                   outputPath: out + ".log")
        defer { p.killAndReap() }
        let status = await p.waitForExit(timeout: .seconds(60))
        let output = (try? String(contentsOfFile: out + ".log", encoding: .utf8)) ?? ""
        let summary = (try? Data(contentsOf: URL(fileURLWithPath: out + ".json"))).flatMap { try? JSONDecoder().decode(Summary.self, from: $0) }
        return (status, output, summary)
    }

    @Test func writesThenReadsWhatItWrote() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(20))
        defer { node.stop() }
        _ = try await node.session()  // serving
        let r = try await bench(node, ["--replication-factor", "1", "--seconds", "0.5", "--consistency", "one"])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n").filter { $0.contains(" ops/s  p50 ") }
        #expect(lines.count == 4, "\(r.output)")
        #expect(lines.first?.hasPrefix("write ONE (closed loop, 32 in flight): ") == true)
        guard let runs = r.summary?.runs else { Issue.record("no JSON summary: \(r.output)"); return }
        #expect(runs.map(\.workload) == ["write", "write", "read", "read"])
        #expect(runs.map(\.mode) == ["closed-loop", "open-loop", "closed-loop", "open-loop"])
        for run in runs {
            #expect(run.counts.ok > 0 && run.opsPerSecond > 0)
            // `--seconds 0.5` is honoured (what is still in flight at the end only adds its wait).
            #expect(run.seconds >= 0.5 && run.seconds < 5, "\(run.seconds)")
            #expect(run.counts.timeouts + run.counts.unavailable + run.counts.other == 0)
            #expect(run.counts.missing == 0, "reads ask only for keys written")
        }
    }

    /// QUORUM at RF 3 on one node: every request is Unavailable, counted, and the run ends normally.
    @Test func errorsAreCountedNotFatal() async throws {
        let node = try StandaloneNode(host: ClientTestAddress.standalone(21))
        defer { node.stop() }
        _ = try await node.session()
        let r = try await bench(node, ["--replication-factor", "3", "--ops", "300", "--consistency", "QUORUM", "--workloads", "write",
                                       "--latency-fraction", "0"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("write QUORUM (closed loop, 32 in flight): 0 ops/s"), "\(r.output)")
        guard let run = r.summary?.runs.first else { Issue.record("no JSON summary: \(r.output)"); return }
        #expect(run.counts.unavailable == 300 && run.counts.ok == 0, "\(r.output)")
    }
}
