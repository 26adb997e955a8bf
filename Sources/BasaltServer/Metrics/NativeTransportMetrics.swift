import BasaltCQL
import BasaltNet

/// The native transport's families on `/metrics` (``NativeTransportCounters``).
enum NativeTransportMetrics {
    static func write(_ c: NativeTransportCounters, into out: inout PrometheusText) {
        out.gauge("basalt_native_connections", help: "Client connections open.", Double(c.connections))
        out.family("basalt_native_connections_refused_total", type: .counter, help: "Client connections refused at accept, by reason.",
                   samples: ConnectionRefusal.allCases.map { ([("reason", $0.rawValue)], Double(c.refused[$0] ?? 0)) })
        out.gauge("basalt_native_request_bytes_in_flight", help: "Bytes of requests held: frames arriving and requests executing.",
                  Double(c.bytesInFlight))
        out.counter("basalt_native_read_pauses_total", help: "Times a connection stopped reading at a request-data limit.", c.readPauses)
        out.counter("basalt_native_overloaded_total", help: "Requests answered Overloaded (native_transport_throw_on_overload).", c.overloaded)
        out.counter("basalt_native_incomplete_frame_closes_total", help: "Connections closed for a frame left incomplete.",
                    c.incompleteFrameCloses)
        out.counter("basalt_native_idle_closes_total", help: "Connections closed after native_transport_idle_timeout.", c.idleCloses)
        out.counter("basalt_native_frames_too_large_total", help: "Frames refused for announcing a body over native_transport_max_frame_size.",
                    c.framesTooLarge)
    }
}
