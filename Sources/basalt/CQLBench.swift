import ArgumentParser
import BasaltClient
import BasaltCore
import BasaltCQL
import BasaltNet
import BasaltProtocol
import Foundation
import Logging
import Synchronization

/// `basalt bench cql`: write and read throughput and latency of a running cluster through
/// BasaltClient, at chosen consistency levels.
///
/// For each workload (write: prepared INSERT of random keys in [0, keys); read: prepared SELECT
/// of random keys among those written) it runs a closed loop at `--concurrency` requests in
/// flight for throughput, then an open loop at `--latency-fraction` of that throughput for
/// latency percentiles measured from each request's due time. Every run is bounded by
/// `--seconds` (and `--ops`); errors are counted by kind, never fatal.
struct CQLBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cql",
        abstract: "Throughput and latency of CQL writes and reads against a running cluster."
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case write, read
    }

    @Option(help: "Contact points, comma-separated (host or host:port).") var hosts = "127.0.0.1"
    @Option(help: "Native-protocol port of hosts given without one.") var port: UInt16 = 9042
    @Option(help: "Keyspace (created if missing, SimpleStrategy).") var keyspace = "bench"
    @Option(help: "Table (created if missing: k bigint PRIMARY KEY, v blob).") var table = "kv"
    @Option(help: "Replication factor of the keyspace.") var replicationFactor = 3
    @Option(help: "Consistency of writes and reads (ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM, EACH_QUORUM).")
    var consistency = "ONE"
    @Option(help: "Consistency of writes (default: --consistency).") var writeConsistency: String?
    @Option(help: "Consistency of reads (default: --consistency).") var readConsistency: String?
    @Option(help: "Distinct keys: writes pick uniformly in [0, keys).") var keys = 100_000
    @Option(help: "Bytes per value.") var valueBytes = 100
    @Option(help: "Requests in flight in the throughput (closed-loop) runs.") var concurrency = 128
    @Option(help: "Seconds per run (default 10; with --ops alone, at most 300).") var seconds: Double?
    @Option(help: "Operations per run at most.") var ops: Int?
    @Option(help: "Workloads in order, comma-separated: write, read.") var workloads = "write,read"
    @Option(help: "Rate of each latency run as a fraction of its throughput run (0 skips them).") var latencyFraction = 0.5
    @Option(help: "Rate of each latency run in operations per second, instead of --latency-fraction (to compare setups at one load).") var latencyRate: Double?
    @Option(help: "Seconds of unreported warm-up before each workload.") var warmupSeconds = 1.0
    @Option(help: "Connections per node.") var connectionsPerHost = 1
    @Option(help: "Client event-loop threads.") var clientThreads = 1
    @Option(help: "Request timeout in milliseconds.") var timeoutMs = 5000
    @Option(help: "User name (PasswordAuthenticator).") var username: String?
    @Option(help: "Password.") var password = "cassandra"
    @OptionGroup var tls: BenchTLSOptions
    @Flag(help: "Truncate the table before the first workload.") var truncate = false
    @Flag(help: "Print a JSON summary after the report lines.") var json = false
    @Option(help: "Write the JSON summary to this file.") var jsonFile: String?

    func validate() throws {
        guard keys > 0, valueBytes >= 0, concurrency > 0, replicationFactor > 0 else {
            throw ValidationError("--keys, --concurrency and --replication-factor must be positive, --value-bytes not negative")
        }
        guard latencyFraction >= 0, latencyFraction <= 10 else { throw ValidationError("--latency-fraction must be in 0 ... 10") }
        if let r = latencyRate, !(r > 0 && r.isFinite) { throw ValidationError("--latency-rate must be positive") }
        for level in [consistency, writeConsistency, readConsistency].compactMap({ $0 }) { _ = try Self.level(level) }
        _ = try parsedWorkloads()
    }

    static func level(_ name: String) throws -> ConsistencyLevel {
        let wanted = name.uppercased()
        guard let l = ConsistencyLevel.allCases.first(where: { $0.description == wanted }), !l.isSerial, l != .any else {
            throw ValidationError("unknown or unsupported consistency level \(name)")
        }
        return l
    }

    func parsedWorkloads() throws -> [Workload] {
        try workloads.split(separator: ",").map {
            guard let w = Workload(rawValue: $0.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("unknown workload \($0) (write, read)")
            }
            return w
        }
    }

    /// Seconds per run: `--seconds`, else 10, else (with only `--ops`) at most 300.
    var runSeconds: Double { seconds ?? (ops == nil ? 10 : 300) }

    func run() async throws {
        let credentials = username.map { SessionConfiguration.Credentials(username: $0, password: password) }
        try await Self.withSession(hosts: hosts, port: port, connectionsPerHost: connectionsPerHost, clientThreads: clientThreads,
                                   timeoutMs: timeoutMs, concurrency: concurrency, credentials: credentials, tls: try tls.context(),
                                   label: "cql", measure)
    }

    /// Connects a bench client session to `hosts`, sized for `concurrency` requests in flight,
    /// runs `body` with it and closes it, also when `body` throws.
    static func withSession(hosts: String, port: UInt16, connectionsPerHost: Int, clientThreads: Int, timeoutMs: Int, concurrency: Int,
                            credentials: SessionConfiguration.Credentials? = nil, tls: TLSContext? = nil, label: String,
                            _ body: (Session) async throws -> Void) async throws {
        var logger = Logger(label: "basalt.bench." + label)
        logger.logLevel = .warning
        var config = SessionConfiguration(contactPoints: hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        config.port = port
        config.connectionsPerNode = connectionsPerHost
        config.eventLoopThreads = clientThreads
        config.requestTimeout = .milliseconds(timeoutMs)
        config.maxInFlightPerConnection = max(1024, min(32768, concurrency * 4 / max(1, connectionsPerHost)))
        config.logger = logger
        config.credentials = credentials
        config.tls = tls
        let session: Session
        do {
            session = try await Session.connect(config)
        } catch {
            throw ValidationError("cannot connect: \(error)")
        }
        do {
            try await body(session)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
    }

    private func measure(_ session: Session) async throws {
        let (insert, select) = try await prepareSchema(session)
        let nodes = session.topology.nodes
        print("cql benchmark: \(nodes.count) node(s) [\(nodes.map(\.address.description).joined(separator: ", "))], keyspace \(keyspace) RF \(replicationFactor),"
            + " \(keys) keys, \(valueBytes)-byte values, \(concurrency) in flight, \(connectionsPerHost) connection(s) per node,"
            + " \(clientThreads) client thread(s), \(runSeconds) s per run\(ops.map { " (at most \($0) ops)" } ?? "")")
        let written = WrittenKeys(count: keys)
        var value = [UInt8](repeating: 0, count: valueBytes)
        var rng = SplitMix64(seed: 0xB4_5A17)
        for i in value.indices { value[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let valueBytes = value
        var runs = [CQLBenchRun]()
        let loop = session.group.loops[0]
        for (index, workload) in try parsedWorkloads().enumerated() {
            let level = try Self.level((workload == .write ? writeConsistency : readConsistency) ?? consistency)
            var options = StatementOptions()
            options.timeout = .milliseconds(timeoutMs)
            let keyCount = UInt64(keys)
            let operation: CQLBenchOperation
            switch workload {
            case .write:
                let key: @Sendable (UInt64) -> Int64 = { Int64($0 % keyCount) }
                let values: @Sendable (Int64) -> [ProtocolValue] = { [.bytes(Self.bigint($0)), .bytes(valueBytes)] }
                let succeeded: @Sendable (Int64) -> Void = { written.insert($0) }
                operation = CQLBenchOperation(session: session, statement: insert, consistency: level, options: options,
                                              expectsRow: false, key: key, values: values, succeeded: succeeded)
            case .read:
                let candidates = written.all()
                if candidates.isEmpty { print("read: no key written by this run; reading keys in [0, \(keys)) (missing rows are counted)") }
                let chosen: @Sendable (UInt64) -> Int64 = { random in
                    candidates.isEmpty ? Int64(random % keyCount) : candidates[Int(random % UInt64(candidates.count))]
                }
                let values: @Sendable (Int64) -> [ProtocolValue] = { [.bytes(Self.bigint($0))] }
                operation = CQLBenchOperation(session: session, statement: select, consistency: level, options: options,
                                              expectsRow: true, key: chosen, values: values, succeeded: nil)
            }
            let seed = UInt64(index + 1) &* 0x9E37_79B9
            if warmupSeconds > 0 {
                _ = await CQLClosedLoop(operation: operation, seed: seed &+ 1).run(on: loop, concurrency: concurrency, seconds: warmupSeconds, maxOps: ops)
            }
            let closed = await CQLClosedLoop(operation: operation, seed: seed &+ 2).run(on: loop, concurrency: concurrency, seconds: runSeconds, maxOps: ops)
            let throughput = report(workload, level, .closedLoop, closed, rate: nil)
            runs.append(throughput)
            guard latencyFraction > 0 || latencyRate != nil else { continue }
            let rate = latencyRate ?? max(1, throughput.opsPerSecond * latencyFraction)
            let open = await CQLOpenLoop(operation: operation, seed: seed &+ 3)
                .run(on: loop, rate: rate, seconds: runSeconds, maxOps: ops, maxOutstanding: max(concurrency * 8, 1024))
            runs.append(report(workload, level, .openLoop, open, rate: rate))
        }
        try emitSummary(runs, nodes: nodes.map(\.address.description))
    }

    private func report(_ workload: Workload, _ level: ConsistencyLevel, _ mode: CQLBenchRun.Mode, _ m: CQLBenchMeasurement,
                        rate: Double?) -> CQLBenchRun {
        let run = CQLBenchRun(workload: workload.rawValue, consistency: level.description, mode: mode,
                              concurrency: mode == .closedLoop ? concurrency : nil, targetRate: rate, seconds: m.seconds,
                              opsPerSecond: m.opsPerSecond, counts: m.counts, unsent: m.unsent, latencyMillis: .init(m.histogram))
        print(run.line)
        if let first = m.counts.firstError { print("  first error: \(first)") }
        return run
    }

    private func prepareSchema(_ session: Session) async throws -> (PreparedStatement, PreparedStatement) {
        let ks = "\"\(keyspace)\"", t = "\"\(table)\""
        let replication = "{'class': 'SimpleStrategy', 'replication_factor': \(replicationFactor)}"
        _ = try await session.query("CREATE KEYSPACE IF NOT EXISTS \(ks) WITH replication = \(replication)")
        if session.topology.keyspaces[keyspace] != .simple(replicationFactor: replicationFactor) {
            _ = try await session.query("ALTER KEYSPACE \(ks) WITH replication = \(replication)")
        }
        _ = try await session.query("CREATE TABLE IF NOT EXISTS \(ks).\(t) (k bigint PRIMARY KEY, v blob)")
        if truncate { _ = try await session.query("TRUNCATE \(ks).\(t)") }
        let insert = try await session.prepare("INSERT INTO \(ks).\(t) (k, v) VALUES (?, ?)")
        let select = try await session.prepare("SELECT v FROM \(ks).\(t) WHERE k = ?")
        return (insert, select)
    }

    private func emitSummary(_ runs: [CQLBenchRun], nodes: [String]) throws {
        guard json || jsonFile != nil else { return }
        struct Summary: Codable {
            var nodes: [String]
            var keyspace: String
            var replicationFactor: Int
            var keys: Int
            var valueBytes: Int
            var concurrency: Int
            var runs: [CQLBenchRun]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Summary(nodes: nodes, keyspace: keyspace, replicationFactor: replicationFactor, keys: keys,
                                              valueBytes: valueBytes, concurrency: concurrency, runs: runs))
        if json { print(String(decoding: data, as: UTF8.self)) }
        if let jsonFile { try data.write(to: URL(fileURLWithPath: jsonFile)) }
    }

    static func bigint(_ k: Int64) -> [UInt8] {
        let u = UInt64(bitPattern: k)
        return (0 ..< 8).map { UInt8(truncatingIfNeeded: u >> (56 - 8 * $0)) }
    }
}

/// Which keys a write run stored, so reads ask for rows that exist.
final class WrittenKeys: Sendable {
    private let bits: Mutex<[UInt64]>
    let count: Int

    init(count: Int) {
        self.count = count
        bits = Mutex([UInt64](repeating: 0, count: (count + 63) / 64))
    }

    func insert(_ k: Int64) {
        guard k >= 0, k < count else { return }
        bits.withLock { $0[Int(k) >> 6] |= 1 << UInt64(k & 63) }
    }

    /// Every key written, ascending.
    func all() -> [Int64] {
        bits.withLock { words in
            var out = [Int64]()
            for (w, word) in words.enumerated() where word != 0 {
                for b in 0 ..< 64 where word & (1 << UInt64(b)) != 0 { out.append(Int64(w * 64 + b)) }
            }
            return out
        }
    }
}

/// `--ssl`, `--ssl-truststore`, `--ssl-keystore`: TLS from the bench client to the nodes.
struct BenchTLSOptions: ParsableArguments {
    @Flag(help: "Connect with TLS (client_encryption_options enabled on the nodes).") var ssl = false
    @Option(help: "PEM CA certificates the nodes' certificates are checked against (with --ssl; without it, not checked).")
    var sslTruststore: String?
    @Option(help: "PEM private key and certificate chain to show the nodes (require_client_auth).") var sslKeystore: String?

    /// The client context these options ask for, or nil without `--ssl`.
    func context() throws -> TLSContext? {
        guard ssl else { return nil }
        var c = TLSConfiguration()
        c.truststore = sslTruststore
        c.verifyServer = sslTruststore != nil
        c.keystore = sslKeystore
        do {
            return try TLSContext(role: .client, configuration: c, name: "bench", logger: Logger(label: "basalt.bench.tls"))
        } catch {
            throw ValidationError("--ssl: \(error)")
        }
    }
}
