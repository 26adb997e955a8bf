import ArgumentParser
import BasaltCluster
import BasaltCore

/// `basalt simulate …`: the in-process cluster simulator and the ring ownership report, which
/// produce the figures in docs/membership.md.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Measure token allocation and gossip on simulated clusters (no network).",
        subcommands: [RingReport.self, GossipReport.self, PlacementDump.self]
    )

    /// Ownership spread of rings built node by node.
    struct RingReport: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ring", abstract: "Ownership spread (RF=1 and RF=3) for balanced and random token allocation.")

        @Option(parsing: .upToNextOption, help: "Cluster sizes.") var nodes: [Int] = [3, 5, 10]
        @Option(help: "Vnode tokens per node.") var tokens = 16
        @Option(parsing: .upToNextOption, help: "Random seeds; one row per seed.") var seeds: [UInt64] = [1, 2, 3]

        func run() {
            print("| nodes | allocation | min RF=1 | max RF=1 | max/min RF=1 | min RF=3 | max RF=3 | max/min RF=3 |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for n in nodes {
                for allocation in OwnershipReport.Allocation.allCases {
                    for seed in seeds {
                        var rng = SplitMix64(seed: seed)
                        print(OwnershipReport.build(nodes: n, tokensPerNode: tokens, allocation: allocation, using: &rng).row())
                    }
                }
            }
        }
    }

    /// Convergence, detection, recovery and traffic figures from the simulator.
    struct GossipReport: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gossip", abstract: "Time to converge, to detect a dead node, to see it back; gossip bytes per node.")

        @Option(parsing: .upToNextOption, help: "Cluster sizes.") var nodes: [Int] = [5, 50]
        @Option(parsing: .upToNextOption, help: "Random seeds; one row per seed.") var seeds: [UInt64] = [1, 2, 3]
        @Option(help: "Message loss probability (0…1).") var loss = 0.0
        @Option(help: "Seconds of steady state over which traffic is measured.") var steady = 60.0
        @Flag(help: "Also print the steady-state message mix of each run.") var mix = false

        func validate() throws {
            guard (0 ..< 1).contains(loss) else { throw ValidationError("--loss must be in [0, 1)") }
            guard nodes.allSatisfy({ $0 >= 2 }) else { throw ValidationError("--nodes must be at least 2") }
            guard steady > 0 else { throw ValidationError("--steady must be positive") }
        }

        func run() {
            print("| nodes | loss | seed | converge | detect (first / median / last) | back after restart | bytes/s per node (mean / max) | msgs/s per node |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for n in nodes {
                for seed in seeds {
                    let f = SimulationFigures.measure(nodes: n, seed: seed, lossProbability: loss, steadySeconds: steady)
                    print(f.row(seed: seed))
                    if mix { print("  mix: \(f.mixDescription)") }
                    if f.rejections > 0 { print("  (\(f.rejections) messages rejected)") }
                    if f.falseDowns > 0 { print("  (\(f.falseDowns) false down events in the steady state)") }
                }
            }
        }
    }

    /// Random rings and their replica placements as JSON, for cross-checking with a client driver.
    struct PlacementDump: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "placement", abstract: "Print random rings with SimpleStrategy and NetworkTopologyStrategy replicas as JSON.")

        @Option(help: "Random seed.") var seed: UInt64 = 1
        @Option(help: "Number of rings.") var rings = 20

        func run() {
            var rng = SplitMix64(seed: seed)
            print(PlacementSamples.json(rings: rings, using: &rng))
        }
    }
}
