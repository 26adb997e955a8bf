import BasaltProtocol
import BasaltCore
import BasaltNet

extension NodeConnection {
    /// STARTUP, then PLAIN authentication when the server asks for it, then `USE keyspace` when
    /// given. An ERROR from the server is thrown as ``ClientError/server(_:node:)`` (bad
    /// credentials keep their code 0x0100); anything else unexpected as
    /// ``ClientError/handshakeFailed(node:reason:)``.
    func handshake(credentials: SessionConfiguration.Credentials?, keyspace: String?, timeout: Duration) async throws(ClientError) {
        let startup = try await request(.startup(["CQL_VERSION": "3.0.0", "DRIVER_NAME": "BasaltClient"]), timeout: timeout)
        switch startup {
        case .ready:
            break
        case let .authenticate(authenticator):
            guard let credentials else {
                throw .handshakeFailed(node: node, reason: "the server requires authentication (\(authenticator)) and no credentials were given")
            }
            let answer = try await request(.authResponse(credentials.plainToken), timeout: timeout)
            switch answer {
            case .authSuccess: break
            case .authChallenge: throw .handshakeFailed(node: node, reason: "unexpected AUTH_CHALLENGE after the PLAIN token")
            default: throw .handshakeFailed(node: node, reason: "expected AUTH_SUCCESS, got \(answer.opcode)")
            }
        default:
            throw .handshakeFailed(node: node, reason: "expected READY or AUTHENTICATE, got \(startup.opcode)")
        }
        if let keyspace {
            _ = try await request(.query("USE " + CQLIdentifier.quoted(keyspace), QueryParameters(consistency: .one)), timeout: timeout)
        }
    }

    /// Asks for TOPOLOGY_CHANGE, STATUS_CHANGE and SCHEMA_CHANGE events on this connection.
    func registerForEvents(timeout: Duration) async throws(ClientError) {
        let answer = try await request(.register(["TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"]), timeout: timeout)
        guard case .ready = answer else { throw .protocolViolation(node: node, reason: "expected READY after REGISTER, got \(answer.opcode)") }
    }

    /// A connected, handshaken connection to `address`; closed again if the handshake fails.
    static func open(to address: SocketAddress, on loop: EventLoop, configuration: SessionConfiguration) async throws(ClientError) -> NodeConnection {
        var local: SocketAddress?
        if let text = configuration.localAddress {
            do throws(TCPError) {
                local = try SocketAddress(host: text, port: 0)
            } catch {
                throw .connectionFailed(node: address.description, reason: error.description)
            }
        }
        let connection = try await connect(to: address, on: loop, bindingTo: local, maxInFlight: configuration.maxInFlightPerConnection,
                                           connectTimeout: configuration.connectTimeout, tls: configuration.tls, logger: configuration.logger)
        do throws(ClientError) {
            try await connection.handshake(credentials: configuration.credentials, keyspace: configuration.keyspace,
                                           timeout: configuration.connectTimeout)
        } catch {
            connection.close(error)
            throw error
        }
        return connection
    }
}

/// CQL identifier quoting.
enum CQLIdentifier {
    /// `"name"` with inner quotes doubled, so any keyspace or table name is taken as written.
    static func quoted(_ name: String) -> String { "\"" + name.replacingAll("\"", with: "\"\"") + "\"" }
}
