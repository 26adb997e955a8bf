import BasaltNet
import Logging

/// The node's TLS contexts, built from its configuration at start: the native port's (server side)
/// and the internode ones (server side for connections peers open, client side for the ones this
/// node opens). ``reloadIfChanged()`` and ``reload()`` re-read the PEM files without a restart.
public final class NodeTLS: Sendable {
    public let native: TLSContext?
    public let internodeServer: TLSContext?
    public let internodeClient: TLSContext?

    /// No TLS anywhere.
    public static let none = NodeTLS()

    private init() {
        native = nil
        internodeServer = nil
        internodeClient = nil
    }

    init(config c: NodeConfig, logger: Logger) throws(TLSError) {
        native = c.clientEncryption.enabled
            ? try TLSContext(role: .server, configuration: c.clientEncryption.tlsConfiguration(for: .server),
                             allowsPlaintext: c.clientEncryption.optional, name: "client_encryption_options", logger: logger)
            : nil
        if c.internodeEncrypted {
            internodeServer = try TLSContext(role: .server, configuration: c.serverEncryption.tlsConfiguration(for: .server),
                                             name: "server_encryption_options", logger: logger)
            internodeClient = try TLSContext(role: .client, configuration: c.serverEncryption.tlsConfiguration(for: .client),
                                             name: "server_encryption_options (outbound)", logger: logger)
        } else {
            internodeServer = nil
            internodeClient = nil
        }
    }

    var contexts: [TLSContext] { [native, internodeServer, internodeClient].compactMap { $0 } }

    /// `basalt_tls_*` families, labelled by context (`client`, `internode`, `internode_outbound`).
    func writeMetrics(into out: inout PrometheusText) {
        var labelled = [(labels: [(String, String)], counters: TLSCounters)]()
        if let native { labelled.append(([("context", "client")], native.counters)) }
        if let internodeServer { labelled.append(([("context", "internode")], internodeServer.counters)) }
        if let internodeClient { labelled.append(([("context", "internode_outbound")], internodeClient.counters)) }
        guard !labelled.isEmpty else { return }
        let families: [(name: String, help: String, value: (TLSCounters) -> Int)] = [
            ("basalt_tls_handshakes_total", "TLS handshakes finished.", { $0.handshakes }),
            ("basalt_tls_handshake_failures_total", "TLS handshakes failed (not TLS, certificate refused, nothing in common).", { $0.failures }),
            ("basalt_tls_handshake_timeouts_total", "Connections closed for not finishing the TLS handshake in time.", { $0.timeouts }),
            ("basalt_tls_handshake_oversized_total", "Connections closed for sending too much before the TLS handshake finished.", { $0.oversized }),
            ("basalt_tls_reloads_total", "Certificate reloads from the PEM files.", { $0.reloaded }),
        ]
        for family in families {
            out.family(family.name, type: .counter, help: family.help,
                       samples: labelled.map { (labels: $0.labels, value: Double(family.value($0.counters))) })
        }
    }

    /// Rebuilds each context whose files changed (checked periodically by the node).
    func reloadIfChanged() {
        for context in contexts { context.reloadIfChanged() }
    }

    /// Rebuilds every context now (`basalt admin reloadssl`); the answer says what was reloaded or
    /// why a context kept its previous certificates.
    func reload() -> (ok: Bool, report: String) {
        guard !contexts.isEmpty else { return (true, "TLS is not enabled on this node; nothing to reload\n") }
        var ok = true
        var lines = [String]()
        for context in contexts {
            do {
                try context.reload()
                lines.append("\(context.name): reloaded")
            } catch {
                ok = false
                lines.append("\(context.name): kept the previous certificates: \(error)")
            }
        }
        return (ok, lines.joined(separator: "\n") + "\n")
    }
}
