import BasaltCluster
import BasaltNet

/// The collectors the node registers at start-up: internode messaging and membership (gossip's
/// counters are swift-metrics handles, ``GossipCounters``).
enum NodeMetrics {
    static func register(in registry: MetricsRegistry, messaging: MessagingService, gossip: GossipService) {
        registry.register("membership") { out in
            let s = gossip.snapshot
            let members = s.members.values
            out.gauge("basalt_membership_generation", help: "This node's gossip generation (start time in seconds).", Double(s.generation))
            out.gauge("basalt_membership_members", help: "Members this node knows, itself included.", Double(members.count))
            out.gauge("basalt_membership_members_up", help: "Members marked up, this node included.",
                      Double(members.filter(\.isAlive).count))
            out.gauge("basalt_membership_members_down", help: "Members marked down.", Double(members.filter { !$0.isAlive }.count))
            let statuses = NodeStatus.allCases.map { status in
                (labels: [("status", status.rawValue.lowercased())], value: Double(members.filter { $0.status == status }.count))
            }
            out.family("basalt_membership_members_by_status", type: .gauge, help: "Members by gossiped status.", samples: statuses)
            out.gauge("basalt_membership_ring_tokens", help: "Tokens in the ring.", Double(s.ring.sortedTokens.count))
            out.gauge("basalt_membership_ring_members", help: "Members owning tokens.", Double(s.ring.members.count))
        }
        registry.register("messaging") { out in
            let c = messaging.counters
            out.counter("basalt_messaging_bytes_in_total", help: "Internode bytes received (frames included).", c.bytesIn)
            out.counter("basalt_messaging_bytes_out_total", help: "Internode bytes sent (frames included).", c.bytesOut)
            out.counter("basalt_messaging_frames_in_total", help: "Internode frames received.", c.framesIn)
            out.counter("basalt_messaging_frames_out_total", help: "Internode frames sent.", c.framesOut)
            out.counter("basalt_messaging_connections_opened_total", help: "Outgoing connections established.", c.connectionsOpened)
            out.counter("basalt_messaging_connections_accepted_total", help: "Incoming connections accepted.", c.connectionsAccepted)
            out.gauge("basalt_messaging_connections_active", help: "Connections open, both directions.", Double(c.connectionsActive))
            out.counter("basalt_messaging_reconnects_total", help: "Outgoing connections re-established.", c.reconnects)
            out.counter("basalt_messaging_connect_failures_total", help: "Failed connect attempts.", c.connectFailures)
            out.counter("basalt_messaging_timeouts_total", help: "Requests that timed out.", c.timeouts)
            out.counter("basalt_messaging_bad_frames_total", help: "Connections closed for invalid frames.", c.badFramesDropped)
            out.counter("basalt_messaging_unmatched_responses_total", help: "Responses matching no pending request.",
                        c.unmatchedResponses)
            out.counter("basalt_messaging_read_pauses_total", help: "Times an incoming connection stopped reading (backpressure).",
                        c.readPauses)
            out.counter("basalt_messaging_overload_rejections_total", help: "Messages refused as overloaded.", c.overloadRejections)
            out.counter("basalt_messaging_connections_refused_total", help: "Incoming connections closed at accept: internode_max_concurrent_connections reached.",
                        c.connectionsRefused)
            out.counter("basalt_messaging_incomplete_frame_closes_total", help: "Incoming connections closed for a frame left incomplete.",
                        c.incompleteFrameCloses)
            out.family("basalt_messaging_verb_timeouts_total", type: .counter, help: "Internode requests that timed out waiting for their answer, by verb.",
                       samples: c.timeoutsByVerb.sorted { $0.key < $1.key }.map { ([("verb", $0.key)], Double($0.value)) })
            out.family("basalt_messaging_verb_dropped_total", type: .counter,
                       help: "Internode messages dropped before they were sent (refused as overloaded), by verb.",
                       samples: c.droppedByVerb.sorted { $0.key < $1.key }.map { ([("verb", $0.key)], Double($0.value)) })
        }
    }
}
