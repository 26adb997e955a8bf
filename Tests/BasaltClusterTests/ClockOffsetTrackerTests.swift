import Testing
@testable import BasaltCluster

struct ClockOffsetTrackerTests {
    typealias T = ClockOffsetTracker
    let ms: Int64 = 1000
    let msNanos: UInt64 = 1_000_000

    /// A sample from `peer` whose clock is `peerAhead` µs ahead of ours, sent at `at` (µs of our wall
    /// clock and ns of our monotonic clock alike), with the answer taking `outNanos` out and `backNanos` back.
    func sample(_ t: inout T, _ peer: String, peerAhead: Int64, at: UInt64, outNanos: UInt64 = 1_000_000, backNanos: UInt64 = 1_000_000) -> [T.Event] {
        let sentWall = Int64(at / 1000)
        let peerWall = sentWall + Int64(outNanos / 1000) + peerAhead
        return t.onSample(peer: peer, sentWallMicros: sentWall, peerWallMicros: peerWall, roundTripNanos: outNanos + backNanos, nowNanos: at + outNanos + backNanos)
    }

    @Test func symmetricRoundTripGivesTheExactOffset() {
        var t = T()
        _ = sample(&t, "b", peerAhead: 123 * ms, at: 1_000_000_000)
        let e = t.estimate(for: "b", nowNanos: 1_002_000_000)
        #expect(e?.offsetMicros == 123 * ms)
        #expect(e?.uncertaintyMicros == 1 * ms)
    }

    @Test func theLeastDelayedSampleWinsAndAsymmetryStaysWithinItsUncertainty() {
        var t = T()
        // A queued answer (50 ms back, 1 ms out) is off by half the asymmetry…
        _ = sample(&t, "b", peerAhead: 0, at: 1_000_000_000, outNanos: 1_000_000, backNanos: 50_000_000)
        let skewed = t.estimate(for: "b", nowNanos: 1_100_000_000)!
        #expect(abs(skewed.offsetMicros) <= skewed.uncertaintyMicros)
        #expect(skewed.offsetMicros == -Int64(49_000 / 2))
        // …and a later quick exchange replaces it.
        _ = sample(&t, "b", peerAhead: 0, at: 2_000_000_000, outNanos: 500_000, backNanos: 500_000)
        #expect(t.estimate(for: "b", nowNanos: 2_100_000_000)?.offsetMicros == 0)
    }

    @Test func aNodeAheadOfTheMajorityIsOutOfRangeUntilItComesBack() {
        var t = T()
        // This node is 10 minutes ahead: both peers look 600 s behind.
        let first = sample(&t, "b", peerAhead: -600_000 * ms, at: 1_000_000_000)
        #expect(first == [.peerOffsetHigh(peer: "b", offsetMicros: -600_000 * ms), .outOfRange(offsetMicros: 600_000 * ms, peersOff: 1, peers: 1)])
        // The second peer agrees: no new transition.
        #expect(sample(&t, "c", peerAhead: -600_000 * ms, at: 1_000_000_000) == [.peerOffsetHigh(peer: "c", offsetMicros: -600_000 * ms)])
        #expect(t.outOfRangeOffsetMicros == 600_000 * ms)
        // Back in range once newer, equally good samples agree (after the old ones go stale).
        var now: UInt64 = 40_000_000_000
        var back = sample(&t, "b", peerAhead: 2 * ms, at: now)
        now += 1_000_000
        back += sample(&t, "c", peerAhead: 1 * ms, at: now)
        #expect(back.filter { if case .backInRange = $0 { true } else { false } }.count == 1)
        #expect(back.contains(.peerOffsetNormal(peer: "c", offsetMicros: 1 * ms)))
        #expect(t.outOfRangeOffsetMicros == nil)
    }

