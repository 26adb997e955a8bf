/// A frame waiting to be written: its header fields, payload and the payload's checksum (computed
/// on the sender's thread, so large payloads are not checksummed on the loop).
struct OutgoingMessage: Sendable {
    var flags: InternodeFrameFlags
    var verb: UInt16
    var requestID: UInt64
    var payload: [UInt8]
    var payloadCRC: UInt32

    var frameSize: Int { InternodeFrameHeader.overhead + payload.count }
}

extension TCPConnection {
    /// Encodes `message` straight into the connection's outgoing buffer.
    func writeFrame(_ message: OutgoingMessage) throws(TCPError) {
        try write(byteCount: message.frameSize) { buffer in
            InternodeFrame.encode(
                flags: message.flags, verb: message.verb, requestID: message.requestID, payload: message.payload,
                payloadCRC: message.payloadCRC, into: buffer)
        }
    }
}
