import ArgumentParser

/// nodetool's everyday commands: what a node reports about itself, the cluster and its tables,
/// and the maintenance it runs (OperationsComponent serves them).
extension AdminCommand {
    static let operations: [any ParsableCommand.Type] = [
        Version.self, Info.self, DescribeCluster.self, GossipInfo.self, GetEndpoints.self, TableStats.self, CompactionStats.self,
        Compact.self, ListPendingHints.self, TruncateHints.self, ProxyHistograms.self, TableHistograms.self,
        SetCompactionThroughput.self, GetCompactionThroughput.self,
    ]

    /// A report at `path`, text or JSON.
    struct Report: ParsableArguments {
        @OptionGroup var endpoint: Endpoint
        @Option(help: "text or json.") var format = Format.text

        func fetch(_ path: String, _ parameters: KeyValuePairs<String, String?> = [:]) async throws {
            var all: [(String, String?)] = parameters.map { ($0.key, $0.value) }
            all.append(("format", format.rawValue))
            try await AdminCommand.fetch(path + AdminCommand.query(all), endpoint)
        }
    }

    /// An operation run with `POST` at `path` (its answer printed as it comes), waiting at least
    /// `timeout` seconds for it.
    struct Action: ParsableArguments {
        @OptionGroup var endpoint: Endpoint

        func post(_ path: String, _ parameters: KeyValuePairs<String, String?> = [:], timeout: Double = 0) async throws {
            var endpoint = endpoint
            endpoint.timeout = max(endpoint.timeout, timeout)
            try await AdminCommand.fetch(path + AdminCommand.query(parameters), endpoint, method: "POST")
        }
    }

    struct Version: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The node's release version.")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/version") }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "This node: host id, gossip state, load, generation, uptime, memory, data center, rack, tokens.")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/info") }
    }

    struct DescribeCluster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "describecluster", abstract: "Cluster name, partitioner, snitch, and which nodes hold which schema version.")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/describecluster") }
    }

    struct GossipInfo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gossipinfo", abstract: "Every endpoint's gossiped state as this node knows it.")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/gossipinfo") }
    }

    struct GetEndpoints: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "getendpoints", abstract: "The replicas of a partition key, primary first (a compound key's parts joined by ':').")
        @Argument(help: "Keyspace.") var keyspace: String
        @Argument(help: "Table.") var table: String
        @Argument(help: "Partition key.") var key: String
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/getendpoints", ["keyspace": keyspace, "table": table, "key": key]) }
    }

    struct TableStats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tablestats", abstract: "Per table (of KS, or KS.T; every user table without): SSTables, live bytes, quarantined SSTables.")
        @Argument(help: "KEYSPACE or KEYSPACE.TABLE.") var target: String?
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/tablestats", ["keyspace": target]) }
    }

    struct CompactionStats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "compactionstats", abstract: "Compactions and flushes run, live SSTables.")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/compactionstats") }
    }

    struct Compact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Major compaction: each table's SSTables merged into one (the tables of KEYSPACE, or TABLE; every user table without).")
        @Argument(help: "Keyspace.") var keyspace: String?
        @Argument(help: "Table of the keyspace.") var table: String?
        @OptionGroup var action: Action
        func run() async throws { try await action.post("/compact", ["keyspace": keyspace, "table": table], timeout: 3600) }
    }

    struct ListPendingHints: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "listpendinghints", abstract: "Hints this node holds, per target node.")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/listpendinghints") }
    }

    struct TruncateHints: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "truncatehints", abstract: "Delete the hints this node holds for one node (address or host id), or for every node.")
        @Argument(help: "The target's address or host id.") var host: String?
        @OptionGroup var action: Action
        func run() async throws { try await action.post("/truncatehints", ["host": host]) }
    }
}

extension AdminCommand {
    struct ProxyHistograms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "proxyhistograms", abstract: "Percentiles of the reads, writes and range reads this node coordinated (microseconds).")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/proxyhistograms") }
    }
}

extension AdminCommand {
    struct TableHistograms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tablehistograms",
            abstract: "Percentiles of a table's local read and write latency (µs), SSTables per read, partition size and cells per read.")
        @Argument(help: "KEYSPACE.TABLE, or KEYSPACE then TABLE.") var target: String
        @Argument(help: "The table, when KEYSPACE is given alone.") var table: String?
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/tablehistograms", ["keyspace": target, "table": table]) }
    }

    struct SetCompactionThroughput: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "setcompactionthroughput",
            abstract: "Set compaction_throughput_mb_per_sec (MB/s, 0 = unthrottled) until restart; running compactions follow it at once.")
        @Argument(help: "MB per second (0 = unthrottled).") var megabytesPerSecond: Int
        @OptionGroup var action: Action
        func validate() throws {
            guard megabytesPerSecond >= 0 else { throw ValidationError("the throughput must be 0 (unthrottled) or more MB/s") }
        }
        func run() async throws { try await action.post("/compactionthroughput", ["mb": "\(megabytesPerSecond)"]) }
    }

    struct GetCompactionThroughput: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "getcompactionthroughput", abstract: "The compaction throttle in MB/s (0 = unthrottled).")
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/compactionthroughput") }
    }
}
