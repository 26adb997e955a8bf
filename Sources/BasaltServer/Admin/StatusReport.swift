import BasaltCluster
import BasaltCore

/// `GET /status`: one node's view of every member, as JSON (`?format=json`) or as a table shaped
/// like `nodetool status` (one line per member: `UN 127.0.0.1 …`, U/D for up/down and N/J/L for
/// normal/joining/leaving).
public struct StatusReport: Codable, Equatable, Sendable {
    public struct Node: Codable, Equatable, Sendable {
        public var address: String
        public var internodePort: Int
        public var hostId: String?
        public var dataCenter: String
        public var rack: String
        /// `NORMAL`, `JOINING`, … or `UNKNOWN` before the member gossiped one.
        public var status: String
        public var up: Bool
        public var generation: Int64
        public var tokens: Int
        /// Bytes on disk as gossiped; nil until the storage engine reports it.
        public var load: Double?
        public var schemaVersion: String?
        public var releaseVersion: String?
        /// Fraction of the ring this member is the primary owner of (0…1).
        public var owns: Double
        /// `UN`, `DN`, `UJ`, …
        public var state: String
        /// The member's wall clock minus the reporting node's, as its echoes measure it (ms); nil for
        /// the reporting node itself and for peers without a fresh estimate.
        public var clockOffsetMs: Double?
    }

    /// The reporting node's internode address.
    public var localAddress: String
    public var generation: Int64
    public var nodes: [Node]
    /// The keyspace whose replication `owns` counts (effective ownership, summing to its replication
    /// factor over the nodes), or nil: `owns` is then the share of the ring each node is primary for.
    public var keyspace: String?
    /// The reporting node's operation mode: `NORMAL`, or `DRAINED` after `basalt admin drain`.
    public var mode: String?

    /// - Parameter effectiveOwnership: for `keyspace`, each node's share of the ring it holds a
    ///   replica of (``EffectiveOwnership``); without it, primary ownership.
    public init(_ snapshot: MembershipSnapshot, clockOffsetsMillis: [String: Double] = [:],
                keyspace: String? = nil, effectiveOwnership: [NodeAddress: Double]? = nil, mode: String? = nil) {
        localAddress = snapshot.localAddress.description
        generation = snapshot.generation
        self.keyspace = effectiveOwnership == nil ? nil : keyspace
        self.mode = mode
        var owned: [NodeAddress: Double] = [:]
        if let effectiveOwnership {
            owned = effectiveOwnership
        } else {
            for (i, w) in snapshot.ring.rangeWidths.enumerated() {
                owned[snapshot.ring.members[snapshot.ring.owners[i]].identity.address, default: 0] += w
            }
        }
        // Nodes that left or were removed are gone from the cluster (as in nodetool status).
        nodes = snapshot.sortedMembers.filter { $0.status?.isDeadState != true }.map { m in
            let status = m.status?.rawValue ?? "UNKNOWN"
            let letter: String = switch m.status {
            case .normal: "N"
            case .joining: "J"
            case .leaving: "L"
            case .left, .removed: "X"
            case nil: "?"
            }
            return Node(
                address: m.address.host, internodePort: Int(m.address.port), hostId: m.hostId?.description,
                dataCenter: m.dataCenter, rack: m.rack, status: status, up: m.isAlive, generation: m.generation,
                tokens: m.tokens.count, load: m.load, schemaVersion: m.schemaVersion?.description,
                releaseVersion: m.releaseVersion, owns: owned[m.address] ?? 0, state: (m.isAlive ? "U" : "D") + letter,
                clockOffsetMs: clockOffsetsMillis[m.address.host])
        }
    }

    /// The `nodetool status`-like table, one section per data center.
    public var text: String {
        var out = mode.map { $0 == "NORMAL" ? "" : "Mode: \($0) (this node accepts no writes until it restarts)\n" } ?? ""
        let dcs = Array(Set(nodes.map(\.dataCenter))).sorted()
        for dc in dcs {
            let header = "Datacenter: \(dc)"
            out += header + "\n" + String(repeating: "=", count: header.count) + "\n"
            out += "Status=Up/Down\n|/ State=Normal/Leaving/Joining\n"
            // The clock column appears once some peer's offset is known.
            let clocks = nodes.contains { $0.clockOffsetMs != nil }
            let rows = nodes.filter { $0.dataCenter == dc }.map { n in
                [n.state, n.address, n.load.map(Self.formatBytes) ?? "?", "\(n.tokens)", Self.formatPercent(n.owns),
                 n.hostId ?? "?", n.rack] + (clocks ? [n.clockOffsetMs.map(Self.formatOffset) ?? "-"] : [])
            }
            let owns = keyspace == nil ? "Owns" : "Owns (effective)"
            out += Self.table(header: ["--", "Address", "Load", "Tokens", owns, "Host ID", "Rack"] + (clocks ? ["Clock offset"] : []), rows: rows)
            out += "\n"
        }
        if keyspace == nil {
            out += "Note: Owns is each node's share of the ring as primary owner, whatever the replication; "
                + "name a keyspace (basalt admin status KEYSPACE) for effective ownership under its replication.\n"
        }
        return out
    }

    static func table(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var s = ""
            for (i, cell) in cells.enumerated() {
                s += i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            return s + "\n"
        }
        return line(header) + rows.map(line).joined()
    }

    /// `+600012 ms`, `-3 ms`: whole milliseconds with a sign.
    static func formatOffset(_ ms: Double) -> String {
        let v = Int(ms.rounded())
        return (v >= 0 ? "+" : "") + "\(v) ms"
    }

    static func formatPercent(_ fraction: Double) -> String {
        let tenths = Int((fraction * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    static func formatBytes(_ bytes: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = bytes
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        if u == 0 { return "\(Int(v)) B" }
        let hundredths = Int((v * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(units[u])"
    }
}

/// `GET /ring`: every ring token with its owner, ascending.
public struct RingReport: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var token: Int64
        public var address: String
        public var hostId: String
        public var dataCenter: String
        public var rack: String
    }

    public var entries: [Entry]

    public init(_ ring: TokenRing) {
        entries = ring.sortedTokens.indices.map { i in
            let m = ring.members[ring.owners[i]]
            return Entry(token: ring.sortedTokens[i].value, address: m.identity.address.host,
                         hostId: m.identity.hostId.description, dataCenter: m.dataCenter, rack: m.rack)
        }
    }

    public var text: String {
        StatusReport.table(header: ["Token", "Address", "Host ID", "DC", "Rack"],
                           rows: entries.map { ["\($0.token)", $0.address, $0.hostId, $0.dataCenter, $0.rack] })
    }
}
