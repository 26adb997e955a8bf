import BasaltCluster
import BasaltCore
import BasaltNet
import Logging

/// Seeds named by DNS (a Kubernetes headless service's `basalt-0.basalt.<namespace>.svc…`) are
/// resolved once, at start, to every IPv4 address they have; seeds given as addresses are used
/// as they are.
enum SeedResolution {
    /// The seeds' internode addresses. While no seed at all is known — a pod's DNS record appears
    /// only once it has an address — names are tried again every second, for at most `timeout`;
    /// then the node goes on with what it has, naming the names it could not resolve.
    static func resolve(_ seeds: [(host: String, port: Int)], logger: Logger, timeout: Duration = .seconds(60),
                        resolver: @Sendable (String) -> [String] = NameResolution.ipv4Addresses(of:))
        async throws(NodeStartError) -> [NodeAddress] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            var out: [NodeAddress] = []
            var unresolved: [String] = []
            for seed in seeds {
                let hosts = NodeConfig.isIPv4(seed.host) ? [seed.host] : resolver(seed.host)
                if hosts.isEmpty { unresolved.append(seed.host) }
                for h in hosts where !out.contains(NodeAddress(host: h, port: UInt16(seed.port))) {
                    out.append(NodeAddress(host: h, port: UInt16(seed.port)))
                }
            }
            if !out.isEmpty || clock.now >= deadline {
                if !unresolved.isEmpty {
                    logger.warning("seed names that do not resolve are left out", metadata: ["names": "\(unresolved)"])
                }
                if out.isEmpty {
                    throw .noSeedReachable(seeds: seeds.map { "\($0.host):\($0.port)" },
                                           waitedMillis: Int((timeout / .milliseconds(1)).rounded()))
                }
                let named = seeds.filter { !NodeConfig.isIPv4($0.host) }
                if !named.isEmpty { logger.info("seeds resolved", metadata: ["seeds": "\(out.map(\.description))"]) }
                return out
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
