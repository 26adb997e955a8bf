/// Writes metrics in the Prometheus text exposition format (version 0.0.4): for each family a
/// `# HELP` and a `# TYPE` line, then one sample per line, `name{label="value",…} number`.
///
/// Label values are escaped (backslash, double quote, newline) so any text is safe to put in one.
public struct PrometheusText: Sendable {
    public enum MetricType: String, Sendable {
        case counter, gauge
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
