import BasaltClient
import BasaltCQL
import Histogram

/// Outcomes of a bench run by kind: errors are counted, never fatal.
struct CQLBenchCounts: Codable, Sendable {
    var ok = 0
    /// Reads that found no row.
    var missing = 0
    /// Client timeouts and server WriteTimeout/ReadTimeout.
    var timeouts = 0
    var unavailable = 0
    var overloaded = 0
    /// Connection lost or refused, no node available.
    var connection = 0
    /// Refused by the client: every connection at its in-flight limit.
    var saturated = 0
    var other = 0
    var firstError: String?

    var errors: Int { timeouts + unavailable + overloaded + connection + saturated + other }
    var completed: Int { ok + missing + errors }

    mutating func record(_ outcome: CQLBenchOperation.Outcome) {
        switch outcome {
        case .ok: ok += 1
        case .missing: missing += 1
        case let .failed(e): record(e)
        }
    }

    mutating func record(_ error: ClientError) {
        if firstError == nil { firstError = error.description }
        switch error {
        case .timeout: timeouts += 1
        case .tooManyInFlight: saturated += 1
        case .connectionFailed, .connectionClosed, .noHostAvailable, .sessionClosed: connection += 1
        case let .server(e, _):
            switch e {
            case .writeTimeout, .readTimeout: timeouts += 1
            case .unavailable: unavailable += 1
            case .overloaded: overloaded += 1
            default: other += 1
            }
        case .protocolViolation, .handshakeFailed, .invalidValue: other += 1
        }
    }
}

/// One measured run: a workload at a consistency level, closed loop (throughput) or open loop
/// (latency at a fixed rate, measured from each request's due time).
struct CQLBenchRun: Codable, Sendable {
    enum Mode: String, Codable, Sendable { case closedLoop = "closed-loop", openLoop = "open-loop" }

    var workload: String
    var consistency: String
    var mode: Mode
    var concurrency: Int?
    var targetRate: Double?
    var seconds: Double
    var opsPerSecond: Double
    var counts: CQLBenchCounts
    /// Requests due in the open loop that could not be sent before the run ended (their
    /// latency is at least the time they waited and is recorded as such).
    var unsent: Int
    var latencyMillis: Percentiles

    struct Percentiles: Codable, Sendable {
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double

        init(_ h: Histogram<UInt64>) {
            func ms(_ p: Double) -> Double { h.totalCount == 0 ? 0 : Double(h.valueAtPercentile(p)) / 1e6 }
            p50 = ms(50)
            p90 = ms(90)
            p99 = ms(99)
            p999 = ms(99.9)
            max = h.totalCount == 0 ? 0 : Double(h.max) / 1e6
        }
    }

    /// `write QUORUM: 41,230 ops/s  p50 1.2 ms  p99 4.8 ms  p99.9 9.1 ms  errors 0 (timeouts 0, unavailable 0)`
    var line: String {
        let l = latencyMillis
        var head = "\(workload) \(consistency)"
        switch mode {
        case .closedLoop: head += " (closed loop, \(concurrency ?? 0) in flight)"
        case .openLoop: head += " (open loop at \(Self.grouped(targetRate ?? 0)) ops/s)"
        }
        var out = "\(head): \(Self.grouped(opsPerSecond)) ops/s  p50 \(Self.ms(l.p50))  p90 \(Self.ms(l.p90))  p99 \(Self.ms(l.p99))"
            + "  p99.9 \(Self.ms(l.p999))  max \(Self.ms(l.max))  errors \(counts.errors) (timeouts \(counts.timeouts), unavailable \(counts.unavailable)"
        if counts.overloaded > 0 { out += ", overloaded \(counts.overloaded)" }
        if counts.connection > 0 { out += ", connection \(counts.connection)" }
        if counts.saturated > 0 { out += ", saturated \(counts.saturated)" }
        if counts.other > 0 { out += ", other \(counts.other)" }
        out += ")"
        if counts.missing > 0 { out += "  missing \(counts.missing)" }
        if unsent > 0 { out += "  unsent \(unsent)" }
        return out
    }

    /// `41,230`
    static func grouped(_ v: Double) -> String {
        var digits = String(Int(v.rounded()))
        var out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return digits + out
    }

    /// `1.2 ms`, `0.31 ms`, `120 ms`
    static func ms(_ v: Double) -> String {
        if v >= 100 { return "\(Int(v.rounded())) ms" }
        if v >= 10 { return "\(Double(Int((v * 10).rounded())) / 10) ms" }
        return "\(String(format2: v)) ms"
    }
}
