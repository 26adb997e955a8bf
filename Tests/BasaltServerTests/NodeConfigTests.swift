import BasaltNet
import Logging
import Testing
@testable import BasaltServer

struct NodeConfigTests {
    @Test func defaultsAreValidAndCassandraLike() {
        let c = NodeConfig()
        #expect(c.problems().isEmpty)
        #expect(c.nativePort == 9042 && c.internodePort == 7000 && c.numTokens == 16)
        #expect(c.dataCenter == "datacenter1" && c.rack == "rack1" && c.commitLogSync == .group)
    }

    @Test func yamlOverridesDefaultsAndRoundTrips() throws {
        let c = try NodeConfig().loading(yaml: """
            cluster_name: 'Test Cluster'
            listen_address: 127.0.0.3
            seeds: "127.0.0.1, 127.0.0.2:7001"
            num_tokens: 8
            dc: dc2
            commitlog_sync: periodic
            hinted_handoff_enabled: false
            """)
        #expect(c.clusterName == "Test Cluster" && c.listenAddress == "127.0.0.3" && c.numTokens == 8)
        #expect(c.seeds == ["127.0.0.1", "127.0.0.2:7001"])
        #expect(c.seedAddresses.map { "\($0.host):\($0.port)" } == ["127.0.0.1:7000", "127.0.0.2:7001"])
        #expect(c.dataCenter == "dc2" && c.commitLogSync == .periodic && !c.hintedHandoffEnabled)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        let list = try NodeConfig().loading(yaml: "seeds:\n  - 127.0.0.5\n  - 127.0.0.6\n")
        #expect(list.seeds == ["127.0.0.5", "127.0.0.6"])
    }

    @Test func badFilesNameTheSetting() {
        #expect(throws: NodeConfigError(["unknown setting 'colour' (known: \(NodeConfig.yamlKeys.joined(separator: ", ")))"])) {
            try NodeConfig().loading(yaml: "colour: blue")
        }
        #expect(throws: NodeConfigError(["num_tokens must be an integer"])) { try NodeConfig().loading(yaml: "num_tokens: many") }
        #expect(throws: NodeConfigError(["commitlog_sync must be group, batch or periodic"])) {
            try NodeConfig().loading(yaml: "commitlog_sync: sometimes")
        }
        #expect(throws: NodeConfigError.self) { try NodeConfig().loading(yaml: "- a\n- b") }
        #expect(throws: NodeConfigError.self) { try NodeConfig().loading(yaml: "key: [unclosed") }
    }

    @Test func failurePoliciesAndClockOffsetHaveCassandraNamesAndDefaults() throws {
        let d = NodeConfig()
        #expect(d.commitFailurePolicy == .stop && d.diskFailurePolicy == .bestEffort && d.maxClockOffsetMillis == 500)
        let c = try NodeConfig().loading(yaml: "commit_failure_policy: stop_commit\ndisk_failure_policy: stop_paranoid\nmax_clock_offset_ms: 250\n")
        #expect(c.commitFailurePolicy == .stopCommit && c.diskFailurePolicy == .stopParanoid && c.maxClockOffsetMillis == 250)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        #expect(throws: NodeConfigError(["commit_failure_policy must be die, stop, stop_commit or ignore"])) {
            try NodeConfig().loading(yaml: "commit_failure_policy: best_effort")
        }
        #expect(throws: NodeConfigError(["disk_failure_policy must be die, stop, stop_paranoid, best_effort or ignore"])) {
            try NodeConfig().loading(yaml: "disk_failure_policy: stop_commit")
        }
        var bad = NodeConfig()
        bad.maxClockOffsetMillis = -1
        #expect(bad.problems().contains("max_clock_offset_ms must not be negative (0 = no refusal)"))
        #expect(try NodeConfig().loading(environment: ["BASALT_DISK_FAILURE_POLICY": "die"]).diskFailurePolicy == .die)
    }

    @Test func problemsAreReported() {
        var c = NodeConfig()
        c.listenAddress = "localhost"
        c.nativePort = 70000
        c.numTokens = 0
        c.seeds = ["127.0.0.1:x", "bad_host", "-x.example", "basalt-0.basalt.default.svc.cluster.local:7000", "node1", "10.0.0.300"]
        let p = c.problems()
        #expect(p.contains("listen_address must be an IPv4 address, got 'localhost'"))
        #expect(p.contains("native_transport_port must be 1…65535, got 70000"))
        #expect(p.contains("num_tokens must be 1…256, got 0"))
        let seedProblems = p.filter { $0.hasPrefix("seed ") }
        #expect(seedProblems == ["127.0.0.1:x", "bad_host", "-x.example", "10.0.0.300"].map {
            "seed '\($0)' is not an IPv4 address or host name, with an optional :port"
        })
    }
}

