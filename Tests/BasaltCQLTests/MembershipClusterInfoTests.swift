import BasaltCluster
import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

struct MembershipClusterInfoTests {
    static func member(_ host: String, status: NodeStatus?, alive: Bool = true, schema: UUIDValue? = nil) -> Member {
        var values: [Gossip.ApplicationValue] = [.hostId(UUIDValue(msb: 1, lsb: UInt64(host.count))), .nativeAddress(NodeAddress(host: host, port: 9042)),
                                                 .tokens([Token(5)]), .releaseVersion("5.0.0")]
        if let status { values.append(.status(status)) }
        if let schema { values.append(.schemaVersion(schema)) }
        var st = Gossip.EndpointState(heartbeat: .init(generation: 100, version: 50))
        for (i, v) in values.enumerated() { st.states[v.key] = .init(version: Int64(i + 1), bytes: v.encoded()) }
        return Member(address: NodeAddress(host: host, port: 7000), state: st, isAlive: alive)
    }

    @Test func peersComeFromMembershipAndFreshSchemaReports() {
        let versions = PeerSchemaVersions()
        let old = UUIDValue(msb: 9, lsb: 9), new = UUIDValue(msb: 8, lsb: 8)
        let members = [Self.member("127.0.0.1", status: .normal), Self.member("127.0.0.2", status: .normal, schema: old),
                       Self.member("127.0.0.3", status: .left), Self.member("127.0.0.4", status: .joining)]
        let info = MembershipClusterInfo(clusterName: "c", peerVersions: versions,
                                         local: { NodeInfo(hostId: UUIDValue(msb: 1, lsb: 9), address: "127.0.0.1", nativeAddress: "127.0.0.1", tokens: [Token(1)]) },
                                         members: { members })
        #expect(info.peers().map(\.address) == ["127.0.0.2"])
        #expect(info.peers().first?.schemaVersion == old)
        versions.record("127.0.0.2", new)
        #expect(info.peers().first?.schemaVersion == new)
        let row = SystemTableRows.peerV2(info.peers()[0])
        #expect(row?["native_port"] == SystemTableRows.int(9042) && row?["tokens"] != nil)
    }

    @Test func membershipEventsBecomeClientEvents() {
        let m = Self.member("127.0.0.2", status: .normal)
        let endpoint = InetEndpoint(address: [127, 0, 0, 2], port: 9042)
        #expect(MembershipClusterInfo.clientEvent(.joined(m)) == .topologyChange(.newNode, endpoint))
        #expect(MembershipClusterInfo.clientEvent(.removed(m)) == .topologyChange(.removedNode, endpoint))
        #expect(MembershipClusterInfo.clientEvent(.down(m)) == .statusChange(.down, endpoint))
        #expect(MembershipClusterInfo.clientEvent(.up(m)) == .statusChange(.up, endpoint))
        #expect(MembershipClusterInfo.clientEvent(.discovered(m)) == nil)
    }
}
