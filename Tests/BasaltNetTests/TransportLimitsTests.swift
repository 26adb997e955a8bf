import BasaltCore
import BasaltNet
import Testing

/// The accounting values behind the transport limits, and their shells.
struct TransportLimitsTests {
    @Test func inFlightBytesAreCountedPerHostAndInTotal() {
        var b = InFlightBytes(limit: 100, limitPerHost: 40)
        b.add(30, host: "a")
        b.add(30, host: "b")
        #expect(!b.isOver(host: "a") && !b.isOver(host: "c"))
        b.add(10, host: "a")
        #expect(b.isOver(host: "a") && !b.isOver(host: "b"))
        #expect(b.breach(host: "a")?.perHost == true && b.breach(host: "a")?.held == 40)
        b.add(30, host: "c")
        #expect(b.total == 100 && b.isOver(host: "c") && b.breach(host: "c")?.perHost == false)
        b.remove(50, host: "a")  // more than "a" holds: never below zero
        #expect(b.total == 60 && b.perHost["a"] == nil && !b.isOver(host: "a"))
        var unlimited = InFlightBytes(limit: -1, limitPerHost: 0)
        unlimited.add(1 << 40, host: "a")
        #expect(!unlimited.isOver(host: "a"))
    }

    @Test func aPausedConnectionIsWokenOnceWhenItsHostHasRoomAgain() {
        let limiter = InFlightBytesLimiter(limit: 1000, limitPerHost: 100)
        let waiter = Shared(0)
        let other = Shared(0)
        let w1 = NSObjectLike(), w2 = NSObjectLike()
        limiter.add(50, host: "a")
        #expect(!limiter.pauseIfOver(host: "a", waiter: w1) { waiter.with { $0 += 1 } })
        limiter.add(60, host: "a")
        #expect(limiter.pauseIfOver(host: "a", waiter: w1) { waiter.with { $0 += 1 } })
        limiter.add(100, host: "b")
        #expect(limiter.pauseIfOver(host: "b", waiter: w2) { other.with { $0 += 1 } })
        limiter.remove(5, host: "a")  // 105: still over for "a"
        #expect(waiter.current == 0)
        limiter.remove(10, host: "a")
        limiter.remove(10, host: "a")
        #expect(waiter.current == 1 && other.current == 0)
        limiter.cancelWait(w2)
        limiter.remove(100, host: "b")
        #expect(other.current == 0 && limiter.pauses == 2 && limiter.snapshot.total == 85)
    }

    @Test func aReservationIsGrantedWhileUnderTheLimitLeavingOutTheAskersOwnBytes() {
        let limiter = InFlightBytesLimiter(limit: 0, limitPerHost: 100)
        limiter.add(90, host: "a")
        #expect(limiter.tryAdd(500, host: "a", own: 0))  // under the limit: granted, may pass it
        #expect(!limiter.tryAdd(10, host: "a", own: 0))
        #expect(limiter.tryAdd(10, host: "a", own: 590))  // the asker holds it all itself
        #expect(limiter.snapshot.perHost["a"] == 600)
    }

    @Test func connectionCapsRefuseWithTheirReason() {
        var c = ConnectionCounts(limit: 3, limitPerHost: 2)
        #expect(c.admit(host: "a") == nil && c.admit(host: "a") == nil)
        #expect(c.admit(host: "a") == .maxConnectionsPerHost)
        #expect(c.admit(host: "b") == nil)
        #expect(c.admit(host: "c") == .maxConnections)
        c.remove(host: "a")
        #expect(c.total == 2 && c.admit(host: "c") == nil)
        let limiter = ConnectionLimiter(limit: -1, limitPerHost: 1)
        #expect(limiter.admit(host: "x") == nil && limiter.admit(host: "x") == .maxConnectionsPerHost)
        #expect(limiter.refused[.maxConnectionsPerHost] == 1 && limiter.refused[.maxConnections] == 0 && limiter.open == 1)
    }

    @Test func theIncompleteFrameClockRunsFromTheFrameNotTheConnection() {
        var clock = IncompleteFrameClock(timeoutMillis: 1000)
        clock.onDecoded(completedFrames: true, partial: false, now: 10)
        #expect(clock.deadline == nil)
        clock.onDecoded(completedFrames: false, partial: true, now: 20)
        #expect(clock.deadline == 1020)
        // More bytes of the same frame do not move its start.
        clock.onDecoded(completedFrames: false, partial: true, now: 900)
        #expect(clock.deadline == 1020)
        // A frame finished and another begun in the same read starts a new clock.
        clock.onDecoded(completedFrames: true, partial: true, now: 950)
        #expect(clock.deadline == 1950)
        clock.onDecoded(completedFrames: true, partial: false, now: 960)
        #expect(clock.deadline == nil)
        var off = IncompleteFrameClock(timeoutMillis: 0)
        off.onDecoded(completedFrames: false, partial: true, now: 1)
        #expect(off.deadline == nil)
    }

