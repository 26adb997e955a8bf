import BasaltCore
@testable import BasaltProtocol
import Testing
@testable import BasaltCQL

struct ConnectionStateMachineTests {
    static func frame(_ stream: Int16, _ request: Request, compression: FrameCompression? = nil) -> Frame {
        RequestFrame(stream: stream, request: request).frame(compression: compression)
    }

    static func responses(_ actions: [NativeConnectionStateMachine.Action]) -> [Response] {
        actions.compactMap { if case let .send(f) = $0 { return f.response } else { return nil } }
    }

    @Test func handshakeOptionsAndStartup() {
        var m = NativeConnectionStateMachine()
        let supported = Self.responses(m.onFrame(Self.frame(1, .options)))
        guard case let .supported(entries)? = supported.first else { Issue.record("no SUPPORTED"); return }
        #expect(entries.contains { $0.0 == "COMPRESSION" })
        let early = Self.responses(m.onFrame(Self.frame(2, .query("SELECT 1", QueryParameters()))))
        guard case let .error(earlyError)? = early.first else { Issue.record("query before STARTUP accepted"); return }
        #expect(earlyError.code == 0x000A)
        #expect(m.state == .awaitingStartup)
        #expect(Self.responses(m.onFrame(Self.frame(3, .startup(["CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"])))) == [.ready])
        #expect(m.state == .ready && m.compression == .lz4)
        // Requests now come compressed, and run off the loop.
        let actions = m.onFrame(Self.frame(4, .query("SELECT 1", QueryParameters()), compression: .lz4))
        #expect(actions.count == 1 && m.inFlight == 1)
        guard case let .execute(r)? = actions.first, case .query = r.request else { Issue.record("not executed"); return }
        #expect(m.onRequestCompleted().isEmpty && m.inFlight == 0)
        // REGISTER answers READY; a second STARTUP is refused.
        #expect(m.onFrame(Self.frame(5, .register(["SCHEMA_CHANGE"], ), compression: .lz4)) == [.register(["SCHEMA_CHANGE"]), .send(ResponseFrame(stream: 5, response: .ready))])
        #expect(Self.responses(m.onFrame(Self.frame(6, .startup([:]), compression: nil))).count == 1)
    }

    @Test func unsupportedVersionAnswersOnTheStreamAndCloses() {
        var m = NativeConnectionStateMachine()
        var decoder = FrameDecoder(side: .server)
        decoder.append([0x42, 0, 0, 9, 0x05, 0, 0, 0, 0])
        do {
            _ = try decoder.next()
            Issue.record("accepted version 0x42")
        } catch {
            let actions = m.onDecodeError(error)
            guard case let .sendRaw(frame)? = actions.first else { Issue.record("no answer"); return }
            #expect(frame.header.version == 0x84 && frame.header.stream == 9)
            #expect(actions.last == .close(error.description))
            #expect(m.state == .closed)
        }
    }

    @Test func malformedBodyIsAProtocolErrorThenClose() {
        var m = NativeConnectionStateMachine()
        _ = m.onFrame(Self.frame(0, .startup([:])))
        let bad = Frame(header: FrameHeader(version: 4, flags: [], stream: 3, opcode: .execute, bodyLength: 2), body: [0, 9])
        let actions = m.onFrame(bad)
        guard case let .error(e)? = Self.responses(actions).first else { Issue.record("no error"); return }
        #expect(e.code == 0x000A)
        #expect(actions.count == 2 && m.state == .closed)
        #expect(m.onFrame(Self.frame(4, .options)).isEmpty)
    }

    @Test func backpressurePausesResumesAndOverloads() {
        var settings = NativeConnectionStateMachine.Settings()
        settings.maxInFlight = 6
        settings.pauseThreshold = 4
        var m = NativeConnectionStateMachine(settings: settings)
        _ = m.onFrame(Self.frame(0, .startup([:])))
        var paused = false
        for i in 1 ... 6 {
            let a = m.onFrame(Self.frame(Int16(i), .prepare("SELECT \(i)")))
            if a.contains(.pauseReading) { paused = true; #expect(i == 4) }
        }
        #expect(paused && m.isPaused && m.inFlight == 6)
        guard case let .error(e)? = Self.responses(m.onFrame(Self.frame(7, .prepare("x")))).first else { Issue.record("no overload"); return }
        #expect(e.code == 0x1001)
        var resumed = false
        for _ in 0 ..< 4 { if m.onRequestCompleted().contains(.resumeReading) { resumed = true } }
        #expect(resumed && !m.isPaused && m.inFlight == 2)
    }

    @Test func passwordAuthenticationIsCheckedOffTheMachine() {
        var m = NativeConnectionStateMachine(settings: .init(requiresAuthentication: true))
        #expect(Self.responses(m.onFrame(Self.frame(0, .startup([:])))) == [.authenticate(PasswordAuthenticator.className)])
        #expect(m.onFrame(Self.frame(1, .query("SELECT 1", QueryParameters()))).allSatisfy { if case .execute = $0 { return false } else { return true } })
        let token = [0] + Array("admin".utf8) + [0] + Array("no".utf8)
        #expect(m.onFrame(Self.frame(2, .authResponse(token))) == [.authenticate(stream: 2, token: token)])
        // One check at a time per connection.
        guard case let .error(busy)? = Self.responses(m.onFrame(Self.frame(3, .authResponse(token)))).first else { Issue.record("two checks"); return }
        #expect(busy.code == 0x000A)
        guard case let .error(e)? = Self.responses(m.onAuthenticationResult(stream: 2, .failure(.badCredentials("no")))).first else {
            Issue.record("accepted a wrong password"); return
        }
        #expect(e.code == 0x0100 && m.state == .authenticating && !m.isAuthenticating)
        _ = m.onFrame(Self.frame(4, .authResponse(token)))
        #expect(Self.responses(m.onAuthenticationResult(stream: 4, .success("admin"))) == [.authSuccess(nil)])
        #expect(m.state == .ready && m.user == "admin")
    }
}
