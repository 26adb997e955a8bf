import BasaltCore

extension Gossip {
    /// What gossip instances say to each other.
    public enum Message: Hashable, Sendable {
        /// Round opener: the sender's digest of every endpoint it knows, in random order.
        case syn(clusterName: String, digests: [Digest])
        /// Answer to a SYN: digests of endpoints the SYN's sender knows better (send me everything
        /// newer than `maxVersion`), and states the SYN's sender lacks.
        case ack(requests: [Digest], states: [EndpointDelta])
        /// Answer to an ACK: the states it requested.
        case ack2(states: [EndpointDelta])
        /// Liveness probe sent before marking a node up (Cassandra's ECHO_REQ).
        case echo
        /// Answer to ``echo``.
        case echoReply
        /// The sender is shutting down: mark it down now rather than waiting for the detector.
        case shutdown

        public var name: String {
            switch self {
            case .syn: "SYN"
            case .ack: "ACK"
            case .ack2: "ACK2"
            case .echo: "ECHO"
            case .echoReply: "ECHO_REPLY"
            case .shutdown: "SHUTDOWN"
            }
        }
    }

    /// A message and its sender's internode address (the transport's peer address is an ephemeral
    /// port, so the sender names itself, as Cassandra's message header does).
    ///
    /// Wire format (docs/membership.md): `version(1) kind(1) from body`; integers in digests and
    /// states are zig-zag var-ints. ``decode(_:)`` never traps: malformed input is a `DecodeError`
    /// with the offset at fault.
    public struct Envelope: Hashable, Sendable {
        /// The format version this build writes and reads.
        public static let protocolVersion: UInt8 = 1
        /// The most application states one endpoint state may carry on the wire.
        public static let maxStatesPerEndpoint = 256
        /// The largest application state value accepted.
        public static let maxValueBytes = 65_536
        public static let maxClusterNameBytes = 255

        public var from: NodeAddress
        public var message: Message

        public init(from: NodeAddress, message: Message) {
            self.from = from
            self.message = message
        }

        enum Kind: UInt8 {
            case syn = 1, ack, ack2, echo, echoReply, shutdown
        }

        public func encoded() -> [UInt8] {
            var w = ByteWriter(capacity: 256)
            w.writeUInt8(Self.protocolVersion)
            switch message {
            case let .syn(clusterName, digests):
                w.writeUInt8(Kind.syn.rawValue)
                from.encode(into: &w)
                w.writeVarString(clusterName)
                Self.write(digests, into: &w)
            case let .ack(requests, states):
                w.writeUInt8(Kind.ack.rawValue)
                from.encode(into: &w)
                Self.write(requests, into: &w)
                Self.write(states, into: &w)
            case let .ack2(states):
                w.writeUInt8(Kind.ack2.rawValue)
                from.encode(into: &w)
                Self.write(states, into: &w)
            case .echo:
                w.writeUInt8(Kind.echo.rawValue)
                from.encode(into: &w)
            case .echoReply:
                w.writeUInt8(Kind.echoReply.rawValue)
                from.encode(into: &w)
            case .shutdown:
                w.writeUInt8(Kind.shutdown.rawValue)
                from.encode(into: &w)
            }
            return w.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Envelope {
            var r = ByteReader(bytes)
            let version = try r.readUInt8()
            guard version == protocolVersion else {
                throw DecodeError.invalid("unsupported gossip protocol version \(version)", at: 0)
            }
            let kindByte = try r.readUInt8()
            guard let kind = Kind(rawValue: kindByte) else {
                throw DecodeError.invalid("unknown gossip message kind \(kindByte)", at: 1)
            }
            let from = try NodeAddress.decode(from: &r)
            let message: Message
            switch kind {
            case .syn:
                let at = r.position
                let n = try r.readVarLength()
                guard n <= maxClusterNameBytes else { throw DecodeError.invalid("cluster name of \(n) bytes", at: at) }
                let name = try r.readUTF8(n, at: at)
                message = .syn(clusterName: name, digests: try readDigests(&r))
            case .ack:
                let requests = try readDigests(&r)
                message = .ack(requests: requests, states: try readDeltas(&r))
            case .ack2:
                message = .ack2(states: try readDeltas(&r))
            case .echo: message = .echo
            case .echoReply: message = .echoReply
            case .shutdown: message = .shutdown
            }
            guard r.isAtEnd else {
                throw DecodeError.invalid("\(r.remaining) trailing bytes after gossip \(message.name)", at: r.position)
            }
            return Envelope(from: from, message: message)
        }
    }
}

extension Gossip.Envelope {
    static func write(_ digests: [Gossip.Digest], into w: inout ByteWriter) {
        w.writeVarUInt(UInt64(digests.count))
        for d in digests {
            d.address.encode(into: &w)
            w.writeVarInt(d.generation)
            w.writeVarInt(d.maxVersion)
        }
    }

