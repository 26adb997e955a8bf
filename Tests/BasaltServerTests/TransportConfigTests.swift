import Testing
import BasaltServer

/// The native transport and internode limit settings: Cassandra's names, sizes and durations with
/// units, defaults, round trip and validation.
struct TransportConfigTests {
    @Test func defaultsMatchTheDocumentedOnes() {
        let c = NodeConfig()
        #expect(c.nativeMaxFrameSize == 16 << 20)
        #expect(c.nativeMaxRequestDataInFlight == 64 << 20 && c.nativeMaxRequestDataInFlightPerIP == 16 << 20)
        #expect(!c.nativeThrowOnOverload && c.nativeMaxConcurrentConnections == -1 && c.nativeMaxConcurrentConnectionsPerIP == -1)
        #expect(c.nativeIncompleteFrameTimeoutMillis == 60_000 && c.nativeIdleTimeoutMillis == 0)
        #expect(c.internodeMaxMessageSize == 16 << 20 && c.internodeMaxConcurrentConnections == 1024)
        #expect(c.internodeIncompleteFrameTimeoutMillis == 60_000)
    }

    @Test func sizesAndDurationsTakeUnitsAndRoundTrip() throws {
        let c = try NodeConfig().loading(yaml: """
            native_transport_max_frame_size: 8MiB
            native_transport_max_request_data_in_flight: 1GiB
            native_transport_max_request_data_in_flight_per_ip: 512KiB
            native_transport_throw_on_overload: true
            native_transport_max_concurrent_connections: 100
            native_transport_max_concurrent_connections_per_ip: 10
            native_transport_incomplete_frame_timeout: 3s
            native_transport_idle_timeout: 2m
            internode_max_message_size: 4194304
            internode_max_concurrent_connections: -1
            internode_incomplete_frame_timeout: 1500ms
            """)
        #expect(c.nativeMaxFrameSize == 8 << 20 && c.nativeMaxRequestDataInFlight == 1 << 30)
        #expect(c.nativeMaxRequestDataInFlightPerIP == 512 << 10 && c.nativeThrowOnOverload)
        #expect(c.nativeMaxConcurrentConnections == 100 && c.nativeMaxConcurrentConnectionsPerIP == 10)
        #expect(c.nativeIncompleteFrameTimeoutMillis == 3000 && c.nativeIdleTimeoutMillis == 120_000)
        #expect(c.internodeMaxMessageSize == 4 << 20 && c.internodeMaxConcurrentConnections == -1)
        #expect(c.internodeIncompleteFrameTimeoutMillis == 1500)
        #expect(c.problems().isEmpty)
        #expect(try NodeConfig().loading(yaml: c.yaml) == c)
        #expect(try NodeConfig().setting("native_transport_max_request_data_in_flight", to: "-1").nativeMaxRequestDataInFlight == -1)
    }

    @Test func badValuesNameTheSetting() throws {
        #expect(throws: NodeConfigError.self) { try NodeConfig().loading(yaml: "native_transport_max_frame_size: 16XB") }
        #expect(throws: NodeConfigError.self) { try NodeConfig().loading(yaml: "native_transport_idle_timeout: soon") }
        let tiny = try NodeConfig().loading(yaml: "native_transport_max_frame_size: 100B")
        #expect(tiny.problems().contains { $0.hasPrefix("native_transport_max_frame_size") })
    }
}
