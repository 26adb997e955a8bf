import BasaltCore
import BasaltNet
import Logging

/// How a ``Session`` connects and behaves. Defaults follow the Python driver where it has one.
public struct SessionConfiguration: Sendable {
    /// Where to start: `host` or `host:port` IP literals (port defaults to ``port``). The first
    /// that answers becomes the control connection; the others are only tried if it fails.
    public var contactPoints: [String]
    /// The native-protocol port of contact points given without one, and of `system.peers` rows
    /// (the v1 table has no port).
    public var port: UInt16 = 9042
    /// PLAIN authentication (PasswordAuthenticator); nil when the cluster does not ask.
    public var credentials: Credentials?
    /// `USE` this keyspace on every connection.
    public var keyspace: String?
    /// The data center whose replicas are preferred; nil means the first contact point's.
    public var localDataCenter: String?
    /// Connections opened to every node (requests go to the least loaded one).
    public var connectionsPerNode = 1
    /// Requests outstanding on one connection (stream ids in use); at most 32 768. A request
    /// beyond it on every connection of a node fails with ``ClientError/tooManyInFlight(node:limit:)``
    /// there (and tries the next node).
    public var maxInFlightPerConnection = 1024
    /// How long a request waits for its response before failing with ``ClientError/timeout(node:after:)``.
    public var requestTimeout: Duration = .seconds(12)
    /// How long opening a TCP connection and its handshake may take.
    public var connectTimeout: Duration = .seconds(5)
    /// The consistency of statements that do not name one.
    public var defaultConsistency: ConsistencyLevel = .localOne
    /// Rows per page when a statement does not say; 0 or less means unpaged.
    public var defaultPageSize: Int32 = 5000
    /// First and largest delay between reconnection attempts to a node that is down (doubling).
    public var reconnectInitialDelay: Duration = .milliseconds(100)
    public var reconnectMaxDelay: Duration = .seconds(10)
    /// Topology is re-read on every REGISTERed event and at least this often.
    public var topologyRefreshInterval: Duration = .seconds(60)
    /// After DDL, how long to wait for every live node to report the same schema version.
    public var schemaAgreementTimeout: Duration = .seconds(10)
    /// Event-loop threads of the session's own group (ignored when ``eventLoopGroup`` is given).
    public var eventLoopThreads = 1
    /// Loops to run connections on; nil makes the session start (and stop) its own.
    public var eventLoopGroup: EventLoopGroup?
    /// Address to bind the client end of every connection to (port 0), nil for the default route.
    public var localAddress: String?
    /// TLS to the nodes (a client ``TLSContext``: checks the node's certificate against its
    /// truststore, shows its keystore's certificate when it has one), or nil for plain text.
    public var tls: TLSContext?
    public var logger = Logger(label: "basalt.client")

    public init(contactPoints: [String]) {
        self.contactPoints = contactPoints
    }

    /// A user name and password for SASL PLAIN.
    public struct Credentials: Sendable, Hashable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }

        /// The PLAIN token: `\0user\0password`.
        var plainToken: [UInt8] { [0] + Array(username.utf8) + [0] + Array(password.utf8) }
    }
}
