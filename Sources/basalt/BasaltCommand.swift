import ArgumentParser

/// The `basalt` command: server, administration, benchmarks and file tools.
@main
struct BasaltCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "basalt",
        abstract: "Basalt: a distributed key-value and wide-column database.",
        version: BasaltRelease.version,
        subcommands: [
            ServerCommand.self, AdminCommand.self, BenchCommand.self, CQLStandaloneCommand.self, SimulateCommand.self,
            SSTableCommand.self, StorageCrashWriterCommand.self, LoadCommand.self,
        ]
    )
}

/// The release this binary reports (`release_version` in system tables follows Cassandra's scheme).
enum BasaltRelease {
    static let version = "0.1.0"
}
