import ArgumentParser
import BasaltCore
import BasaltNet
import Histogram
import Logging

/// `basalt bench transport`: small request/response messages between two messaging nodes in this
/// process, each on its own loopback address and event-loop thread.
///
/// Reports, like redis-benchmark: throughput with one request in flight (back-to-back round trips),
/// with `--clients` requesters each keeping one request in flight, and pipelined (`--clients ×
/// --pipeline` in flight); then latency percentiles of an open-loop run at half the pipelined
/// throughput. All requesters share the node's one connection per lane to the peer, as the
/// coordinator's requests would, so many requesters pipeline on the wire even at one each.
struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Throughput and latency of internode request/response messages on loopback."
    )

    enum API: String, ExpressibleByArgument, CaseIterable {
        case callback, async
    }

    @Option(help: "Address of the answering node.") var serverHost = "127.0.1.201"
    @Option(help: "Address of the requesting node.") var clientHost = "127.0.1.202"
    @Option(help: "Concurrent requesters (redis-benchmark -c).") var clients = 50
    @Option(help: "Requests each requester keeps in flight in the pipelined run (redis-benchmark -P).") var pipeline = 16
    @Option(help: "Payload bytes per request and response.") var payload = 32
    @Option(help: "Seconds per measured run.") var seconds = 5.0
    @Option(help: "Request API: callback (loop-driven) or async (tasks).") var api = API.callback
    @Option(help: "Rate of the latency run in requests/s (default: half the pipelined throughput).") var latencyRate: Double?
    @Option(help: "Event-loop threads per node.") var threads = 1

    static let verb = Verb(1000, "bench.echo")

    func run() async throws {
        var logger = Logger(label: "basalt.bench")
        logger.logLevel = .warning
        let server = MessagingService(
            settings: MessagingSettings(address: try SocketAddress(host: serverHost, port: 0)), threads: threads, logger: logger)
        server.register(Self.verb) { message, reply in reply.reply(message.payload) }
        var clientSettings = MessagingSettings(address: try SocketAddress(host: clientHost, port: 0))
        clientSettings.maxInFlightPerConnection = max(clientSettings.maxInFlightPerConnection, clients * pipeline * 2)
        let client = MessagingService(settings: clientSettings, threads: threads, logger: logger)
        try await server.start()
        try await client.start()
        let peer = server.address
        let body = [UInt8](repeating: 0x61, count: payload)
        // Connect, and find the loop that owns the small lane: completions run there, and the
        // drivers keep their state on it.
        let laneLoop: EventLoop? = await withCheckedContinuation { continuation in
            client.request(to: peer, verb: Self.verb, payload: body) { _ in
                continuation.resume(returning: client.group.currentLoop)
            }
        }
        guard let laneLoop else { throw ValidationError("could not reach \(peer)") }

        print("transport benchmark: \(payload)-byte payloads, \(clientHost) -> \(peer), \(threads) loop thread(s) per node, \(api) API")
        _ = await closedLoop(client, peer, body, laneLoop, concurrency: clients * pipeline, seconds: min(1, seconds))  // warm-up
        let single = await closedLoop(client, peer, body, laneLoop, concurrency: 1, seconds: seconds)
        report("one request in flight (round trips)", single)
        let unpipelined = await closedLoop(client, peer, body, laneLoop, concurrency: clients, seconds: seconds)
        report("unpipelined (\(clients) requesters, 1 in flight each)", unpipelined)
        let pipelined = await closedLoop(client, peer, body, laneLoop, concurrency: clients * pipeline, seconds: seconds)
        report("pipelined (\(clients) × \(pipeline) = \(clients * pipeline) in flight)", pipelined)

        let rate = latencyRate ?? Double(pipelined.completed) / seconds / 2
        let latency = await OpenLoopDriver(
            target: EchoTarget(service: client, peer: peer, verb: Self.verb, payload: body, loop: laneLoop)
        ).run(rate: rate, seconds: seconds)
        func micros(_ p: Double) -> String {
            let v = Double(latency.histogram.valueAtPercentile(p)) / 1000
            return v < 10 ? String(format2: v) : "\(Int(v.rounded()))"
        }
        print("latency at \(Int(rate)) requests/s (open loop, from due time, \(latency.sent) sent, \(latency.failures) failed):"
            + " p50 \(micros(50)) µs, p99 \(micros(99)) µs, p99.9 \(micros(99.9)) µs, max \(micros(100)) µs")
        if let failure = latency.firstFailure { print("  first failure: \(failure)") }
        let counters = client.counters
        print("client counters: frames out \(counters.framesOut), frames in \(counters.framesIn), bytes out \(counters.bytesOut), timeouts \(counters.timeouts)")
        await client.shutdown()
        await server.shutdown()
    }

    private func closedLoop(
        _ client: MessagingService, _ peer: SocketAddress, _ body: [UInt8], _ loop: EventLoop, concurrency: Int,
        seconds: Double
    ) async -> (completed: Int, failures: Int) {
        let target = EchoTarget(service: client, peer: peer, verb: Self.verb, payload: body, loop: loop)
        switch api {
        case .callback: return await ClosedLoopDriver(target: target).run(concurrency: concurrency, seconds: seconds)
        case .async: return await AsyncDriver.run(target: target, concurrency: concurrency, seconds: seconds)
        }
    }

    private func report(_ what: String, _ result: (completed: Int, failures: Int)) {
        let rps = Int((Double(result.completed) / seconds).rounded())
        print("\(what): \(rps) requests/s\(result.failures > 0 ? " (\(result.failures) failed)" : "")")
    }
}

extension String {
    /// Two decimals without Foundation.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
