import ArgumentParser
import BasaltClient
import BasaltCluster
import BasaltCore
import BasaltNet
import BasaltServer
import BasaltStorage
import Foundation
import Logging

/// `basalt load DIR --hosts a,b,c`: restores SSTables (a snapshot, a backup, a copied table
/// directory) into a running cluster, as Cassandra's sstableloader does.
///
/// Transport: every partition goes, as the internode `mutation` verb, straight to every replica
/// that owns its token in the target cluster (the ring and the keyspace's replication learned
/// through the native protocol from one of the hosts). The verb applies the partition exactly as
/// stored — cell timestamps, TTLs with their expiry, and every kind of tombstone — through the
/// replica's commit log, so nothing is rewritten with a new timestamp as CQL statements would be.
/// A partition counts as loaded when every replica acknowledged it (like consistency ALL); a
/// replica that refuses or cannot be reached after retries stops the load with an error.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Stream the SSTables of DIR (…/KEYSPACE/TABLE-<id>/[snapshots/TAG/]) into a running cluster.")

    @Argument(help: "A directory of SSTables: …/KEYSPACE/TABLE-<id>/, …/snapshots/TAG/ or …/backups/.") var directory: String
    @Option(help: "Comma-separated addresses of cluster nodes to learn the ring from.") var hosts: String
    @Option(help: "The nodes' CQL native port.") var nativePort: UInt16 = 9042
    @Option(help: "The nodes' internode port (storage_port).") var internodePort: UInt16 = 7000
    @Option(help: "The local address the loader binds its internode connections to.") var localAddress = "127.0.0.1"
    @Option(help: "Most mutations awaiting a replica's acknowledgement at once.") var inFlight = 256
    @Option(help: "Seconds a replica has to acknowledge one mutation.") var timeout = 30.0
    @Option(help: "CQL user name, when the cluster requires authentication.") var username: String?
    @Option(help: "CQL password.") var password = ""

    func run() async throws {
        let source: SSTableLoadSource
        do { source = try SSTableLoadSource.open(directory) } catch {
            throw Self.fail("\(error)")
        }
        if source.dataPaths.isEmpty {
            print("nothing to load: \(source.directory) is a snapshot of \(source.keyspace).\(source.table) without SSTables")
            return
        }
        var logger = Logger(label: "basalt.load")
        logger.logLevel = .warning
        var config = SessionConfiguration(contactPoints: hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        config.port = nativePort
        config.logger = logger
        if let username { config.credentials = .init(username: username, password: password) }
        let session: Session
        do { session = try await Session.connect(config) } catch {
            throw Self.fail("cannot connect to \(hosts): \(error)")
        }
        let target: TargetTable
        do {
            target = try await Self.targetTable(session, source)
        } catch {
            await session.close()
            throw error
        }
        let messaging = MessagingService(settings: MessagingSettings(address: try SocketAddress(host: localAddress, port: 0)), threads: 1, logger: logger)
        do {
            try await messaging.start()
        } catch {
            await session.close()
            throw Self.fail("cannot open internode messaging on \(localAddress): \(error)")
        }
        let sender = MutationSender(messaging: messaging, window: max(1, inFlight), timeout: .seconds(timeout))
        let topology = session.topology
        let port = internodePort
        let progress = LoadProgress(files: source.dataPaths.count)
        let ticker = progress.startTicker()
        let started = ContinuousClock.now
        let outcome: Result<Void, Error> = await Self.onThread {
            Result {
                for (i, path) in source.dataPaths.enumerated() {
                    try SSTableInspector.dump(path: path) { partition in
                        if let failure = sender.firstFailure { throw LoadFailure(message: failure) }
                        let replicas = topology.replicas(for: partition.token, keyspace: source.keyspace)
                        guard !replicas.isEmpty else {
                            throw LoadFailure(message: "no replica owns token \(partition.token) in keyspace \(source.keyspace)")
                        }
                        let addresses = try replicas.map { try SocketAddress(host: $0.address.host, port: port) }
                        for piece in partition.update.pieces(maxBytes: 1 << 20) {
                            let m = Mutation(keyspace: target.keyspace, table: target.table, tableId: target.id,
                                             partitionKey: partition.partitionKey, update: piece)
                            let bytes = m.encoded()
                            sender.send(bytes, to: addresses)
                            progress.sent(bytes: bytes.count * addresses.count)
                        }
                        progress.partitionDone()
                    }
                    progress.fileDone(i + 1)
                }
                sender.waitForAll()
                if let failure = sender.firstFailure { throw LoadFailure(message: failure) }
            }
        }
        ticker.cancel()
        await messaging.shutdown()
        await session.close()
        switch outcome {
        case .success:
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            progress.printLine(final: true)
            print("loaded \(progress.partitions) partitions from \(source.dataPaths.count) SSTables into \(target.keyspace).\(target.table): "
                + "\(sender.acknowledged) replica writes acknowledged in \(String(format: "%.1f", seconds)) s")
        case let .failure(error):
            progress.printLine(final: true)
            throw Self.fail("load of \(source.directory) stopped: \(error)")
        }
    }

    struct TargetTable {
        var keyspace: String
        var table: String
        var id: UUIDValue
    }

    struct LoadFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The target cluster's table of the same keyspace and name (its id differs from the source's
    /// when the cluster is a new one); a clear error when it does not exist.
    static func targetTable(_ session: Session, _ source: SSTableLoadSource) async throws -> TargetTable {
        guard session.topology.keyspaces[source.keyspace] != nil else {
            throw fail("keyspace \(source.keyspace) does not exist in the cluster; create it (and the table, e.g. from schema.cql) first")
        }
        let page: ResultPage
        do {
            page = try await session.query("SELECT id FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
                                           [.text(source.keyspace), .text(source.table)], consistency: .one)
        } catch {
            throw fail("cannot read the cluster's schema: \(error)")
        }
        guard let row = page.rows.first else {
            throw fail("table \(source.keyspace).\(source.table) does not exist in the cluster; create it first (a snapshot holds its schema.cql)")
        }
        guard case let .uuid(id)? = row["id"] else { throw fail("system_schema.tables has no id for \(source.keyspace).\(source.table)") }
        return TargetTable(keyspace: source.keyspace, table: source.table, id: id)
    }

    static func fail(_ message: String) -> Error {
        FileHandle.standardError.write(Data("basalt load: \(message)\n".utf8))
        return ExitCode(1)
    }

    /// Runs blocking work (file reads, the sender's window) on a thread of its own.
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: work()) }
        }
    }
}
