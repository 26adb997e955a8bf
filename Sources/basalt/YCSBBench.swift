import ArgumentParser
import BasaltClient
import BasaltCore
import BasaltCQL
import BasaltNet
import BasaltProtocol
import Foundation
import Histogram
import Synchronization

/// `basalt bench ycsb`: the YCSB core workloads A–F against a running cluster through
/// BasaltClient.
///
/// The load phase inserts `--records` records into `usertable` (YCSB's schema: `y_id` text key,
/// `field0…field9` text values of 100 bytes) with `--concurrency` requests in flight. The run
/// phase draws each operation from the workload's mix (read, update, insert, scan,
/// read-modify-write) and its record from the workload's chooser (scrambled zipfian, latest,
/// uniform), either closed-loop at `--concurrency` in flight or open-loop at `--target`
/// operations per second with every latency measured from the request's intended start (so a
/// backlog shows instead of being omitted). A progress line is printed every second; at the end,
/// throughput and p50/p95/p99/p99.9 per operation from HdrHistograms, optionally as JSON and as
/// `.hgrm` percentile files.
struct YCSBBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ycsb",
        abstract: "YCSB core workloads A–F (load and run phases) against a running cluster.")

    enum Phase: String, ExpressibleByArgument, CaseIterable { case load, run }

    @Option(help: "Contact points, comma-separated (host or host:port).") var hosts = "127.0.0.1"
    @Option(help: "Native-protocol port of hosts given without one.") var port: UInt16 = 9042
    @Option(help: "Workload: a, b, c, d, e or f.") var workload = "a"
    @Option(help: "Phases in order, comma-separated: load, run.") var phases = "load,run"
    @Option(help: "Records loaded (YCSB's recordcount).") var records = 100_000
    @Option(help: "Operations of the run phase at most (YCSB's operationcount).") var operations = 1_000_000
    @Option(help: "Seconds of the run phase at most.") var seconds = 30.0
    @Option(help: "Requests in flight (closed loop; the load phase always).") var concurrency = 64
    @Option(help: "Open loop at this many operations per second instead of the closed loop (YCSB's target).") var target: Double?
    @Option(help: "Key chooser instead of the workload's: uniform, zipfian, latest.") var distribution: String?
    @Option(help: "Fields per record.") var fieldCount = 10
    @Option(help: "Bytes per field.") var fieldLength = 100
    @Option(help: "Longest scan (workload E draws lengths uniformly in 1…this).") var maxScanLength = 100
    @Option(help: "Keyspace (created if missing, SimpleStrategy).") var keyspace = "ycsb"
    @Option(help: "Replication factor of the keyspace.") var replicationFactor = 3
    @Option(help: "Consistency of reads and scans.") var readConsistency = "ONE"
    @Option(help: "Consistency of writes.") var writeConsistency = "ONE"
    @Option(help: "Connections per node.") var connectionsPerHost = 1
    @Option(help: "Client event-loop threads.") var clientThreads = 1
    @Option(help: "Request timeout in milliseconds.") var timeoutMs = 5000
    @Option(help: "Write the JSON summary to this file.") var jsonFile: String?
    @Option(help: "Write each phase's latency percentile distributions to PREFIX-<phase>-<OPERATION>.hgrm (microseconds).")
    var hgrm: String?
    @Flag(help: "No progress lines.") var quiet = false

    func validate() throws {
        guard YCSBWorkload.core(workload) != nil else { throw ValidationError("unknown workload \(workload) (a, b, c, d, e, f)") }
        guard records > 0, operations > 0, seconds > 0, concurrency > 0, fieldCount > 0, fieldLength >= 0, maxScanLength > 0 else {
            throw ValidationError("--records, --operations, --seconds, --concurrency, --field-count and --max-scan-length must be positive")
        }
        if let target, target <= 0 { throw ValidationError("--target must be positive") }
        if let distribution, YCSBWorkload.Distribution(rawValue: distribution) == nil {
            throw ValidationError("unknown distribution \(distribution) (uniform, zipfian, latest)")
        }
        _ = try parsedPhases()
        _ = try CQLBench.level(readConsistency)
        _ = try CQLBench.level(writeConsistency)
    }

    func parsedPhases() throws -> [Phase] {
        try phases.split(separator: ",").map {
            guard let p = Phase(rawValue: $0.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("unknown phase \($0) (load, run)")
            }
            return p
        }
    }

    func run() async throws {
        try await CQLBench.withSession(hosts: hosts, port: port, connectionsPerHost: connectionsPerHost, clientThreads: clientThreads,
                                       timeoutMs: timeoutMs, concurrency: concurrency, label: "ycsb", measure)
    }

    private func measure(_ session: Session) async throws {
        var chosen = YCSBWorkload.core(workload)!
        if let distribution { chosen.distribution = YCSBWorkload.Distribution(rawValue: distribution)! }
        let table = "\"\(keyspace)\".usertable"
        let replication = "{'class': 'SimpleStrategy', 'replication_factor': \(replicationFactor)}"
        _ = try await session.query("CREATE KEYSPACE IF NOT EXISTS \"\(keyspace)\" WITH replication = \(replication)")
        let fields = (0 ..< fieldCount).map { "field\($0) text" }.joined(separator: ", ")
        _ = try await session.query("CREATE TABLE IF NOT EXISTS \(table) (y_id text PRIMARY KEY, \(fields))")
        let statements = try await YCSBStatements.prepare(session, table: table, fields: fieldCount)
        let keys = YCSBKeyChooser(chosen.distribution, records: records)
        var options = StatementOptions()
        options.timeout = .milliseconds(timeoutMs)
        let nodes = session.topology.nodes.map(\.address.description)
        print("ycsb: workload \(chosen.name), \(chosen.distribution.rawValue) keys, \(records) records of \(fieldCount) × \(fieldLength) bytes,"
            + " \(nodes.count) node(s) [\(nodes.joined(separator: ", "))], RF \(replicationFactor), reads \(readConsistency), writes \(writeConsistency)")
        var reports = [YCSBPhaseReport]()
        for phase in try parsedPhases() {
            let load = YCSBLoad(session: session, statements: statements, workload: chosen, keys: keys,
                                readLevel: try CQLBench.level(readConsistency), writeLevel: try CQLBench.level(writeConsistency),
                                options: options, fields: fieldCount, fieldLength: fieldLength, maxScanLength: maxScanLength,
                                firstInsert: phase == .load ? 0 : records, loading: phase == .load)
            let loop = session.group.loops[0]
            let seed = phase == .load ? UInt64(0x10AD) : UInt64(0x7E57)
            let measurement: CQLBenchMeasurement
            let mode: String
            if phase == .run, let target {
                mode = "open loop at \(CQLBenchRun.grouped(target)) ops/s"
                let driver = CQLOpenLoop(operation: load, seed: seed)
                measurement = await withProgress(phase, driver.progress) {
                    await driver.run(on: loop, rate: target, seconds: seconds, maxOps: operations, maxOutstanding: max(concurrency * 8, 1024))
                }
            } else {
                mode = "closed loop, \(concurrency) in flight"
                let driver = CQLClosedLoop(operation: load, seed: seed)
                let ops = phase == .load ? records : operations
                let limit = phase == .load ? 86_400 : seconds
                measurement = await withProgress(phase, driver.progress) {
                    await driver.run(on: loop, concurrency: concurrency, seconds: limit, maxOps: ops)
                }
            }
            let report = YCSBPhaseReport(phase: phase.rawValue, mode: mode, measurement)
            for line in report.lines { print(line) }
            reports.append(report)
            if let hgrm { try writePercentiles(measurement, prefix: "\(hgrm)-\(phase.rawValue)") }
        }
        if let jsonFile {
            struct Summary: Codable {
                var workload: String, distribution: String, records: Int, fieldCount: Int, fieldLength: Int
                var nodes: [String], replicationFactor: Int, readConsistency: String, writeConsistency: String
                var phases: [YCSBPhaseReport]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(Summary(workload: chosen.name, distribution: chosen.distribution.rawValue, records: records,
                                                  fieldCount: fieldCount, fieldLength: fieldLength, nodes: nodes,
                                                  replicationFactor: replicationFactor, readConsistency: readConsistency,
                                                  writeConsistency: writeConsistency, phases: reports))
            try data.write(to: URL(fileURLWithPath: jsonFile))
        }
    }

    /// Runs `body`, printing a progress line every second from `progress` (unless --quiet).
    private func withProgress(_ phase: Phase, _ progress: @escaping @Sendable () -> (completed: Int, errors: Int),
                              _ body: @Sendable () async -> CQLBenchMeasurement) async -> CQLBenchMeasurement {
        let quiet = quiet
        let ticker = Task {
            guard !quiet else { return }
            let start = ContinuousClock.now
            var last = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                let (done, errors) = progress()
                let elapsed = (ContinuousClock.now - start) / .seconds(1)
                print("ycsb \(phase.rawValue): \(Int(elapsed.rounded())) s, \(CQLBenchRun.grouped(Double(done))) operations,"
                    + " \(CQLBenchRun.grouped(Double(done - last))) ops/s, \(errors) errors")
                last = done
            }
        }
        let m = await body()
        ticker.cancel()
        return m
    }

    private func writePercentiles(_ m: CQLBenchMeasurement, prefix: String) throws {
        var all = ""
        m.histogram.outputPercentileDistribution(to: &all, outputValueUnitScalingRatio: 1000)
        try all.write(toFile: "\(prefix).hgrm", atomically: true, encoding: .utf8)
        for (kind, k) in m.kinds {
            var text = ""
            k.histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
            let name = YCSBWorkload.Operation(rawValue: kind)?.name ?? "\(kind)"
            try text.write(toFile: "\(prefix)-\(name).hgrm", atomically: true, encoding: .utf8)
        }
    }
}

