import BasaltTestSupport
import BasaltServer
import Foundation
import Testing

/// `basalt server` refuses to start with one clear line on stderr and exit status 1.
struct StartupFailureTests {
    /// Runs `basalt server args` to completion (bounded) and returns its status and output.
    static func run(_ args: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stderr: String) {
        let dir = TemporaryDirectory("startup-output")
        let output = dir.path + "/output"
        let p = try ChildProcess(BasaltBinary.path, ["server"] + args, outputPath: output)
        guard let status = await p.waitForExit(timeout: timeout) else {
            p.killAndReap()
            Issue.record("basalt server \(args) did not exit")
            return (-1, "")
        }
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    @Test func corruptIdentityIsRefused() async throws {
        let dir = TemporaryDirectory("corrupt-identity")
        let data = dir.path + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data([1, 2, 3, 4, 5, 6, 7, 8, 9]).write(to: URL(fileURLWithPath: data + "/node-identity"))
        let host = ServerTestAddress.host(30)
        let r = try await Self.run(["--listen-address", host, "--seeds", host, "--data-dir", data, "--log-level", "error"])
        #expect(r.status == 1)
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("basalt server: cannot start: node identity: \(data)/node-identity is corrupt"))
        #expect(last.contains("refusing to start with a new identity"))
    }

    @Test func badConfigurationNamesTheSetting() async throws {
        let dir = TemporaryDirectory("bad-config")
        let file = dir.path + "/basalt.yaml"
        try "num_tokens: lots\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await Self.run(["--config", file])
        #expect(r.status == 1)
        #expect(r.stderr == "basalt server: invalid configuration: \(file): num_tokens must be an integer\n")
        let flags = try await Self.run(["--internode-port", "70000", "--data-dir", dir.path + "/d", "--log-level", "error"])
        #expect(flags.status == 1)
        #expect(flags.stderr.hasSuffix("basalt server: cannot start: invalid configuration: storage_port must be 1…65535, got 70000\n"))
    }

    @Test func addressInUseIsReported() async throws {
        let processes = ServerProcesses("address-in-use")
        defer { processes.killAll() }
        let host = ServerTestAddress.host(31)
        try processes.start(host, seeds: host)
        let probe = AdminProbe()
        do {
            try await waitUntil("the first node to answer", timeout: .seconds(60)) {
                await probe.status(host) == nil ? "no answer" : nil
            }
        } catch {
            await probe.close()
            Issue.record("\(error); the node's log ends: \(processes.log(host).suffix(3000))")
            return
        }
        await probe.close()
        let r = try await Self.run(["--listen-address", host, "--seeds", host, "--data-dir", processes.directory.path + "/other",
                                    "--log-level", "error"])
        #expect(r.status == 1)
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("basalt server: cannot start: internode port: cannot"))
        #expect(last.contains("\(host):7000") && last.contains("EADDRINUSE"))
    }
}
