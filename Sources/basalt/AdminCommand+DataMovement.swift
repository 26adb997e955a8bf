import ArgumentParser
import BasaltNet
import BasaltServer
import Foundation

/// `basalt admin decommission|removenode|cleanup|netstats|reloadssl|setstreamthroughput|getstreamthroughput`.
extension AdminCommand {
    struct Decommission: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream this node's data to the nodes taking over its ranges, hand off its hints, leave the ring and stop.",
            discussion: "Returns once the node has left the ring and its process stopped.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.operation("/decommission", endpoint, stopsNode: true) }
    }

    struct RemoveNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "removenode",
            abstract: "Remove a dead node from the ring; the remaining replicas re-replicate its ranges from each other.")
        @Argument(help: "The dead node's host id (see basalt admin status).") var hostId: String
        @OptionGroup var endpoint: Endpoint
        func run() async throws {
            try await AdminCommand.operation("/removenode?host=\(hostId)", endpoint, stopsNode: false)
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop the data of ranges this node no longer replicates (after a node joined).")
        @Argument(help: "Only this keyspace.") var keyspace: String?
        @OptionGroup var endpoint: Endpoint
        func run() async throws {
            try await AdminCommand.operation("/cleanup" + (keyspace.map { "?keyspace=\($0)" } ?? ""), endpoint, stopsNode: false)
        }
    }

    struct Netstats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Streams in progress and recently finished on this node.")
        @OptionGroup var endpoint: Endpoint
        @Option(help: "text or json.") var format = Format.text
        func run() async throws { try await AdminCommand.fetch("/netstats?format=\(format.rawValue)", endpoint) }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write memtables to SSTables: every table's, KEYSPACE's, or the named TABLES of KEYSPACE (Load counts SSTables only).")
        @Argument(help: "Only this keyspace's tables.") var keyspace: String?
        @Argument(help: "Only these tables of the keyspace.") var tables: [String] = []
        @OptionGroup var endpoint: Endpoint
        func run() async throws {
            let path = "/flush" + AdminCommand.query(["keyspace": keyspace, "tables": tables.isEmpty ? nil : tables.joined(separator: ",")])
            try await AdminCommand.operation(path, endpoint, stopsNode: false)
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse writes from now until restart (clients and peers), then flush every memtable; reads go on.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.operation("/drain", endpoint, stopsNode: false) }
    }

    struct ReloadSSL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reloadssl",
            abstract: "Re-read the TLS PEM files (client_encryption_options, server_encryption_options) without a restart.",
            discussion: "New connections use the new certificates; open ones keep theirs. The node also checks the files every 10 seconds.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.fetch("/reloadssl", endpoint, method: "POST") }
    }

    struct SetStreamThroughput: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "setstreamthroughput", abstract: "Set stream_throughput_outbound (MiB/s, 0 = unthrottled) until restart.")
        @Argument(help: "MiB per second.") var mebibytesPerSecond: Int
        @OptionGroup var endpoint: Endpoint
        func run() async throws {
            try await AdminCommand.fetch("/streamthroughput?mib=\(mebibytesPerSecond)", endpoint, method: "POST")
        }
    }

    struct GetStreamThroughput: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "getstreamthroughput", abstract: "Print stream_throughput_outbound.")
        @OptionGroup var endpoint: Endpoint
        func run() async throws { try await AdminCommand.fetch("/streamthroughput", endpoint) }
    }

    private struct Operation: Decodable {
        var id: Int
        var kind: String
        var state: String
        var progress: String
    }

    /// Starts an operation, then prints a progress line whenever it changes until it finished. For a
    /// decommission, also waits until the node no longer answers (its process stopped).
    static func operation(_ path: String, _ endpoint: Endpoint, stopsNode: Bool) async throws {
        let address: SocketAddress
        do { address = try SocketAddress(host: endpoint.host, port: endpoint.port) } catch { throw ValidationError("\(error)") }
        let loop = EventLoop(name: "basalt-admin")
        defer { Task { await loop.shutdownGracefully() } }
        func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
        func fail(_ s: String) -> ExitCode {
            FileHandle.standardError.write(Data("basalt admin: \(s)\n".utf8))
            return ExitCode(1)
        }
        let started: AdminClient.Response
        do { started = try await AdminClient.send("POST", path, to: address, on: loop, timeout: .seconds(endpoint.timeout)) } catch {
            throw fail("cannot reach \(address): \(error)")
        }
        guard started.status == 202, var op = try? JSONDecoder().decode(Operation.self, from: Data(started.body)) else {
            throw fail("\(address) answered \(started.status): \(started.text)")
        }
        say("\(op.kind) started (operation \(op.id))")
        var last = ""
        while true {
            if op.progress != last {
                say("\(op.kind): \(op.progress)")
                last = op.progress
            }
            if op.state != "running" { break }
            try await Task.sleep(for: .milliseconds(500))
            do {
                let r = try await AdminClient.get("/operations?id=\(op.id)", from: address, on: loop, timeout: .seconds(endpoint.timeout))
                guard r.status == 200, let next = try? JSONDecoder().decode(Operation.self, from: Data(r.body)) else {
                    throw fail("\(address) answered \(r.status): \(r.text)")
                }
                op = next
            } catch let e as ExitCode {
                throw e
            } catch {
                // The node stopped answering: expected only at the end of a decommission, once it
                // announced LEFT (its data was handed over before that).
                if stopsNode && (last.contains("LEFT") || last.contains("stopping")) { op.state = "left"; break }
                throw fail("lost \(address) during \(op.kind): \(error)")
            }
        }
        guard op.state == "completed" || op.state == "left" else { throw fail("\(op.kind) \(op.state)") }
        if stopsNode {
            // Returns once the process no longer answers (it stops right after leaving).
            // The admin port closes first, internode messaging last but storage (memtables were
            // flushed before LEFT, so that is quick).
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                if (try? await AdminClient.get("/status", from: address, on: loop, timeout: .seconds(2))) == nil { break }
                try await Task.sleep(for: .milliseconds(300))
            }
            if let internode = try? SocketAddress(host: endpoint.host, port: endpoint.internodePort) {
                while ContinuousClock.now < deadline {
                    var options = TCPOptions()
                    options.connectTimeout = .seconds(2)
                    guard let c = try? await TCPConnection.connect(on: loop, to: internode, options: options) else { break }
                    c.close(.local("probe"))
                    try await Task.sleep(for: .milliseconds(300))
                }
            }
            say("\(op.kind): node \(endpoint.host) left the ring and stopped")
        } else {
            say("\(op.kind): \(op.state)")
        }
    }
}
