import BasaltServer
import Testing

struct EncryptionConfigTests {
    @Test func cassandrasKeysLoadAndRoundTrip() throws {
        let c = try NodeConfig().loading(yaml: """
        client_encryption_options:
          enabled: true
          optional: true
          keystore: /etc/basalt/node.pem
          keystore_password: secret
          truststore: /etc/basalt/ca.pem
          truststore_password: ignored
          require_client_auth: optional
          protocol: TLS
          accepted_protocols: [TLSv1.3]
          cipher_suites: [TLS_AES_128_GCM_SHA256]
          store_type: PEM
          ssl_context_factory:
            class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
        server_encryption_options:
          internode_encryption: all
          keystore: /etc/basalt/node.pem
          truststore: /etc/basalt/ca.pem
          require_client_auth: true
          require_endpoint_verification: false
          algorithm: SunX509
        """)
        #expect(c.problems().isEmpty)
        #expect(c.clientEncryption.enabled && c.clientEncryption.optional && c.clientEncryption.keystorePassword == "secret")
        #expect(c.clientEncryption.requireClientAuth == .optional && c.clientEncryption.acceptedProtocols == ["TLSv1.3"])
        #expect(c.clientEncryption.cipherSuites == ["TLS_AES_128_GCM_SHA256"])
        #expect(c.internodeEncrypted && c.serverEncryption.requireClientAuth == .required)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        #expect(!NodeConfig().internodeEncrypted && !NodeConfig().clientEncryption.enabled)
    }

    @Test func whatIsNotBuiltIsRefusedByName() {
        for (yaml, problem) in [
            ("client_encryption_options: {store_type: JKS}", "client_encryption_options.store_type: only PEM files are read, got 'JKS'"),
            ("server_encryption_options: {internode_encryption: dc}", "server_encryption_options.internode_encryption must be none or all (dc and rack are not built), got 'dc'"),
            ("client_encryption_options: {internode_encryption: all}", "internode_encryption belongs in server_encryption_options"),
            ("server_encryption_options: {require_endpoint_verification: true}", "server_encryption_options.require_endpoint_verification: true is not built (peers are checked by CA only)"),
            ("client_encryption_options: {colour: blue}", "unknown client_encryption_options setting 'colour'"),
            ("client_encryption_options: {require_client_auth: maybe}", "client_encryption_options.require_client_auth must be true, false or optional"),
        ] {
            #expect(throws: NodeConfigError([problem])) { try NodeConfig().loading(yaml: yaml) }
        }
    }

    @Test func missingFilesAreProblems() throws {
        let c = try NodeConfig().loading(yaml: """
        client_encryption_options: {enabled: true, require_client_auth: true}
        server_encryption_options: {internode_encryption: all, keystore: /k.pem}
        """)
        #expect(c.problems() == [
            "client_encryption_options.keystore (PEM private key and certificate chain) is required when enabled",
            "client_encryption_options.require_client_auth needs a truststore (PEM CA certificates)",
            "server_encryption_options with internode_encryption: all needs a keystore and a truststore (PEM)",
        ])
    }
}