    @Test func theFirstAnswerOfASkewedPeerDoesNotDecideWhileOthersAreUnmeasured() {
        var t = T()
        _ = t.onLivePeers(["b", "c"], nowNanos: 1_000_000_000)
        // A healthy node hears first from the skewed peer: one of two live peers is not a majority.
        #expect(sample(&t, "b", peerAhead: 600_000 * ms, at: 1_000_000_000) == [.peerOffsetHigh(peer: "b", offsetMicros: 600_000 * ms)])
        #expect(t.outOfRangeOffsetMicros == nil)
        // The skewed node itself needs both of its peers' answers.
        var skewed = T()
        _ = skewed.onLivePeers(["a", "c"], nowNanos: 1_000_000_000)
        _ = sample(&skewed, "a", peerAhead: -600_000 * ms, at: 1_000_000_000)
        #expect(skewed.outOfRangeOffsetMicros == nil)
        #expect(sample(&skewed, "c", peerAhead: -600_000 * ms, at: 1_000_000_000).contains(.outOfRange(offsetMicros: 600_000 * ms, peersOff: 2, peers: 2)))
    }

    @Test func oneSkewedPeerOfTwoDoesNotPutThisNodeOutOfRange() {
        var t = T()
        _ = sample(&t, "b", peerAhead: 600_000 * ms, at: 1_000_000_000)
        let events = sample(&t, "c", peerAhead: 3 * ms, at: 1_000_000_000)
        #expect(!events.contains { if case .outOfRange = $0 { true } else { false } })
        #expect(t.outOfRangeOffsetMicros == nil)
        #expect(t.estimates(nowNanos: 1_002_000_000).count == 2)
    }

    @Test func theThresholdAllowsForTheRoundTrip() {
        var settings = T.Settings()
        settings.maxOffsetMicros = 500 * ms
        var t = T(settings: settings)
        // 520 ms off but ± 100 ms uncertain: not surely beyond 500 ms.
        _ = sample(&t, "b", peerAhead: -520 * ms, at: 1_000_000_000, outNanos: 100_000_000, backNanos: 100_000_000)
        #expect(t.outOfRangeOffsetMicros == nil)
        // 520 ms off ± 1 ms: out.
        _ = sample(&t, "b", peerAhead: -520 * ms, at: 2_000_000_000)
        #expect(t.outOfRangeOffsetMicros == 520 * ms)
    }

    @Test func deadAndStalePeersDoNotVote() {
        var t = T()
        _ = sample(&t, "b", peerAhead: -600_000 * ms, at: 1_000_000_000)
        #expect(t.outOfRangeOffsetMicros != nil)  // the only peer disagrees: one of one
        let events = t.onLivePeers(["c"], nowNanos: 2_000_000_000)
        #expect(events.contains { if case .backInRange = $0 { true } else { false } })
        #expect(t.estimate(for: "b", nowNanos: 2_000_000_000) == nil)
        _ = sample(&t, "c", peerAhead: -600_000 * ms, at: 3_000_000_000)
        #expect(t.outOfRangeOffsetMicros != nil)
        // 30 s later with no news the estimate is stale and nobody votes.
        #expect(t.estimate(for: "c", nowNanos: 40_000_000_000) == nil)
        _ = t.onLivePeers(["c"], nowNanos: 40_000_000_000)
        #expect(t.outOfRangeOffsetMicros == nil)
    }

    @Test func zeroMaxOffsetNeverRefuses() {
        var settings = T.Settings()
        settings.maxOffsetMicros = 0
        var t = T(settings: settings)
        _ = sample(&t, "b", peerAhead: -600_000 * ms, at: 1_000_000_000)
        _ = sample(&t, "c", peerAhead: -600_000 * ms, at: 1_000_000_000)
        #expect(t.outOfRangeOffsetMicros == nil)
        #expect(t.estimate(for: "b", nowNanos: 1_002_000_000)?.offsetMicros == -600_000 * ms)
    }

    @Test func medianOfEvenAndOdd() {
        #expect(T.median([]) == 0)
        #expect(T.median([5]) == 5)
        #expect(T.median([1, 9, 3]) == 3)
        #expect(T.median([2, 4, 10, 0]) == 3)
    }
}
