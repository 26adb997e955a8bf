import ArgumentParser
import BasaltNet
import BasaltServer
import Foundation

/// `basalt admin status|ring|metrics|netstats|…`: prints what a node's admin endpoint reports, or
/// runs an operation there (decommission, removenode, cleanup; AdminCommand+DataMovement.swift).
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Ask a running node about the cluster through its admin endpoint.",
        subcommands: [Status.self, Ring.self, Metrics.self, Health.self, Ready.self, Netstats.self, Decommission.self, RemoveNode.self, Cleanup.self, Flush.self, Drain.self, ReloadSSL.self,
                      SetStreamThroughput.self, GetStreamThroughput.self, Snapshot.self, ListSnapshots.self, ClearSnapshot.self, Repair.self] + AdminCommand.operations
    )

    struct Endpoint: ParsableArguments {
        @Option(help: "The node's address.") var host = "127.0.0.1"
        @Option(help: "The node's admin port.") var port: UInt16 = 7199
        @Option(help: "Seconds to wait for the answer.") var timeout = 10.0
        @Option(help: "The node's internode port (decommission waits until it closes).") var internodePort: UInt16 = 7000
    }

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every member as this node sees it (UN = up and normal, DN = down, UJ = joining); with KEYSPACE, Owns is the effective ownership under its replication.")
        @Argument(help: "Show effective ownership for this keyspace's replication.") var keyspace: String?
        @OptionGroup var report: Report
        func run() async throws { try await report.fetch("/status", ["keyspace": keyspace]) }
    }

    struct Ring: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every ring token and its owner.")
        @OptionGroup var endpoint: Endpoint
        @Option(help: "text or json.") var format = Format.text
        func run() async throws { try await AdminCommand.fetch("/ring?format=\(format.rawValue)", endpoint) }
    }

    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 if the node's process answers (GET /health), for liveness probes.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.fetch("/health", endpoint) }
    }

    struct Ready: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 if the node is up, normal in the ring and serving CQL (GET /ready), else 1 with the reason.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.fetch("/ready", endpoint) }
    }

    struct Metrics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The node's metrics in Prometheus text format.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.fetch("/metrics", endpoint) }
    }

    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Flush, then hard-link every table's live SSTables (of KEYSPACE) under <table dir>/snapshots/TAG/ with schema.cql.")
        @Option(name: [.customShort("t"), .long], help: "The snapshot's name (default: the time in milliseconds).") var tag: String?
        @Argument(help: "Only this keyspace's tables.") var keyspace: String?
        @OptionGroup var endpoint: Endpoint
        @Option(help: "text or json.") var format = Format.text
        func run() async throws {
            var endpoint = endpoint
            endpoint.timeout = max(endpoint.timeout, 600)
            try await AdminCommand.fetch("/snapshot" + AdminCommand.query(["tag": tag, "keyspace": keyspace, "format": format.rawValue]), endpoint, method: "POST")
        }
    }

    struct ListSnapshots: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "listsnapshots", abstract: "Every snapshot on the node: tag, keyspace, table, true size, size on disk.")
        @OptionGroup var endpoint: Endpoint
        @Option(help: "text or json.") var format = Format.text
        func run() async throws { try await AdminCommand.fetch("/snapshots?format=\(format.rawValue)", endpoint) }
    }

    struct ClearSnapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clearsnapshot", abstract: "Delete the snapshots named TAG (every snapshot without -t).")
        @Option(name: [.customShort("t"), .long], help: "The snapshot to delete.") var tag: String?
        @Argument(help: "Only this keyspace's snapshots.") var keyspace: String?
        @OptionGroup var endpoint: Endpoint
        func run() async throws {
            try await AdminCommand.fetch("/clearsnapshot" + AdminCommand.query(["tag": tag, "keyspace": keyspace]), endpoint, method: "POST")
        }
    }

    /// `?a=1&b=2` of the given parameters (nil ones left out), percent-encoded.
    static func query(_ parameters: KeyValuePairs<String, String?>) -> String {
        query(parameters.map { ($0.key, $0.value) })
    }

    static func query(_ parameters: [(String, String?)]) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let items = parameters.compactMap { name, value in
            value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" }
        }
        return items.isEmpty ? "" : "?" + items.joined(separator: "&")
    }

    /// Prints the body of a 200 answer on stdout; anything else is an error on stderr and status 1.
    static func fetch(_ path: String, _ endpoint: Endpoint, method: String = "GET") async throws {
        let address: SocketAddress
        do { address = try SocketAddress(host: endpoint.host, port: endpoint.port) } catch {
            throw ValidationError("\(error)")
        }
        let loop = EventLoop(name: "basalt-admin")
        let result: Result<AdminClient.Response, AdminClient.Failure>
        do {
            result = .success(try await AdminClient.send(method, path, to: address, on: loop, timeout: .seconds(endpoint.timeout)))
        } catch {
            result = .failure(error)
        }
        await loop.shutdownGracefully()
        switch result {
        case let .success(response) where response.status == 200:
            FileHandle.standardOutput.write(Data(response.body))
        case let .success(response):
            FileHandle.standardError.write(Data("basalt admin: \(address) answered \(response.status): \(response.text)".utf8))
            throw ExitCode(1)
        case let .failure(error):
            FileHandle.standardError.write(Data("basalt admin: cannot reach \(address): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
