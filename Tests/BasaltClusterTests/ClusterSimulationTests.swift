import BasaltCore
import Testing
@testable import BasaltCluster

/// Whole clusters in one process. Bounds are generous (they only catch a protocol that does not
/// converge or detect); the measured figures are in docs/membership.md.
struct ClusterSimulationTests {
    static let second: UInt64 = 1_000_000_000

    func downEvents(_ sim: ClusterSimulation, of node: Int, after index: Int) -> Set<Int> {
        Set(sim.records[index...].compactMap { r in
            if case let .down(m) = r.event, m.address == sim.nodes[node].address { r.node } else { nil }
        })
    }

    @Test func threeNodesConvergeDetectAndRecogniseARestart() {
        var sim = ClusterSimulation(.init(nodes: 3, seed: 3))
        #expect(sim.run(until: { $0.isConverged(up: [0, 1, 2]) }, limit: 30 * Self.second) != nil)
        // Everyone saw everyone join the ring and come up.
        for observer in 0 ..< 3 {
            let joined = Set(sim.records.filter { $0.node == observer }.compactMap { r -> NodeAddress? in
                if case let .joined(m) = r.event { m.address } else { nil }
            })
            #expect(joined == Set(sim.nodes.map(\.address)))
        }
        let mark = sim.records.count
        sim.kill(2)
        #expect(sim.run(until: { $0.isConverged(up: [0, 1], down: [2]) }, limit: 60 * Self.second) != nil)
        #expect(downEvents(sim, of: 2, after: mark) == [0, 1])
        let oldGeneration = sim.nodes[2].generation
        let mark2 = sim.records.count
        sim.run(seconds: 5)
        sim.restart(2)
        #expect(sim.nodes[2].generation > oldGeneration)
        #expect(sim.run(until: { $0.isConverged(up: [0, 1, 2]) }, limit: 30 * Self.second) != nil)
        let restartedSeenBy = Set(sim.records[mark2...].compactMap { r -> Int? in
            if case let .restarted(m) = r.event, m.address == sim.nodes[2].address, m.generation == sim.nodes[2].generation { r.node } else { nil }
        })
        #expect(restartedSeenBy == [0, 1])
        #expect(sim.rejections.isEmpty)
    }

    @Test func aNodeBackAtANewAddressReplacesItsOldEndpoint() {
        var sim = ClusterSimulation(.init(nodes: 3, seed: 5))
        #expect(sim.run(until: { $0.isConverged(up: [0, 1, 2]) }, limit: 30 * Self.second) != nil)
        let old = sim.nodes[2].address
        sim.run(seconds: 2)
        let moved = sim.moveToNewAddress(2)
        // The ring has the host at its new address, and everyone marks the old endpoint removed
        // instead of keeping it as a down node.
        #expect(sim.run(until: { s in
            s.isConverged(up: [0, 1, moved]) && [0, 1, moved].allSatisfy { s.nodes[$0].membership?.view.members[old]?.status == .removed }
        }, limit: 60 * Self.second) != nil)
        #expect(sim.rejections.isEmpty)
    }

    @Test func tenNodesWithMessageLoss() {
        var sim = ClusterSimulation(.init(nodes: 10, lossProbability: 0.1, seed: 10))
        let all = Set(0 ..< 10)
        #expect(sim.run(until: { $0.isConverged(up: all) }, limit: 60 * Self.second) != nil)
        sim.run(seconds: 20)
        #expect(sim.isConverged(up: all), "no false conviction under 10% loss")
        sim.kill(4)
        #expect(sim.run(until: { $0.isConverged(up: all.subtracting([4]), down: [4]) }, limit: 90 * Self.second) != nil)
    }

    @Test func partitionIsDetectedAndHeals() {
        var sim = ClusterSimulation(.init(nodes: 6, seed: 6))
        let all = Set(0 ..< 6)
        #expect(sim.run(until: { $0.isConverged(up: all) }, limit: 30 * Self.second) != nil)
        sim.partition([[0, 1, 2], [3, 4, 5]])
        // Each side marks the other down.
        let split = sim.run(until: { sim in
            (0 ..< 6).allSatisfy { i in
                let view = sim.nodes[i].membership!.view
                return (0 ..< 6).allSatisfy { j in
                    i == j || view.members[sim.nodes[j].address]?.isAlive == ((i < 3) == (j < 3))
                }
            }
        }, limit: 90 * Self.second)
        #expect(split != nil)
        sim.heal()
        #expect(sim.run(until: { $0.isConverged(up: all) }, limit: 60 * Self.second) != nil)
    }

    @Test func gracefulShutdownIsSeenAtOnce() {
        var sim = ClusterSimulation(.init(nodes: 5, seed: 5))
        let all = Set(0 ..< 5)
        #expect(sim.run(until: { $0.isConverged(up: all) }, limit: 30 * Self.second) != nil)
        sim.run(seconds: 5)
        sim.shutdown(1)
        #expect(sim.run(until: { $0.isConverged(up: all.subtracting([1]), down: [1]) }, limit: 1 * Self.second) != nil)
    }

    @Test func fiftyNodesConvergeAndDetect() {
        var sim = ClusterSimulation(.init(nodes: 50, seed: 50))
        let all = Set(0 ..< 50)
        #expect(sim.run(until: { $0.isConverged(up: all) }, limit: 60 * Self.second) != nil)
        let mark = sim.records.count
        sim.kill(37)
        #expect(sim.run(until: { $0.isConverged(up: all.subtracting([37]), down: [37]) }, limit: 90 * Self.second) != nil)
        #expect(downEvents(sim, of: 37, after: mark) == all.subtracting([37]))
        #expect(sim.rejections.isEmpty)
    }

    @Test func sameSeedSameRun() {
        func run() -> (UInt64, Int, UInt64) {
            var sim = ClusterSimulation(.init(nodes: 8, lossProbability: 0.05, seed: 99))
            sim.run(seconds: 12)
            return (sim.totalBytesSent, sim.records.count, sim.nodes.reduce(0) { $0 + $1.messagesSent })
        }
        #expect(run() == run())
    }
}
