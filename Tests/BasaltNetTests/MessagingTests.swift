import BasaltCore
import BasaltNet
import Testing

struct MessagingTests {
    @Test func requestAndResponseBetweenTwoNodesOnTheirOwnAddresses() async throws {
        try await withCluster { cluster in
            let seenPeer = Shared<SocketAddress?>(nil)
            let b = try await cluster.start(host: 11, register: { service in
                service.register(TestVerbs.note) { message, reply in
                    #expect(!reply.expectsReply)
                    seenPeer.with { $0 = message.peer }
                }
            })
            let a = try await cluster.start(host: 10)
            #expect(b.address.port != 0 && b.address.host == "127.0.1.11")
            let answer = try await a.request(to: b.address, verb: TestVerbs.echo, payload: Array("ping".utf8))
            #expect(answer == Array("ping".utf8))
            try a.send(to: b.address, verb: TestVerbs.note, payload: [1])
            try await eventually("one-way note") { seenPeer.current != nil }
            #expect(seenPeer.current == a.address)
            let counters = a.counters
            #expect(counters.connectionsOpened == 1)
            #expect(counters.framesOut == 3)  // handshake, request, note
            #expect(counters.framesIn == 1)
            #expect(b.counters.connectionsAccepted == 1)
        }
    }

    @Test func manyConcurrentRequestsOnOneConnectionAreAnsweredOutOfOrder() async throws {
        let total = 300
        try await withCluster { cluster in
            // Collects every request, then answers all of them in a shuffled order.
            let held = Shared([(UInt32, ReplyToken)]())
            let answeredOrder = Shared([UInt32]())
            let b = try await cluster.start(host: 13, register: { service in
                service.register(TestVerbs.batch) { message, reply in
                    let all = held.with { list -> [(UInt32, ReplyToken)]? in
                        list.append((UInt32(bytes: message.payload), reply))
                        return list.count == total ? list : nil
                    }
                    guard let all else { return }
                    var random = SplitMix64(seed: 99)
                    for (index, token) in all.shuffled(using: &random) {
                        answeredOrder.with { $0.append(index) }
                        token.reply(index.bytes + Array("-answer".utf8))
                    }
                }
            })
            let a = try await cluster.start(host: 12)
            let results = try await withThrowingTaskGroup(of: (UInt32, [UInt8]).self) { group in
                for i in 0 ..< UInt32(total) {
                    group.addTask { (i, try await a.request(to: b.address, verb: TestVerbs.batch, payload: i.bytes)) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == total)
            for (i, answer) in results { #expect(answer == i.bytes + Array("-answer".utf8)) }
            let arrival = held.current.map(\.0)
            #expect(answeredOrder.current != arrival, "answers must have gone out in another order than requests came in")
            held.with { $0.removeAll() }  // tokens reference the connection; the handler references `held`
            #expect(a.counters.connectionsOpened == 1)
            #expect(b.counters.connectionsAccepted == 1)
        }
    }

    @Test func callbackRequestsPipelineAndRepliesFromOtherThreadsInterleave() async throws {
        let total = 2000
        try await withCluster { cluster in
            let b = try await cluster.start(host: 15, register: { service in
                // Even requests are answered at once on the loop, odd ones later from a task.
                service.register(TestVerbs.batch) { message, reply in
                    let n = UInt32(bytes: message.payload)
                    if n % 2 == 0 {
                        reply.reply(message.payload)
                    } else {
                        Task.detached { reply.reply(message.payload) }
                    }
                }
            })
            let a = try await cluster.start(host: 14)
            let outcome = Shared((ok: 0, wrong: 0, failed: 0))
            for i in 0 ..< UInt32(total) {
                a.request(to: b.address, verb: TestVerbs.batch, payload: i.bytes) { result in
                    outcome.with {
                        switch result {
                        case let .success(bytes) where bytes == i.bytes: $0.ok += 1
                        case .success: $0.wrong += 1
                        case .failure: $0.failed += 1
                        }
                    }
                }
            }
            try await eventually("all callbacks") { outcome.current.ok + outcome.current.wrong + outcome.current.failed == total }
            #expect(outcome.current.ok == total)
        }
    }

    @Test func remoteFailuresAndTooLargeMessagesAreTypedErrors() async throws {
        try await withCluster { cluster in
            struct Refused: Error, CustomStringConvertible { var description: String { "refused by handler" } }
            let b = try await cluster.start(host: 17, configure: { $0.maxFrameSize = 1 << 16 }, register: { service in
                service.register(TestVerbs.fail) { _, reply in reply.fail("boom") }
                service.registerAsync(TestVerbs.hold) { _ in throw Refused() }
                service.register(TestVerbs.bulk) { _, reply in reply.reply([UInt8](repeating: 1, count: 1 << 17)) }
            })
            let a = try await cluster.start(host: 16, configure: { $0.maxFrameSize = 1 << 16 })
            #expect(await requestError(a, to: b.address, verb: TestVerbs.fail) == .remoteFailure(b.address, message: "boom"))
            #expect(await requestError(a, to: b.address, verb: TestVerbs.hold) == .remoteFailure(b.address, message: "refused by handler"))
            let big = [UInt8](repeating: 0, count: (1 << 16) + 1)
            #expect(await requestError(a, to: b.address, verb: TestVerbs.echo, payload: big) == .frameTooLarge(size: big.count, limit: 1 << 16))
            #expect(throws: MessagingError.frameTooLarge(size: big.count, limit: 1 << 16)) {
                try a.send(to: b.address, verb: TestVerbs.note, payload: big)
            }
            guard case .remoteFailure(_, let message)? = await requestError(a, to: b.address, verb: TestVerbs.bulk) else {
                Issue.record("an oversize response must come back as a failure")
                return
            }
            #expect(message.contains("exceeds the frame limit"))
        }
    }

    @Test func requestsTimeOutAndCancelledTasksFailAtOnce() async throws {
        try await withCluster { cluster in
            let held = Shared([ReplyToken]())
            let b = try await cluster.start(host: 19, register: { service in
                service.register(TestVerbs.hold) { _, reply in held.with { $0.append(reply) } }
            })
            let a = try await cluster.start(host: 18)
            let error = await requestError(a, to: b.address, verb: TestVerbs.hold, timeout: .milliseconds(200))
            #expect(error == .timeout(peer: b.address, verb: TestVerbs.hold.code, after: .milliseconds(200)))
            #expect(a.counters.timeouts == 1)
            // Counted per verb too (a names the verbs it serves; it does not serve this one).
            #expect(a.counters.timeoutsByVerb == ["verb_\(TestVerbs.hold.code)": 1] && a.counters.droppedByVerb.isEmpty)

            let task = Task { await requestError(a, to: b.address, verb: TestVerbs.hold, timeout: .seconds(120)) }
            try await eventually("the request reached the handler") { held.current.count == 2 }
            task.cancel()
            #expect(await task.value == .cancelled)
            // The late answers are dropped and counted, and the connection keeps working.
            held.replyAll([9])
            try await eventually("late responses counted") { a.counters.unmatchedResponses == 2 }
            #expect(try await a.request(to: b.address, verb: TestVerbs.echo, payload: [5]) == [5])
        }
    }

    @Test func inFlightRequestsPerPeerAreBounded() async throws {
        try await withCluster { cluster in
            let held = Shared([ReplyToken]())
            let b = try await cluster.start(host: 21, register: { service in
                service.register(TestVerbs.hold) { _, reply in held.with { $0.append(reply) } }
            })
            let a = try await cluster.start(host: 20, configure: { $0.maxInFlightPerConnection = 8 })
            let results = Shared([Result<[UInt8], MessagingError>]())
            for _ in 0 ..< 9 {
                a.request(to: b.address, verb: TestVerbs.hold, payload: [], timeout: .seconds(60)) { result in
                    results.with { $0.append(result) }
                }
            }
            try await eventually("the ninth request refused") { results.current.count == 1 }
            guard case .failure(.overloaded(b.address, _))? = results.current.first else {
                Issue.record("expected overloaded, got \(results.current)")
                return
            }
            #expect(a.counters.overloadRejections == 1)
            try await eventually("eight requests held") { held.current.count == 8 }
            held.replyAll([])
            try await eventually("the rest answered") { results.current.count == 9 }
        }
    }

    @Test func refusedRequestsNeverCompleteInsideTheCallThatMadeThem() async throws {
        try await withCluster { cluster in
            let held = Shared([ReplyToken]())
            let b = try await cluster.start(host: 23, register: { service in
                service.register(TestVerbs.hold) { _, reply in held.with { $0.append(reply) } }
            })
            let a = try await cluster.start(host: 22, configure: { $0.maxInFlightPerConnection = 1 })
            a.request(to: b.address, verb: TestVerbs.hold, payload: [], timeout: .seconds(60)) { _ in }
            try await eventually("one request held") { held.current.count == 1 }
            // Each refusal sends again from its completion: 20 000 times. Were completions called
            // from inside request(), this would recurse 20 000 deep and overflow the stack.
            let refusals = Shared(0)
            let depth = Shared((current: 0, deepest: 0))
            @Sendable func sendAgain() {
                depth.with { $0.current += 1; $0.deepest = max($0.deepest, $0.current) }
                a.request(to: b.address, verb: TestVerbs.hold, payload: [], timeout: .seconds(60)) { result in
                    guard case .failure(.overloaded) = result else { return }
                    if refusals.with({ $0 += 1; return $0 }) < 20_000 { sendAgain() }
                }
                depth.with { $0.current -= 1 }
            }
            sendAgain()
            try await eventually("20 000 refusals", timeout: .seconds(120)) { refusals.current == 20_000 }
            #expect(depth.current.deepest == 1)
            held.replyAll([])
        }
    }
}
