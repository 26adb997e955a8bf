import ArgumentParser
import BasaltNet
import BasaltServer
import Foundation

extension AdminCommand {
    struct Repair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Anti-entropy repair of the ranges this node replicates: Merkle trees compared, differing ranges streamed.",
            discussion: "Repair is always full (every replica builds a tree of all its data in each range); --full is accepted for nodetool's sake.")
        @Argument(help: "Only this keyspace.") var keyspace: String?
        @Argument(help: "Only this table of the keyspace.") var table: String?
        @Flag(help: "Full repair (the only kind Basalt runs).") var full = false
        @Flag(name: .customLong("primary-range"), help: "Only the ranges this node is the primary owner of.") var primaryRange = false
        @Option(help: "Merkle tree depth (0-16; a range gets 2^depth leaves).") var depth: Int?
        @OptionGroup var endpoint: Endpoint

        func run() async throws {
            let address: SocketAddress
            do { address = try SocketAddress(host: endpoint.host, port: endpoint.port) } catch { throw ValidationError("\(error)") }
            var path = "/repair" + AdminCommand.query(["keyspace": keyspace, "table": table, "depth": depth.map(String.init),
                                                       "primary_range": primaryRange ? "true" : nil])
            if path == "/repair" { path += "?" }
            let loop = EventLoop(name: "basalt-admin")
            defer { Task { await loop.shutdownGracefully() } }
            let started = try await Self.call("POST", path, address, loop, endpoint.timeout)
            print(started.trimmingCharacters(in: .whitespacesAndNewlines))
            guard let id = started.split(separator: " ").dropFirst().first.map(String.init) else { throw ExitCode(1) }
            var last = ""
            while true {
                try await Task.sleep(for: .seconds(1))
                let text = try await Self.call("GET", "/repair?id=\(id)", address, loop, endpoint.timeout)
                if text != last {
                    print(text, terminator: "")
                    last = text
                }
                if text.hasPrefix("repair \(id): completed") { return }
                if text.hasPrefix("repair \(id): failed") { throw ExitCode(1) }
            }
        }

        /// The body of a 200 answer; anything else is reported on stderr and ends the command.
        static func call(_ method: String, _ path: String, _ address: SocketAddress, _ loop: EventLoop, _ timeout: Double) async throws -> String {
            let response: AdminClient.Response
            do { response = try await AdminClient.send(method, path, to: address, on: loop, timeout: .seconds(timeout)) } catch {
                FileHandle.standardError.write(Data("basalt admin: cannot reach \(address): \(error)\n".utf8))
                throw ExitCode(1)
            }
            guard response.status == 200 else {
                FileHandle.standardError.write(Data("basalt admin: \(address) answered \(response.status): \(response.text)".utf8))
                throw ExitCode(1)
            }
            return response.text
        }
    }
}
