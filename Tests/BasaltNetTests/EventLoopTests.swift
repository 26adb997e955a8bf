import BasaltCore
import BasaltNet
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An actor whose code runs on an event loop's thread.
actor LoopBoundCounter {
    let loop: EventLoop
    private(set) var count = 0
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    init(loop: EventLoop) { self.loop = loop }

    func increment() -> Bool {
        count += 1
        return loop.inEventLoop
    }
}

struct EventLoopTests {
    @Test func tasksFromManyThreadsRunOnTheLoopInSubmissionOrder() async throws {
        try await withEventLoop { loop in
            let seen = LoopBoundBox([[Int]](repeating: [], count: 4), loop: loop)
            let offLoop = Shared(0)
            let threads = 4, perThread = 2000
            await withTaskGroup(of: Void.self) { group in
                for t in 0 ..< threads {
                    group.addTask {
                        for i in 0 ..< perThread {
                            loop.execute {
                                if !loop.inEventLoop { offLoop.with { $0 += 1 } }
                                seen.value[t].append(i)
                            }
                        }
                    }
                }
            }
            let result = try await loop.submit { seen.value }
            #expect(offLoop.current == 0)
            for t in 0 ..< threads { #expect(result[t] == Array(0 ..< perThread)) }
            #expect(!loop.inEventLoop)
        }
    }

    @Test func timersFireOnceAndCancelledTimersNever() async throws {
        try await withEventLoop { loop in
            let fired = Shared([String]())
            loop.scheduleTimer(after: .milliseconds(30)) { fired.with { $0.append("late") } }
            loop.scheduleTimer(after: .milliseconds(1)) { fired.with { $0.append("early") } }
            let cancelled = loop.scheduleTimer(after: .milliseconds(20)) { fired.with { $0.append("cancelled") } }
            cancelled.cancel()
            let ticks = Shared(0)
            let repeating = loop.scheduleRepeatingTimer(every: .milliseconds(2)) { ticks.with { $0 += 1 } }
            try await eventually("both one-shot timers") { fired.current.count == 2 }
            try await eventually("three ticks") { ticks.current >= 3 }
            repeating.cancel()
            _ = try await loop.submit {}
            let after = ticks.current
            try await Task.sleep(for: .milliseconds(50))
            #expect(ticks.current == after)
            #expect(fired.current == ["early", "late"])
        }
    }

    @Test func shutdownClosesEveryHandleAndRefusesLaterTasks() async throws {
        let loop = EventLoop(name: "test-shutdown")
        let events = Shared([String]())
        let accepted = Shared(false)
        let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(1)) { connection in
            accepted.with { $0 = true }
            connection.onClose = { reason in events.with { $0.append("server: \(reason)") } }
            connection.startReading()
        }
        let client = try await TCPConnection.connect(on: loop, to: listener.localAddress)
        try await loop.submit {
            client.onClose = { reason in events.with { $0.append("client: \(reason)") } }
            client.startReading()
            listener.onClose = { events.with { $0.append("listener closed") } }
        }
        let timerRan = Shared(false)
        loop.scheduleTimer(after: .seconds(3600)) { timerRan.with { $0 = true } }
        try await eventually("server side accepted") { accepted.current }

        await loop.shutdownGracefully()
        let closed = events.current
        #expect(closed.contains("client: event loop shut down"))
        #expect(closed.contains("server: event loop shut down"))
        #expect(closed.contains("listener closed"))
        #expect(!timerRan.current)
        #expect(loop.execute {} == false)
        await #expect(throws: EventLoopError.self) { try await loop.submit { 1 } }
        // A second shutdown is a no-op.
        loop.shutdown()
    }

    /// A joined loop thread's `pthread_t` is reused by the next threads created; none of them may
    /// pass for the loop (a second shutdown from such a thread once trapped).
    @Test func threadsCreatedAfterShutdownAreNeverTheLoop() async {
        let loop = EventLoop(name: "test-reuse")
        await loop.shutdownGracefully()
        // Several threads alive at once, so one of them gets the loop thread's descriptor.
        let sawLoop = Shared(0)
        var threads: [pthread_t] = []
        for _ in 0 ..< 8 {
            var tid = pthread_t()
            let box = Unmanaged.passRetained(ThreadProbe(loop: loop, sawLoop: sawLoop)).toOpaque()
            #expect(pthread_create(&tid, nil, { arg in
                let probe = Unmanaged<ThreadProbe>.fromOpaque(arg!).takeRetainedValue()
                if probe.loop.inEventLoop { probe.sawLoop.with { $0 += 1 } }
                probe.loop.shutdown()  // idempotent, from any thread
                usleep(20_000)
                return nil
            }, box) == 0)
            threads.append(tid)
        }
        for t in threads { pthread_join(t, nil) }
        #expect(sawLoop.current == 0)
        await loop.shutdownGracefully()
    }

    @Test func groupHandsOutLoopsRoundRobin() async {
        let group = EventLoopGroup(threads: 3, name: "rr")
        let picked = (0 ..< 6).map { _ in group.next() }
        #expect(picked[0] !== picked[1] && picked[1] !== picked[2] && picked[0] !== picked[2])
        #expect(picked[0] === picked[3] && picked[1] === picked[4])
        #expect(group.currentLoop == nil)
        await group.shutdownGracefully()
    }

    @Test func anActorCanUseTheLoopAsItsExecutor() async throws {
        try await withEventLoop { loop in
            let counter = LoopBoundCounter(loop: loop)
            var allOnLoop = true
            for _ in 0 ..< 100 { allOnLoop = await counter.increment() && allOnLoop }
            #expect(allOnLoop)
            #expect(await counter.count == 100)
        }
    }
}

/// What a probe thread needs.
final class ThreadProbe: @unchecked Sendable {
    // @unchecked: immutable references to thread-safe objects.
    let loop: EventLoop
    let sawLoop: Shared<Int>
    init(loop: EventLoop, sawLoop: Shared<Int>) {
        self.loop = loop
        self.sawLoop = sawLoop
    }
}
