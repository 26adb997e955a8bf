import BasaltCluster
import BasaltCore
import BasaltServer
import Synchronization
import Testing

/// `/health` and `/ready`, the probes of container orchestrators.
struct AdminProbeTests {
    static func snapshot(normal: Bool) -> MembershipSnapshot {
        var m = ClusterMembership(
            settings: Gossip.Settings(clusterName: "t", seeds: []),
            local: .init(hostId: UUIDValue(msb: 1, lsb: 3), address: NodeAddress(host: "127.0.2.41", port: 7000),
                         nativeAddress: NodeAddress(host: "127.0.2.41", port: 9042), releaseVersion: "0.1.0"),
            generation: 1234, clock: ManualClock())
        if normal {
            _ = m.announceNormal(tokens: [Token(7)])
        } else {
            _ = m.onLocalStateChange([.status(.joining)])
        }
        return MembershipSnapshot(view: m.view, generation: 1234)
    }

    @Test func healthAnswersAlwaysAndReadyOnlyOnceNormalAndServing() {
        let normal = Atomic(false), serving = Atomic(false)
        let routes = AdminRoutes(snapshot: { Self.snapshot(normal: normal.load(ordering: .relaxed)) }, metrics: MetricsRegistry(),
                                 notServing: { serving.load(ordering: .relaxed) ? nil : "CQL not yet" })
        func get(_ path: String) -> HTTPResponse { routes.respond(to: AdminRoutesTests.request("GET", path)) }
        #expect(get("/health").status == 200)
        let joining = get("/ready")
        #expect(joining.status == 503 && String(decoding: joining.body, as: UTF8.self).contains("JOINING"))
        normal.store(true, ordering: .relaxed)
        let notServing = get("/ready")
        #expect(notServing.status == 503 && String(decoding: notServing.body, as: UTF8.self).contains("CQL not yet"))
        serving.store(true, ordering: .relaxed)
        #expect(get("/ready").status == 200)
        #expect(routes.respond(to: AdminRoutesTests.request("HEAD", "/ready")).status == 200)
        #expect(get("/health").status == 200)
    }

    @Test func queryValuesArePercentDecoded() {
        let r = AdminRoutesTests.request("GET", "/getendpoints?key=7%3Ax&tag=a%20b%C3%A9&bad=%zz&end=%4&plain=x")
        #expect(r.queryValue("key") == "7:x")
        #expect(r.queryValue("tag") == "a bé")
        #expect(r.queryValue("bad") == "%zz" && r.queryValue("end") == "%4" && r.queryValue("plain") == "x")
    }
}