    @Test func aThrottledLogLetsOneLinePerIntervalAndCountsTheRest() {
        let t = LogThrottle(interval: .seconds(10))
        #expect(t.admit(nowNanos: 0) == 0)
        #expect(t.admit(nowNanos: 1_000_000_000) == nil)
        #expect(t.admit(nowNanos: 2_000_000_000) == nil)
        #expect(t.admit(nowNanos: 10_000_000_000) == 2)
    }

    @Test func anAnnouncedPayloadIsNotReservedBeforeItArrives() throws {
        var d = InternodeFrameDecoder(maxPayloadSize: 16 << 20)
        var header = [UInt8](repeating: 0, count: InternodeFrameHeader.size)
        header.withUnsafeMutableBytes {
            InternodeFrameHeader(flags: [], verb: 7, requestID: 1, payloadLength: 12 << 20).encode(into: $0)
        }
        let chunk = header + [UInt8](repeating: 1, count: 1000)
        try chunk.withUnsafeBytes { bytes in try d.decode(bytes) { _ in true } }
        #expect(d.isMidFrame && d.bufferedByteCount == 1000)
        #expect(d.reservedByteCount <= InternodeFrameDecoder.initialReservation + 4096)  // allocator rounding
        // The first frame (the handshake of a peer not yet identified) has its own, lower limit.
        var early = InternodeFrameDecoder(maxPayloadSize: 16 << 20, maxFirstPayloadSize: 1024)
        #expect(throws: InternodeFrameError.frameTooLarge(length: 12 << 20, limit: 1024, at: 0)) {
            try header.withUnsafeBytes { bytes in try early.decode(bytes) { _ in true } }
        }
    }

    @Test func internodeRefusesBigFramesBeforeTheHandshakeHalfSentFramesAndConnectionsOverTheCap() async throws {
        try await withCluster { cluster in
            let b = try await cluster.start(host: 90, configure: {
                $0.maxFrameSize = 1 << 20
                $0.maxInboundConnections = 2
                $0.incompleteFrameTimeout = .milliseconds(300)
            })
            let hello = handshakeFrame(host: "127.0.1.99", port: 7000)
            var big = [UInt8](repeating: 0, count: InternodeFrameHeader.size)
            big.withUnsafeMutableBytes {
                InternodeFrameHeader(flags: [], verb: TestVerbs.echo.code, requestID: 1, payloadLength: 512 << 10).encode(into: $0)
            }
            try await withEventLoop { loop in
                func open(_ host: Int, _ bytes: [UInt8]) async throws -> (TCPConnection, Shared<TCPCloseReason?>) {
                    let client = try await TCPConnection.connect(on: loop, to: b.address, bindingTo: try TestAddress.any(host))
                    let closed = Shared<TCPCloseReason?>(nil)
                    try await loop.submit { () throws in
                        client.onClose = { reason in closed.with { $0 = reason } }
                        client.startReading()
                        try client.write(bytes)
                    }
                    return (client, closed)
                }
                // 512 KiB is under the frame limit but not before the handshake.
                let (_, early) = try await open(91, big)
                try await eventually("pre-handshake big frame closed") { early.current != nil }
                #expect(cluster.logs.all.contains { $0.level == .warning && $0.message.contains("announces 524288 payload bytes, limit is 1024") })
                // After the handshake it is accepted, but never finished: closed after the timeout.
                let (_, stuck) = try await open(92, hello + big + [1, 2, 3])
                try await eventually("half-sent frame closed") { stuck.current != nil }
                #expect(b.counters.incompleteFrameCloses == 1)
                // Two connections are the cap: a third is closed at accept.
                let (first, firstClosed) = try await open(93, hello)
                let (second, _) = try await open(94, hello)
                try await eventually("two connections held") { b.counters.connectionsActive == 2 }
                let (_, third) = try await open(95, hello)
                try await eventually("third connection refused") { third.current != nil }
                #expect(b.counters.connectionsRefused == 1 && firstClosed.current == nil)
                #expect(cluster.logs.all.contains { $0.level == .warning && $0.message.contains("refusing internode connection") })
                first.close()
                second.close()
            }
        }
    }
}

/// An object identity for waiter registration.
private final class NSObjectLike: Sendable {}