    static func write(_ deltas: [Gossip.EndpointDelta], into w: inout ByteWriter) {
        w.writeVarUInt(UInt64(deltas.count))
        for d in deltas { write(d, into: &w) }
    }

    static func write(_ d: Gossip.EndpointDelta, into w: inout ByteWriter) {
        d.address.encode(into: &w)
        w.writeVarInt(d.state.heartbeat.generation)
        w.writeVarInt(d.state.heartbeat.version)
        w.writeVarUInt(UInt64(d.state.states.count))
        for (key, value) in d.state.states.sorted(by: { $0.key < $1.key }) {
            w.writeUInt8(key.rawValue)
            w.writeVarInt(value.version)
            w.writeVarBytes(value.bytes)
        }
    }

    /// Encoded size of one delta, for keeping messages under `maxMessageBytes`.
    static func encodedSize(_ d: Gossip.EndpointDelta) -> Int {
        var w = ByteWriter(capacity: 64)
        write(d, into: &w)
        return w.count
    }

    /// A count that must fit the remaining input at `minBytes` per element.
    static func readCount(_ r: inout ByteReader, minBytes: Int, what: String) throws(DecodeError) -> Int {
        let at = r.position
        let n = try r.readVarUInt()
        guard n <= UInt64(r.remaining / minBytes) else {
            throw DecodeError.invalid("\(n) \(what) cannot fit in \(r.remaining) bytes", at: at)
        }
        return Int(n)
    }

    static func readDigests(_ r: inout ByteReader) throws(DecodeError) -> [Gossip.Digest] {
        let n = try readCount(&r, minBytes: 6, what: "digests")
        var out: [Gossip.Digest] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n {
            let address = try NodeAddress.decode(from: &r)
            let generation = try r.readVarInt()
            out.append(Gossip.Digest(address: address, generation: generation, maxVersion: try r.readVarInt()))
        }
        return out
    }

    static func readDeltas(_ r: inout ByteReader) throws(DecodeError) -> [Gossip.EndpointDelta] {
        let n = try readCount(&r, minBytes: 7, what: "endpoint states")
        var out: [Gossip.EndpointDelta] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n {
            let address = try NodeAddress.decode(from: &r)
            let generation = try r.readVarInt()
            let heartbeat = Gossip.HeartbeatState(generation: generation, version: try r.readVarInt())
            let countAt = r.position
            let count = try readCount(&r, minBytes: 3, what: "application states")
            guard count <= maxStatesPerEndpoint else {
                throw DecodeError.invalid("\(count) application states for \(address)", at: countAt)
            }
            var states: [Gossip.ApplicationState: Gossip.VersionedValue] = [:]
            for _ in 0 ..< count {
                let keyAt = r.position
                let key = Gossip.ApplicationState(rawValue: try r.readUInt8())
                let version = try r.readVarInt()
                let valueAt = r.position
                let length = try r.readVarLength()
                guard length <= maxValueBytes else {
                    throw DecodeError.invalid("application state value of \(length) bytes", at: valueAt)
                }
                let value = try r.readBytes(length)
                guard states.updateValue(Gossip.VersionedValue(version: version, bytes: value), forKey: key) == nil else {
                    throw DecodeError.invalid("application state \(key) twice for \(address)", at: keyAt)
                }
            }
            out.append(Gossip.EndpointDelta(address: address, state: Gossip.EndpointState(heartbeat: heartbeat, states: states)))
        }
        return out
    }
}
