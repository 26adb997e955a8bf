import Testing
@testable import BasaltClient

/// The stream-id table of a connection, as a pure value.
struct InFlightRequestsTests {
    @Test func idsAreUniqueAndBounded() {
        var t = InFlightRequests<Int>(capacity: 4)
        let ids = (0 ..< 4).compactMap { t.start($0, deadline: 100) }
        #expect(Set(ids).count == 4)
        #expect(ids.allSatisfy { $0 >= 0 && $0 < 4 })
        #expect(t.isFull)
        #expect(t.start(9, deadline: 100) == nil)
        #expect(t.waitingCount == 4)
    }

    @Test func responsesMatchByStreamInAnyOrder() {
        var t = InFlightRequests<String>(capacity: 8)
        var byID = [Int16: String]()
        for name in ["a", "b", "c", "d"] { byID[t.start(name, deadline: 100)!] = name }
        for id in byID.keys.shuffled() { #expect(t.complete(id) == byID[id]) }
        #expect(t.waitingCount == 0 && t.inUse == 0)
        #expect(t.complete(0) == nil)
        #expect(t.complete(-1) == nil)
        #expect(t.complete(8) == nil)
    }

    @Test func freedIdsAreReused() {
        var t = InFlightRequests<Int>(capacity: 3)
        let a = t.start(1, deadline: 0)!
        _ = t.start(2, deadline: 0)
        #expect(t.complete(a) == 1)
        #expect(t.start(3, deadline: 0) == a)
    }

    @Test func expiredRequestsKeepTheirIdUntilTheLateAnswer() {
        var t = InFlightRequests<Int>(capacity: 2)
        let early = t.start(1, deadline: 10)!
        let late = t.start(2, deadline: 50)!
        #expect(t.expire(now: 20) == [1])
        #expect(t.expire(now: 20).isEmpty)
        #expect(t.orphanedCount == 1 && t.waitingCount == 1)
        // The orphaned id is not handed out again while the server may still answer on it.
        #expect(t.start(3, deadline: 100) == nil)
        #expect(t.complete(early) == nil)
        #expect(t.orphanedCount == 0)
        #expect(t.start(4, deadline: 100) == early)
        #expect(t.complete(late) == 2)
    }

    @Test func failAllHandsEveryWaiterBackOnce() {
        var t = InFlightRequests<Int>(capacity: 6)
        for i in 0 ..< 5 { _ = t.start(i, deadline: 10) }
        _ = t.expire(now: 11)
        _ = t.start(7, deadline: 100)
        #expect(t.failAll() == [7])
        #expect(t.inUse == 0 && t.waitingCount == 0 && t.orphanedCount == 0)
        #expect(t.failAll().isEmpty)
    }

    @Test func capacityIsClampedToTheProtocolsStreamIds() {
        #expect(InFlightRequests<Int>(capacity: 100_000).capacity == 32768)
        #expect(InFlightRequests<Int>(capacity: 0).capacity == 1)
    }
}
