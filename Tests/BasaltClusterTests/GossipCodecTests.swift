import BasaltCore
import Testing
@testable import BasaltCluster

struct GossipCodecTests {
    static let from = NodeAddress(host: "10.0.0.1", port: 7000)

    static var sampleState: Gossip.EndpointState {
        let values: [Gossip.ApplicationValue] = [
            .status(.normal), .tokens([Token(-5), Token(Int64.max), Token(Int64.min + 1)]),
            .hostId(UUIDValue(msb: 0x1234, lsb: 0x5678)), .internodeAddress(from),
            .nativeAddress(NodeAddress(host: "::1", port: 9042)), .dataCenter("dc1"), .rack("rack é"),
            .schemaVersion(UUIDValue(msb: 9, lsb: 9)), .load(1.5e9), .releaseVersion("5.0.0-basalt"),
        ]
        var states: [Gossip.ApplicationState: Gossip.VersionedValue] = [:]
        for (i, v) in values.enumerated() { states[v.key] = .init(version: Int64(i + 1), bytes: v.encoded()) }
        states[.init(rawValue: 77)] = .init(version: 40, bytes: [0xff, 0x00])   // unknown key: carried as is
        return Gossip.EndpointState(heartbeat: .init(generation: 1_700_000_000, version: 1 << 40), states: states)
    }

    static var samples: [Gossip.Envelope] {
        let digests = [
            Gossip.Digest(address: from, generation: 1_700_000_000, maxVersion: 12),
            Gossip.Digest(address: NodeAddress(host: "10.0.0.2", port: 7001), generation: -1, maxVersion: 0),
        ]
        let deltas = [Gossip.EndpointDelta(address: from, state: sampleState),
                      Gossip.EndpointDelta(address: NodeAddress(host: "h", port: 1),
                                           state: .init(heartbeat: .init(generation: 1, version: 2)))]
        return [
            .init(from: from, message: .syn(clusterName: "Test Cluster", digests: digests)),
            .init(from: from, message: .syn(clusterName: "", digests: [])),
            .init(from: from, message: .ack(requests: digests, states: deltas)),
            .init(from: from, message: .ack(requests: [], states: [])),
            .init(from: from, message: .ack2(states: deltas)),
            .init(from: from, message: .echo),
            .init(from: from, message: .echoReply),
            .init(from: from, message: .shutdown),
        ]
    }

    @Test func everyMessageRoundTrips() throws {
        for e in Self.samples {
            #expect(try Gossip.Envelope.decode(e.encoded()) == e)
        }
    }

    @Test func typedValuesRoundTrip() {
        for (key, v) in Self.sampleState.states where key.rawValue < 77 {
            let typed = Gossip.ApplicationValue(key: key, bytes: v.bytes)
            #expect(typed?.encoded() == v.bytes, "\(key)")
            #expect(typed?.key == key)
        }
        #expect(Self.sampleState.tokens == [Token(-5), Token(Int64.max), Token(Int64.min + 1)])
        #expect(Self.sampleState.rack == "rack é")
        #expect(Gossip.ApplicationValue(key: .status, bytes: Array("SLEEPING".utf8)) == nil)
        #expect(Gossip.ApplicationValue(key: .tokens, bytes: [2, 0, 0]) == nil)
        #expect(Gossip.ApplicationValue(key: .hostId, bytes: [1, 2]) == nil)
        #expect(Gossip.ApplicationValue(key: .init(rawValue: 77), bytes: []) == nil)
    }

    @Test func everyTruncationIsATypedError() {
        for e in Self.samples {
            let bytes = e.encoded()
            for n in 0 ..< bytes.count {
                #expect(throws: DecodeError.self) { try Gossip.Envelope.decode(Array(bytes.prefix(n))) }
            }
            #expect(throws: DecodeError.self) { try Gossip.Envelope.decode(bytes + [0]) }
        }
    }

    @Test func mutatedBytesNeverTrap() {
        var rng = SplitMix64(seed: 77)
        for e in Self.samples {
            let bytes = e.encoded()
            for _ in 0 ..< 300 {
                var m = bytes
                for _ in 0 ..< 1 + Int(rng.next() % 4) {
                    m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                _ = try? Gossip.Envelope.decode(m)
            }
        }
    }

    @Test func boundsAreEnforced() {
        var w = ByteWriter()
        w.writeUInt8(Gossip.Envelope.protocolVersion)
        w.writeUInt8(3)
        Self.from.encode(into: &w)
        w.writeVarUInt(UInt64(1) << 40)                  // a billion billion states in a few bytes
        #expect(throws: DecodeError.self) { try Gossip.Envelope.decode(w.bytes) }

        var dup = ByteWriter()
        dup.writeUInt8(Gossip.Envelope.protocolVersion)
        dup.writeUInt8(3)
        Self.from.encode(into: &dup)
        dup.writeVarUInt(1)
        Self.from.encode(into: &dup)
        dup.writeVarInt(1); dup.writeVarInt(1)
        dup.writeVarUInt(2)
        for _ in 0 ..< 2 { dup.writeUInt8(5); dup.writeVarInt(1); dup.writeVarBytes([65]) }
        #expect(throws: DecodeError.invalid("application state DC twice for 10.0.0.1:7000", at: 32)) {
            try Gossip.Envelope.decode(dup.bytes)
        }
        #expect(throws: DecodeError.self) { try Gossip.Envelope.decode([2, 1]) }   // future version
        #expect(throws: DecodeError.self) { try Gossip.Envelope.decode([1, 99]) }  // unknown kind
    }

    @Test func messageSizes() {
        // A 50-endpoint SYN stays small: address, generation and version per endpoint.
        let digests = (0 ..< 50).map {
            Gossip.Digest(address: ClusterSimulation.address(of: $0), generation: 1_700_000_000, maxVersion: 3600)
        }
        let syn = Gossip.Envelope(from: Self.from, message: .syn(clusterName: "Test Cluster", digests: digests)).encoded()
        #expect(syn.count < 50 * 24)
        #expect(syn.count > 50 * 12)
    }
}
