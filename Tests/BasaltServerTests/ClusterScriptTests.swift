import BasaltTestSupport
import BasaltServer
import Foundation
import Testing

/// The cluster/ scripts, run as a person would (from another directory), on 127.0.2.101–103.
struct ClusterScriptTests {
    /// Runs `cluster/<script> args` to completion (bounded) from another directory with this test's
    /// cluster settings.
    static func script(_ name: String, _ args: [String] = [], dir: String) async throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["BASALT_BIN"] = BasaltBinary.path
        env["BASALT_CLUSTER_DIR"] = dir
        env["BASALT_CLUSTER_PREFIX"] = "127.0.2.10"
        env["BASALT_CLUSTER_TIMEOUT"] = "120"
        let outputPath = dir + ".\(name)-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let p = try ChildProcess(BasaltBinary.repositoryRoot + "/cluster/" + name, args, outputPath: outputPath,
                                 directory: NSTemporaryDirectory(), environment: env)
        // The scripts bound their own waits; this only catches a hang.
        guard let status = await p.waitForExit(timeout: .seconds(240)) else {
            p.killAndReap()
            Issue.record("cluster/\(name) did not finish")
            return (-1, "")
        }
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    /// Whether `pid` is a live process (not gone, not a zombie waiting for its adoptive parent).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    static func pids(_ dir: String) -> [Int32] {
        (1 ... 3).compactMap { i in
            (try? String(contentsOfFile: "\(dir)/node\(i)/pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func upStatusKillStartPauseDown() async throws {
        let tmp = TemporaryDirectory("cluster-scripts")
        let dir = tmp.path + "/cluster"
        var everyPid = Set<Int32>()
        // Whatever happens below, no node outlives the test.
        defer {
            for pid in everyPid.union(Self.pids(dir)) where Self.isAlive(pid) { kill(pid, SIGKILL) }
        }
        let up = try await Self.script("up", ["3"], dir: dir)
        everyPid.formUnion(Self.pids(dir))
        #expect(up.status == 0, "\(up.output)")
        #expect(up.output.contains("3 nodes up and normal"))

        let status = try await Self.script("status", dir: dir)
        #expect(status.status == 0)
        for i in 1 ... 3 {
            #expect(status.output.contains("node\(i)   127.0.2.10\(i)     running"), "\(status.output)")
            #expect(status.output.range(of: "\nUN  127.0.2.10\(i) ") != nil, "\(status.output)")
        }
        for i in 1 ... 3 {
            let yaml = try String(contentsOfFile: "\(dir)/node\(i)/basalt.yaml", encoding: .utf8)
            #expect(yaml.contains("listen_address: 127.0.2.10\(i)\n") && yaml.contains("seeds: [127.0.2.101]"))
        }

        #expect(try await Self.script("kill", ["2"], dir: dir).status == 0)
        #expect(try await Self.script("status", dir: dir).output.contains("node2   127.0.2.102     stopped"))
        let start = try await Self.script("start", ["2"], dir: dir)
        everyPid.formUnion(Self.pids(dir))
        #expect(start.status == 0, "\(start.output)")
        #expect(start.output.contains("node 2 up and normal"))

        #expect(try await Self.script("pause", ["3"], dir: dir).status == 0)
        #expect(try await Self.script("status", dir: dir).output.contains("node3   127.0.2.103     paused"))
        #expect(try await Self.script("resume", ["3"], dir: dir).status == 0)
        #expect(try await Self.script("start", ["7"], dir: dir).status == 1)
        #expect(try await Self.script("kill", ["x"], dir: dir).status == 1)

        let pids = Self.pids(dir)
        #expect(pids.count == 3)
        let down = try await Self.script("down", dir: dir)
        #expect(down.status == 0 && down.output.contains("stopped 3 nodes"))
        for pid in everyPid { #expect(!Self.isAlive(pid), "pid \(pid) still running after down") }
        #expect(Self.pids(dir).isEmpty)
        #expect(try String(contentsOfFile: "\(dir)/node1/basalt.log", encoding: .utf8).contains("node stopped"))
    }
}
