import BasaltCluster

/// `basalt_write_failures_total` and `basalt_read_failures_total`, labelled by `cause` and `side`
/// (coordinator: the client got WriteFailure/ReadFailure; replica: this node refused its part).
enum RequestFailureMetrics {
    static func write(_ counts: [RequestFailures.Key: Int], into out: inout PrometheusText) {
        for kind in RequestFailures.Kind.allCases {
            let samples = counts.filter { $0.key.kind == kind }
                .sorted { ($0.key.side.rawValue, $0.key.cause.rawValue) < ($1.key.side.rawValue, $1.key.cause.rawValue) }
                .map { (labels: [("cause", $0.key.cause.rawValue), ("side", $0.key.side.rawValue)], value: Double($0.value)) }
            out.family("basalt_\(kind.rawValue)_failures_total", type: .counter,
                       help: "\(kind == .write ? "Write" : "Read") failures by cause, as coordinator and as replica.", samples: samples)
        }
    }
}