struct NodeConfigOverrideTests {
    @Test func environmentThenFlagsOverrideTheFile() throws {
        let file = try NodeConfig().loading(yaml: "listen_address: 127.0.0.3\nnum_tokens: 8\nadmin_port: 7300\n")
        #expect(NodeConfig().adminPort == 7199)
        let env = try file.loading(environment: [
            "BASALT_NUM_TOKENS": "4", "BASALT_SEEDS": "127.0.0.1,127.0.0.2:7001", "PATH": "/bin", "BASALT_UNRELATED": "x",
        ])
        #expect(env.numTokens == 4 && env.listenAddress == "127.0.0.3" && env.adminPort == 7300)
        #expect(env.seeds == ["127.0.0.1", "127.0.0.2:7001"])
        let flagged = try env.setting("num_tokens", to: "32").setting("dc", to: "east").setting("ring_delay_in_ms", to: "0")
        #expect(flagged.numTokens == 32 && flagged.dataCenter == "east" && flagged.ringDelayMillis == 0)
        #expect(throws: NodeConfigError(["BASALT_ADMIN_PORT: admin_port must be an integer"])) {
            try NodeConfig().loading(environment: ["BASALT_ADMIN_PORT": "seventy"])
        }
        #expect(throws: NodeConfigError.self) { try NodeConfig().setting("colour", to: "red") }
        #expect(NodeConfig.environmentVariable(for: "listen_address") == "BASALT_LISTEN_ADDRESS")
    }

    @Test func portsMustDiffer() {
        var c = NodeConfig()
        c.adminPort = 7000
        #expect(c.problems() == ["admin_port must differ from native_transport_port and storage_port"])
        c.adminPort = 0
        #expect(c.problems().isEmpty)
    }
}

struct SeedResolutionTests {
    @Test func namesResolveToEveryAddressAndAddressesStayAsTheyAre() async throws {
        let names: [String: [String]] = ["basalt-0.basalt": ["10.1.0.5"], "seeds.example": ["10.1.0.6", "10.1.0.7"]]
        let seeds = try await SeedResolution.resolve(
            [("basalt-0.basalt", 7000), ("10.1.0.9", 7001), ("seeds.example", 7000), ("not-yet", 7000)], logger: Logger(label: "test"),
            timeout: .seconds(5), resolver: { names[$0] ?? [] })
        #expect(seeds.map(\.description) == ["10.1.0.5:7000", "10.1.0.9:7001", "10.1.0.6:7000", "10.1.0.7:7000"])
    }

    @Test func noSeedAtAllIsAStartErrorAfterTheWait() async {
        await #expect(throws: NodeStartError.self) {
            try await SeedResolution.resolve([("not-yet", 7000)], logger: Logger(label: "test"), timeout: .milliseconds(10), resolver: { _ in [] })
        }
    }

    @Test func theSystemResolverAnswersForLocalhost() {
        #expect(NameResolution.ipv4Addresses(of: "localhost").contains("127.0.0.1"))
        #expect(NameResolution.ipv4Addresses(of: "no-such-host.invalid").isEmpty)
    }
}
