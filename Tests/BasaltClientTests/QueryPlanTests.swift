import Testing
@testable import BasaltClient

/// Which nodes a request tries, in which order.
struct QueryPlanTests {
    // Nodes 0–5: 0, 1, 2, 3 in the local DC; 4, 5 remote. Node 2 is down.
    let local: Set<Int> = [0, 1, 2, 3]
    let down: Set<Int> = [2]

    func plan(_ replicas: [Int]?, rotation: Int) -> [Int] {
        QueryPlan.order(replicas: replicas, nodeCount: 6, rotation: rotation, isUp: { !down.contains($0) }, isLocal: { local.contains($0) })
    }

    @Test func liveLocalReplicasComeFirstRoundRobin() {
        let firsts = (0 ..< 6).map { plan([1, 4, 3, 2], rotation: $0)[0] }
        #expect(Set(firsts) == [1, 3])
        #expect(firsts.filter { $0 == 1 }.count == 3)
        let p = plan([1, 4, 3, 2], rotation: 0)
        #expect(Array(p.prefix(3)) == [1, 3, 4])  // then the remote replica
        #expect(p.last == 2)  // the down node last
        #expect(p.sorted() == Array(0 ..< 6))  // every node once
    }

    @Test func withoutReplicasItIsRoundRobinOverLiveNodesLocalFirst() {
        let p = plan(nil, rotation: 1)
        #expect(Array(p.prefix(3)).sorted() == [0, 1, 3])
        #expect(Set(p[3 ..< 5]) == [4, 5])
        #expect(p.last == 2)
        let firsts = Set((0 ..< 3).map { plan(nil, rotation: $0)[0] })
        #expect(firsts == [0, 1, 3])
    }

    @Test func downReplicasFallBackToOtherNodes() {
        let p = plan([2], rotation: 7)
        #expect(p.first != 2)
        #expect(p.last == 2)
        #expect(p.count == 6)
    }

    @Test func outOfRangeReplicaIndicesAreIgnored() {
        #expect(plan([9, -1, 0], rotation: 0).first == 0)
        #expect(QueryPlan.order(replicas: [0], nodeCount: 0, rotation: 0, isUp: { _ in true }, isLocal: { _ in true }).isEmpty)
    }
}
