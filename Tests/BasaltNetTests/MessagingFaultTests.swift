import BasaltCore
import BasaltNet
import Testing

/// Bytes of a valid handshake claiming to be `host:port` on the small lane (layout: docs/net.md).
func handshakeFrame(host: String, port: UInt16) -> [UInt8] {
    var payload = Array("BSLT".utf8) + [Lane.small.rawValue, UInt8(port >> 8), UInt8(port & 0xFF)]
    payload += [UInt8(host.utf8.count)] + Array(host.utf8)
    return InternodeFrame(flags: .oneWay, verb: 0, requestID: 0, payload: payload).encoded()
}

struct MessagingFaultTests {
    @Test func aRestartedPeerIsReconnectedAndPendingRequestsNeverHang() async throws {
        try await withCluster { cluster in
            let held = Shared(0)
            let registerHold: (MessagingService) -> Void = { service in
                service.register(TestVerbs.hold) { _, _ in held.with { $0 += 1 } }
            }
            let b = try await cluster.start(host: 41, register: registerHold)
            let address = b.address
            let a = try await cluster.start(host: 40)
            #expect(try await a.request(to: address, verb: TestVerbs.echo, payload: [1]) == [1])

            // Requests whose handler never answers, then the peer goes away.
            let pending = (0 ..< 20).map { _ in
                Task { await requestError(a, to: address, verb: TestVerbs.hold, timeout: .seconds(600)) }
            }
            try await eventually("all held") { held.current == 20 }
            await b.shutdown()
            for task in pending {
                let error = await task.value
                switch error {
                case .connectionClosed(address, _)?, .timeout?: break
                default: Issue.record("pending request ended with \(String(describing: error))")
                }
            }

            // While it is down requests fail (unreachable or timeout), never hang.
            let whileDown = await requestError(a, to: address, verb: TestVerbs.echo, timeout: .seconds(2))
            switch whileDown {
            case .peerUnreachable(address, _)?, .timeout?, .connectionClosed?: break
            default: Issue.record("request to a stopped peer ended with \(String(describing: whileDown))")
            }

            // A new instance on the same address and port is reconnected to.
            let restarted = try await cluster.start(host: 41, port: address.port, register: registerHold)
            #expect(restarted.address == address)
            var answer: [UInt8]?
            for _ in 0 ..< 200 where answer == nil {
                answer = try? await a.request(to: address, verb: TestVerbs.echo, payload: [2], timeout: .seconds(5))
                if answer == nil { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(answer == [2])
            #expect(a.counters.reconnects >= 1)

            // A peer that is up but does not answer: the request fails with a timeout.
            let silent = await requestError(a, to: address, verb: TestVerbs.hold, timeout: .milliseconds(300))
            #expect(silent == .timeout(peer: address, verb: TestVerbs.hold.code, after: .milliseconds(300)))
        }
    }

    @Test func anUnreachablePeerFailsFastWithATypedError() async throws {
        try await withCluster { cluster in
            let a = try await cluster.start(host: 42)
            let nobody = try await withEventLoop { loop in
                let listener = try await TCPListener.listen(on: loop, at: try TestAddress.any(250)) { $0.close() }
                let address = listener.localAddress
                listener.close()
                _ = try await loop.submit {}
                return address
            }
            guard case .peerUnreachable(nobody, let reason)? = await requestError(a, to: nobody, verb: TestVerbs.echo) else {
                Issue.record("expected peerUnreachable")
                return
            }
            #expect(reason.contains("ECONNREFUSED"))
            #expect(a.counters.connectFailures >= 1)
            #expect(cluster.logs.all.contains { $0.level == .warning && $0.metadata["peer"] == "\(nobody)" })
        }
    }

    @Test func badInputClosesOnlyThatConnectionWithALogLineNamingThePeer() async throws {
        try await withCluster { cluster in
            let b = try await cluster.start(host: 51, configure: { $0.maxFrameSize = 1 << 20 })
            let a = try await cluster.start(host: 50)
            let claimed = try SocketAddress(host: "127.0.1.59", port: 7000)
            let hello = handshakeFrame(host: claimed.host, port: claimed.port)

            var corruptPayload = InternodeFrame(flags: [], verb: TestVerbs.echo.code, requestID: 1, payload: Array("data".utf8)).encoded()
            corruptPayload[InternodeFrameHeader.size + 1] ^= 0x20
            var corruptHeader = InternodeFrame(flags: [], verb: TestVerbs.echo.code, requestID: 1, payload: []).encoded()
            corruptHeader[5] ^= 0x01
            var oversize = [UInt8](repeating: 0, count: InternodeFrameHeader.size)
            oversize.withUnsafeMutableBytes {
                InternodeFrameHeader(flags: [], verb: TestVerbs.echo.code, requestID: 2, payloadLength: (1 << 20) + 1).encode(into: $0)
            }
            var version2 = [UInt8](repeating: 0, count: InternodeFrameHeader.size)
            version2.withUnsafeMutableBytes {
                InternodeFrameHeader(version: 2, flags: [], verb: TestVerbs.echo.code, requestID: 3, payloadLength: 0).encode(into: $0)
            }
            let unknownVerb = InternodeFrame(flags: [], verb: 999, requestID: 4, payload: [1, 2]).encoded()
            let cases: [(name: String, bytes: [UInt8], afterHandshake: Bool, expect: String)] = [
                ("garbage", Array("GET / HTTP/1.1\r\nHost: basalt\r\n\r\n".utf8), false, "unsupported frame version 71"),
                ("bad payload CRC", hello + corruptPayload, true, "payload checksum mismatch"),
                ("bad header CRC", hello + corruptHeader, true, "header checksum mismatch"),
                ("oversize length", hello + oversize, true, "announces 1048577 payload bytes, limit is 1048576"),
                ("unknown version", hello + version2, true, "unsupported frame version 2"),
                ("unknown verb", hello + unknownVerb, true, "unknown verb 999"),
                ("request before handshake", unknownVerb, false, "expected a handshake"),
            ]
            try await withEventLoop { loop in
                for (index, bad) in cases.enumerated() {
                    let source = try TestAddress.any(60 + index)
                    let client = try await TCPConnection.connect(on: loop, to: b.address, bindingTo: source)
                    let closed = Shared<TCPCloseReason?>(nil)
                    let localAddress = try await loop.submit { () throws -> SocketAddress? in
                        client.onClose = { reason in closed.with { $0 = reason } }
                        client.startReading()
                        try client.write(bad.bytes)
                        return client.localAddress
                    }
                    try await eventually("\(bad.name): connection closed by the node") { closed.current != nil }
                    let expectedPeer = bad.afterHandshake ? "\(claimed)" : "\(localAddress.map { "\($0)" } ?? "?")"
                    let line = cluster.logs.all.first {
                        $0.level == .warning && $0.message.contains(bad.expect) && $0.metadata["node"] == "\(b.address)"
                    }
                    #expect(line != nil, "\(bad.name): no warning containing '\(bad.expect)'")
                    #expect(line?.metadata["peer"] == expectedPeer, "\(bad.name): \(line?.rendered ?? "")")
                    if bad.afterHandshake { #expect(line?.metadata["remote"]?.hasPrefix("127.0.1.\(60 + index):") == true) }
                    // Every other connection keeps being served.
                    #expect(try await a.request(to: b.address, verb: TestVerbs.echo, payload: [UInt8(index)]) == [UInt8(index)])
                }
            }
            #expect(b.counters.badFramesDropped == cases.count)
            #expect(a.counters.connectionsOpened == 1)
        }
    }

    @Test func aStalledLargeLaneNeverDelaysSmallMessages() async throws {
        try await withCluster { cluster in
            let heldBulk = Shared([ReplyToken]())
            let release = Shared(false)
            let b = try await cluster.start(host: 71, threads: 2, configure: { settings in
                settings.maxOutstandingInboundBytes = 1 << 20
            }, register: { service in
                service.register(TestVerbs.bulk) { message, reply in
                    if release.current {
                        reply.reply(Array(message.payload.prefix(4)))
                    } else {
                        heldBulk.with { $0.append(reply) }
                    }
                }
            })
            let a = try await cluster.start(host: 70, threads: 2)
            let chunk = 512 << 10, count = 24
            let bulk = (0 ..< count).map { i in
                Task { () -> [UInt8]? in
                    let payload = UInt32(i).bytes + [UInt8](repeating: UInt8(i), count: chunk)
                    return try? await a.request(to: b.address, verb: TestVerbs.bulk, payload: payload, timeout: .seconds(120))
                }
            }
            // The large lane stops: the node stops reading it once 1 MiB of requests are unanswered.
            try await eventually("large lane paused") { b.counters.readPauses >= 1 }
            let receivedWhilePaused = heldBulk.current.count
            #expect(receivedWhilePaused < count)
            // Small messages still flow, on their own connection.
            for i in 0 ..< 50 {
                #expect(try await a.request(to: b.address, verb: TestVerbs.echo, payload: [UInt8(i)], timeout: .seconds(20)) == [UInt8(i)])
            }
            #expect(heldBulk.current.count == receivedWhilePaused, "the large lane must still be stalled")
            // Answer the held ones; reading resumes and the rest arrive and are answered.
            release.with { $0 = true }
            heldBulk.replyAll([0])
            var answered = 0
            for task in bulk where await task.value != nil { answered += 1 }
            #expect(answered == count)
            #expect(a.counters.connectionsOpened == 2)
        }
    }
}
