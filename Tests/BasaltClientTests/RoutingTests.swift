import BasaltCluster
import BasaltCore
import BasaltCQL
import BasaltNet
import BasaltProtocol
import Testing
@testable import BasaltClient

/// Routing keys, tokens and replica placement, without a server.
struct RoutingTests {
    func int(_ v: Int32) -> ProtocolValue { .bytes(try! CQLType.int.encode(.int(v))) }
    func text(_ s: String) -> ProtocolValue { .bytes(Array(s.utf8)) }

    /// The vectors of CQL-COMPAT §4, checked against the Python driver.
    @Test func tokensOfRoutingKeysMatchTheDriver() {
        #expect(RoutingKey.token(values: [int(1)], partitionKeyIndexes: [0]) == Token(-4069959284402364209))
        #expect(RoutingKey.token(values: [int(0)], partitionKeyIndexes: [0]) == Token(-3485513579396041028))
        #expect(RoutingKey.token(values: [.bytes(try! CQLType.bigint.encode(.bigint(1)))], partitionKeyIndexes: [0]) == Token(6292367497774912474))
        #expect(RoutingKey.token(values: [text("x"), text("a")], partitionKeyIndexes: [1]) == Token(-8839064797231613815))
        // Composite (int 1, text 'a'): markers in another order than the key's columns.
        #expect(RoutingKey.bytes(values: [text("a"), int(1)], partitionKeyIndexes: [1, 0])?.hexString == "0004000000010000016100")
        #expect(RoutingKey.token(values: [text("a"), int(1)], partitionKeyIndexes: [1, 0]) == Token(6516349416904725244))
    }

    @Test func keysWithNullOrMissingComponentsAreNotRouted() {
        #expect(RoutingKey.bytes(values: [.null], partitionKeyIndexes: [0]) == nil)
        #expect(RoutingKey.bytes(values: [int(1), .unset], partitionKeyIndexes: [0, 1]) == nil)
        #expect(RoutingKey.bytes(values: [int(1)], partitionKeyIndexes: [3]) == nil)
        #expect(RoutingKey.bytes(values: [int(1)], partitionKeyIndexes: []) == nil)
    }

    static func randomNodes(count: Int, dataCenters: [String], racks: Int, tokens: Int, seed: UInt64) -> [ClusterNode] {
        var rng = SplitMix64(seed: seed)
        return (0 ..< count).map { i in
            ClusterNode(hostId: UUIDValue.random(using: &rng), address: try! SocketAddress(host: "10.0.0.\(i + 1)", port: 9042),
                        dataCenter: dataCenters[i % dataCenters.count], rack: "rack\(Int(rng.next() % UInt64(racks)))",
                        tokens: (0 ..< tokens).map { _ in Token(Int64(bitPattern: rng.next())) })
        }
    }

    /// The precomputed per-range table gives what BasaltCluster's strategy gives, for random
    /// tokens on random rings, for Simple and NetworkTopology strategies.
    @Test func topologyReplicasEqualTheStrategysPlacement() {
        for seed in UInt64(1) ... 8 {
            let nodes = Self.randomNodes(count: 7, dataCenters: ["dc1", "dc2"], racks: 3, tokens: 8, seed: seed)
            let keyspaces: [String: ReplicationParams] = [
                "s3": .simple(replicationFactor: 3), "n": .networkTopology(["dc1": 2, "dc2": 2]), "sys": .local,
            ]
            let topology = ClusterTopology(nodes: nodes, keyspaces: keyspaces)
            var rng = SplitMix64(seed: seed &* 77)
            for _ in 0 ..< 200 {
                let token = Token(Int64(bitPattern: rng.next()))
                for (ks, params) in keyspaces where params != .local {
                    let expected = ReplicationStrategy(params).replicas(for: token, in: topology.ring, localNode: topology.ring.members[0].identity)
                    #expect(topology.replicas(for: token, keyspace: ks).map(\.hostId) == expected.map(\.hostId))
                }
                #expect(topology.replicas(for: token, keyspace: "sys").isEmpty)
                #expect(topology.replicas(for: token, keyspace: "unknown").isEmpty)
            }
        }
    }

    /// SimpleStrategy by hand: the owner of the first ring token ≥ t, then clockwise distinct nodes.
    @Test func simpleStrategyWalksTheRingClockwise() {
        let ids = (1 ... 3).map { UUIDValue(msb: 0, lsb: UInt64($0)) }
        let nodes = [(ids[0], [-100, 200]), (ids[1], [0, 300]), (ids[2], [100])].enumerated().map { i, n in
            ClusterNode(hostId: n.0, address: try! SocketAddress(host: "10.0.0.\(i + 1)", port: 9042), dataCenter: "dc", rack: "r",
                        tokens: n.1.map { Token(Int64($0)) })
        }
        let topology = ClusterTopology(nodes: nodes, keyspaces: ["k": .simple(replicationFactor: 2)])
        func replicas(_ t: Int64) -> [UUIDValue] { topology.replicas(for: Token(t), keyspace: "k").map(\.hostId) }
        #expect(replicas(-100) == [ids[0], ids[1]])
        #expect(replicas(1) == [ids[2], ids[0]])
        #expect(replicas(250) == [ids[1], ids[0]])  // 300 is node 2's, then wrap to -100
        #expect(replicas(301) == [ids[0], ids[1]])
    }

    @Test func replicationMapsAsTheSchemaTablesShowThem() {
        #expect(TopologyRows.replication(["class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "3"]) == .simple(replicationFactor: 3))
        #expect(TopologyRows.replication(["class": "NetworkTopologyStrategy", "dc1": "3", "dc2": "2/1"]) == .networkTopology(["dc1": 3, "dc2": 2]))
        #expect(TopologyRows.replication(["class": "org.apache.cassandra.locator.LocalStrategy"]) == .local)
        #expect(TopologyRows.replication(["class": "org.apache.cassandra.locator.EverywhereStrategy"]) == nil)
        #expect(TopologyRows.replication(["class": "SimpleStrategy", "replication_factor": "x"]) == nil)
        #expect(TopologyRows.replication([:]) == nil)
    }

    /// The one-allocation encoding is byte for byte the shared codec's frame.
    @Test func encodedRequestsAreTheCodecsFrames() {
        let request = Request.execute(id: [1, 2, 3], QueryParameters(consistency: .quorum, values: [int(7), .null], pageSize: 10, defaultTimestamp: 42))
        let encoded = EncodedRequest(request)
        var out = [UInt8](repeating: 0, count: encoded.bytes.count)
        out.withUnsafeMutableBytes { encoded.write(into: $0, stream: 1234) }
        #expect(out == RequestFrame(stream: 1234, request: request).frame().encoded())
        out.withUnsafeMutableBytes { encoded.write(into: $0, stream: -5) }
        #expect(out == RequestFrame(stream: -5, request: request).frame().encoded())
    }
}