/// A phase's figures: throughput, and latency percentiles overall and per operation.
struct YCSBPhaseReport: Codable, Sendable {
    struct Latency: Codable, Sendable {
        var operations: Int
        var errors: Int
        var missing: Int
        var p50: Double, p95: Double, p99: Double, p999: Double, max: Double

        init(_ h: Histogram<UInt64>, _ c: CQLBenchCounts) {
            func ms(_ p: Double) -> Double { h.totalCount == 0 ? 0 : Double(h.valueAtPercentile(p)) / 1e6 }
            operations = c.completed
            errors = c.errors
            missing = c.missing
            p50 = ms(50)
            p95 = ms(95)
            p99 = ms(99)
            p999 = ms(99.9)
            max = h.totalCount == 0 ? 0 : Double(h.max) / 1e6
        }
    }

    var phase: String
    var mode: String
    var seconds: Double
    var opsPerSecond: Double
    var unsent: Int
    var overall: Latency
    var perOperation: [String: Latency]
    var firstError: String?

    init(phase: String, mode: String, _ m: CQLBenchMeasurement) {
        self.phase = phase
        self.mode = mode
        seconds = m.seconds
        opsPerSecond = m.opsPerSecond
        unsent = m.unsent
        overall = Latency(m.histogram, m.counts)
        perOperation = Dictionary(uniqueKeysWithValues: m.kinds.map {
            (YCSBWorkload.Operation(rawValue: $0.key)?.name ?? "\($0.key)", Latency($0.value.histogram, $0.value.counts))
        })
        firstError = m.counts.firstError
    }

    /// `[OVERALL] run (closed loop, 64 in flight): 30.0 s, 41,230 ops/s`, then one line per operation.
    var lines: [String] {
        func line(_ name: String, _ l: Latency) -> String {
            "[\(name)] \(CQLBenchRun.grouped(Double(l.operations))) operations, p50 \(CQLBenchRun.ms(l.p50)), p95 \(CQLBenchRun.ms(l.p95)),"
                + " p99 \(CQLBenchRun.ms(l.p99)), p99.9 \(CQLBenchRun.ms(l.p999)), max \(CQLBenchRun.ms(l.max)), errors \(l.errors)"
                + (l.missing > 0 ? ", not found \(l.missing)" : "")
        }
        var out = ["[OVERALL] \(phase) (\(mode)): \(String(format2: seconds)) s, \(CQLBenchRun.grouped(opsPerSecond)) ops/s"
            + (unsent > 0 ? ", \(unsent) due but unsent" : "")]
        out.append(line("ALL", overall))
        for name in perOperation.keys.sorted() { out.append(line(name, perOperation[name]!)) }
        if let firstError { out.append("  first error: \(firstError)") }
        return out
    }
}
