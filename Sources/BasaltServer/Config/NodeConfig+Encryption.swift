import BasaltNet
import Yams

/// `client_encryption_options` / `server_encryption_options`, with Cassandra 4.1's keys. Only PEM
/// files are read (Cassandra's `PEMBasedSslContextFactory`): `keystore` holds the private key and the
/// certificate chain, `truststore` the CA certificates.
public struct EncryptionOptions: Sendable, Equatable {
    /// Client options: TLS on the native port. (Server options use ``internodeEncryption``.)
    public var enabled = false
    /// Client options: accept TLS and plain text on the same port (the first byte decides).
    public var optional = false
    public var keystore = ""
    public var keystorePassword = ""
    public var truststore = ""
    /// `require_client_auth`: false, true, or optional (checked when a certificate is given).
    public var requireClientAuth = TLSConfiguration.PeerCertificate.none
    /// `accepted_protocols` (or `protocol`): TLSv1.2, TLSv1.3; empty is both.
    public var acceptedProtocols: [String] = []
    /// `cipher_suites`: OpenSSL names.
    public var cipherSuites: [String] = []
    /// Server options: `internode_encryption`, `none` or `all`.
    public var internodeEncryption = "none"

    public init() {}

    /// The TLS settings these options describe, for the server side (`.server`) or the side that
    /// connects (`.client`: verifies the server against the truststore, shows the keystore's
    /// certificate when it has one).
    func tlsConfiguration(for role: TLSContext.Role) -> TLSConfiguration {
        var t = TLSConfiguration()
        t.keystore = keystore.isEmpty ? nil : keystore
        t.keystorePassword = keystorePassword.isEmpty ? nil : keystorePassword
        t.truststore = truststore.isEmpty ? nil : truststore
        t.peerCertificate = role == .server ? requireClientAuth : .none
        t.verifyServer = role == .client
        t.acceptedProtocols = acceptedProtocols
        t.cipherSuites = cipherSuites
        return t
    }

    /// The options as the indented lines of their YAML mapping (`internode` adds internode_encryption).
    func yaml(internode: Bool) -> String {
        func q(_ s: String) -> String { "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\"" }
        return """
          enabled: \(enabled)
          optional: \(optional)
          keystore: \(q(keystore))
          keystore_password: \(q(keystorePassword))
          truststore: \(q(truststore))
          require_client_auth: \(requireClientAuth == .none ? "false" : requireClientAuth == .required ? "true" : "optional")
          accepted_protocols: [\(acceptedProtocols.joined(separator: ", "))]
          cipher_suites: [\(cipherSuites.joined(separator: ", "))]
        """ + (internode ? "\n  internode_encryption: \(internodeEncryption)" : "")
    }
}

extension NodeConfig {
    /// Reads `client_encryption_options` or `server_encryption_options` (`key`). Cassandra's keystore
    /// and truststore keys for Java stores that PEM does not use are accepted and ignored; a
    /// non-PEM `store_type` and features not built are errors naming the key.
    static func parseEncryption(_ key: String, _ v: Yams.Node, into o: inout EncryptionOptions) throws(NodeConfigError) {
        guard let mapping = v.mapping else { throw NodeConfigError(["\(key) must be a mapping"]) }
        for (k, value) in mapping {
            let name = k.string ?? ""
            let text = value.scalar?.string ?? ""
            func bool() throws(NodeConfigError) -> Bool {
                guard let b = ["true": true, "false": false][text.lowercased()] else {
                    throw NodeConfigError(["\(key).\(name) must be true or false"])
                }
                return b
            }
            func list() -> [String] {
                if let items = value.sequence { return items.compactMap { $0.scalar?.string } }
                return splitList(text.trimmingCharacters(in: "[]"))
            }
            switch name {
            case "enabled": o.enabled = try bool()
            case "optional": o.optional = try bool()
            case "keystore": o.keystore = text
            case "keystore_password": o.keystorePassword = text
            case "truststore": o.truststore = text
            case "require_client_auth":
                switch text.lowercased() {
                case "false": o.requireClientAuth = .none
                case "true": o.requireClientAuth = .required
                case "optional": o.requireClientAuth = .optional
                default: throw NodeConfigError(["\(key).require_client_auth must be true, false or optional"])
                }
            case "accepted_protocols": o.acceptedProtocols = list()
            case "protocol":
                if o.acceptedProtocols.isEmpty && text.uppercased() != "TLS" { o.acceptedProtocols = [text] }
            case "cipher_suites": o.cipherSuites = list()
            case "internode_encryption":
                guard key == "server_encryption_options" else { throw NodeConfigError(["internode_encryption belongs in server_encryption_options"]) }
                switch text.lowercased() {
                case "none", "all": o.internodeEncryption = text.lowercased()
                default: throw NodeConfigError(["server_encryption_options.internode_encryption must be none or all (dc and rack are not built), got '\(text)'"])
                }
            case "store_type":
                guard text.uppercased() == "PEM" else {
                    throw NodeConfigError(["\(key).store_type: only PEM files are read, got '\(text)'"])
                }
            case "require_endpoint_verification", "legacy_ssl_storage_port_enabled", "enable_legacy_ssl_storage_port":
                if try bool() { throw NodeConfigError(["\(key).\(name): true is not built (peers are checked by CA only)"]) }
            case "ssl_context_factory":
                let factory = value.mapping?["class_name"]?.string ?? text
                guard factory.isEmpty || factory.hasSuffix("PEMBasedSslContextFactory") else {
                    throw NodeConfigError(["\(key).ssl_context_factory: only PEMBasedSslContextFactory is built, got '\(factory)'"])
                }
            case "truststore_password", "algorithm", "keystore_password_file", "truststore_password_file",
                 "outbound_keystore", "outbound_keystore_password", "max_certificate_validity_period":
                continue // Java key store settings: PEM files need none of them
            default: throw NodeConfigError(["unknown \(key) setting '\(name)'"])
            }
        }
    }

    /// Whether internode connections use TLS.
    public var internodeEncrypted: Bool { serverEncryption.internodeEncryption == "all" }

    var encryptionProblems: [String] {
        var out = [String]()
        if clientEncryption.enabled && clientEncryption.keystore.isEmpty {
            out.append("client_encryption_options.keystore (PEM private key and certificate chain) is required when enabled")
        }
        if clientEncryption.enabled && clientEncryption.requireClientAuth != .none && clientEncryption.truststore.isEmpty {
            out.append("client_encryption_options.require_client_auth needs a truststore (PEM CA certificates)")
        }
        if internodeEncrypted && (serverEncryption.keystore.isEmpty || serverEncryption.truststore.isEmpty) {
            out.append("server_encryption_options with internode_encryption: all needs a keystore and a truststore (PEM)")
        }
        return out
    }
}
