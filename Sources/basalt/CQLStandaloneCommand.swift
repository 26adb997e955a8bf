import ArgumentParser
import BasaltCluster
import BasaltCore
import BasaltIndex
import BasaltCQL
import BasaltNet
import BasaltStorage
import Foundation
import Logging

/// `basalt cql-standalone`: one node serving CQL over its own storage engine, without gossip or
/// internode messaging (a cluster of one: `LocalRequestCoordinator`). For development and for
/// testing clients against the CQL layer; `basalt server` runs a cluster member.
struct CQLStandaloneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cql-standalone", abstract: "Serve CQL on one node alone (no cluster membership).")

    @Option(help: "Address to listen on.") var address = "127.0.0.1"
    @Option(help: "CQL native protocol port.") var port: UInt16 = 9042
    @Option(help: "Data directory.") var dataDir = "data"
    @Option(help: "Cluster name reported in system.local.") var clusterName = "Basalt Cluster"
    @Option(help: "AllowAllAuthenticator or PasswordAuthenticator (roles in system_auth).") var authenticator = "AllowAllAuthenticator"
    @Option(help: "AllowAllAuthorizer or CassandraAuthorizer (GRANT/REVOKE; needs PasswordAuthenticator).") var authorizer = "AllowAllAuthorizer"
    @Option(help: "Deprecated: the superuser the first start creates; giving it turns PasswordAuthenticator on.") var superuser: String?
    @Option(help: "Deprecated: that superuser's first password.") var superuserPassword = "cassandra"
    @Option(help: "bcrypt cost of new password hashes (auth_bcrypt_gensalt_log2_rounds).") var bcryptLogRounds = 10
    @Option(help: "Write the audit log into this directory (off unless given).") var auditLogDir: String?
    @Option(help: "Log level.") var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "basalt.cql")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let clock = SystemClock()
        let hostIdPath = dataDir + "/host-id"
        let hostId: UUIDValue
        if let text = try? String(contentsOfFile: hostIdPath, encoding: .utf8), let id = UUIDValue(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            hostId = id
        } else {
            hostId = UUIDValue.random()
            try hostId.description.write(toFile: hostIdPath, atomically: true, encoding: .utf8)
        }
        var configuration = CQLService.Configuration(clusterName: clusterName, hostId: hostId, address: address, nativePort: port)
        if superuser != nil || authenticator == "PasswordAuthenticator" {
            var auth = AuthService.Settings()
            auth.authorization = authorizer == "CassandraAuthorizer"
            auth.bcryptLogRounds = bcryptLogRounds
            auth.defaultSuperuser = superuser ?? "cassandra"
            auth.defaultSuperuserPassword = superuserPassword
            auth.setupDelayNanos = 0
            configuration.auth = auth
        } else if authorizer == "CassandraAuthorizer" {
            throw ValidationError("--authorizer CassandraAuthorizer needs --authenticator PasswordAuthenticator")
        }
        configuration.auditLog = auditLogDir.map { AuditLog.Settings(directory: $0) }
        let group = EventLoopGroup(threads: 2, name: "basalt-cql")
        let service = try CQLService(configuration: configuration, dataDirectory: dataDir, group: group, messaging: nil, members: nil,
                                     tokens: { [Token(0)] }, publishSchemaVersion: { _ in }, clock: clock, logger: logger)
        // The tables the schema knows are opened before the commit log is replayed, with their
        // storage-attached indexes defined first so each SSTable's index files are read as it opens.
        let indexes = AttachedIndexRegistry(logger: logger)
        service.schema.defineIndexes(on: indexes)
        let engine = try StorageEngine(directory: dataDir + "/storage", clock: clock, logger: logger, attachedIndexes: indexes)
        let tables = service.schema.startupTables
        for t in tables { try engine.addTable(t.schema, durableWrites: t.durableWrites) }
        _ = try engine.replayCommitLog()
        indexes.attach(engine)
        let bound = try await service.start(engine: engine, openedTables: tables.map(\.schema), coordinator: nil)
        FileHandle.standardError.write(Data("basalt cql-standalone: serving CQL on \(bound)\n".utf8))
        let stop = AsyncStream<Int32> { continuation in
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
                source.setEventHandler { continuation.yield(sig) }
                source.resume()
                nonisolatedUnsafeKeep(source)
            }
        }
        for await _ in stop { break }
        await service.stop()
        await group.shutdownGracefully()
        engine.close()
    }
}

/// Keeps signal sources alive for the life of the process.
nonisolated(unsafe) private var keptSources: [any DispatchSourceSignal] = []
private func nonisolatedUnsafeKeep(_ o: any DispatchSourceSignal) { keptSources.append(o) }
