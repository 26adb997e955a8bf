import BasaltCore
import BasaltServer
import Testing

@Suite("Prometheus histograms")
struct MetricsHistogramTests {
    @Test func histogramRendersCumulativeBucketsSumAndCount() {
        let h = BucketHistogram(upperBounds: [1_000_000, 5_000_000], exportDivisor: 1e9)
        h.record(500_000)
        h.record(2_000_000)
        h.record(9_000_000)
        var out = PrometheusText()
        out.histogram("x_seconds", help: "X", samples: [([("cause", "a\"b")], h.snapshot())])
        #expect(out.text == """
            # HELP x_seconds X
            # TYPE x_seconds histogram
            x_seconds_bucket{cause="a\\"b",le="0.001"} 1
            x_seconds_bucket{cause="a\\"b",le="0.005"} 2
            x_seconds_bucket{cause="a\\"b",le="+Inf"} 3
            x_seconds_sum{cause="a\\"b"} 0.0115
            x_seconds_count{cause="a\\"b"} 3

            """)
    }

    @Test func storageMetricsIncludeLatencyHistograms() throws {
        var out = PrometheusText()
        out.histogram("empty_seconds", help: "E", BucketHistogram.latency().snapshot())
        #expect(out.text.contains("empty_seconds_bucket{le=\"1e-05\"} 0\n"))
        #expect(out.text.contains("empty_seconds_bucket{le=\"+Inf\"} 0\nempty_seconds_sum 0\nempty_seconds_count 0\n"))
    }
}
