import BasaltCore

/// Writes metrics in the Prometheus text exposition format (version 0.0.4): for each family a
/// `# HELP` and a `# TYPE` line, then one sample per line, `name{label="value",…} number`.
///
/// Label values are escaped (backslash, double quote, newline) so any text is safe to put in one.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable {
        case counter, gauge, histogram
    }

    public private(set) var text = ""

    public init() {}

    /// A family with one sample per label set.
    public mutating func family(
        _ name: String, type: MetricType, help: String, samples: [(labels: [(String, String)], value: Double)]
    ) {
        text += "# HELP \(name) \(Self.escape(help, quotes: false))\n# TYPE \(name) \(type.rawValue)\n"
        for sample in samples {
            text += name
            if !sample.labels.isEmpty {
                text += "{" + sample.labels.map { "\($0.0)=\"\(Self.escape($0.1, quotes: true))\"" }.joined(separator: ",") + "}"
            }
            text += " " + Self.format(sample.value) + "\n"
        }
    }

    /// A counter with one unlabelled sample.
    public mutating func counter(_ name: String, help: String, _ value: Int) {
        family(name, type: .counter, help: help, samples: [([], Double(value))])
    }

    /// A gauge with one unlabelled sample.
    public mutating func gauge(_ name: String, help: String, _ value: Double) {
        family(name, type: .gauge, help: help, samples: [([], value)])
    }

    /// A histogram family: per label set, cumulative `name_bucket{…,le="…"}` samples ending with
    /// `le="+Inf"`, then `name_sum` and `name_count` (bounds and sum in the exported unit).
    public mutating func histogram(_ name: String, help: String, samples: [(labels: [(String, String)], value: BucketHistogram.Snapshot)]) {
        text += "# HELP \(name) \(Self.escape(help, quotes: false))\n# TYPE \(name) histogram\n"
        for sample in samples {
            let h = sample.value
            let labels = sample.labels.map { "\($0.0)=\"\(Self.escape($0.1, quotes: true))\"" }
            let plain = labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}"
            var cumulative: UInt64 = 0
            for (i, c) in h.bucketCounts.enumerated() {
                cumulative += c
                let le = i < h.upperBounds.count ? Self.format(Double(h.upperBounds[i]) / h.exportDivisor) : "+Inf"
                text += name + "_bucket{" + (labels + ["le=\"\(le)\""]).joined(separator: ",") + "} \(cumulative)\n"
            }
            text += name + "_sum" + plain + " " + Self.format(Double(h.sum) / h.exportDivisor) + "\n"
            text += name + "_count" + plain + " \(cumulative)\n"
        }
    }

    /// A histogram with one unlabelled sample.
    public mutating func histogram(_ name: String, help: String, _ value: BucketHistogram.Snapshot) {
        histogram(name, help: help, samples: [([], value)])
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// `s` with backslashes and newlines escaped, and double quotes too in a label value.
    static func escape(_ s: String, quotes: Bool) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quotes: out += "\\\""
            default: out.append(c)
            }
        }
        return out
    }
}
