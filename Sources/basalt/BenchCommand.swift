import ArgumentParser

/// `basalt bench …`: benchmarks of the subsystems, run against real components on loopback.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Basalt's subsystems.",
        subcommands: [TransportBench.self, BenchStorageCommand.self, CQLBench.self, YCSBBench.self, BenchVectorCommand.self, BenchMerkleCommand.self]
    )
}
