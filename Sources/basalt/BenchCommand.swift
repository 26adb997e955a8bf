import ArgumentParser

/// `basalt bench …`: benchmarks of the subsystems.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run benchmarks.",
        subcommands: [BenchStorageCommand.self]
    )
}
