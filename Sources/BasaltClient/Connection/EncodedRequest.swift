import BasaltProtocol
import BasaltCore

/// A request frame encoded once, off the event loop, with stream 0 in its header: the connection
/// writes it with the stream id it allocates patched in (``write(into:stream:)``), so a retry on
/// another node or after re-preparing costs no re-encoding.
struct EncodedRequest: Sendable {
    /// Header (stream 0, body length set) and body, as ``RequestFrame/frame(compression:)`` lays them out.
    let bytes: [UInt8]
    let opcode: Opcode

    init(_ request: Request) {
        var w = ByteWriter(capacity: 128)
        FrameHeader(version: FrameHeader.requestVersion, stream: 0, opcode: request.opcode, bodyLength: 0).encode(into: &w)
        request.encode(into: &w)
        w.setUInt32(UInt32(w.count - FrameHeader.size), at: 5)
        bytes = w.bytes
        opcode = request.opcode
    }

    /// Copies the frame into `buffer` (exactly `bytes.count` long) with `stream` in its header.
    func write(into buffer: UnsafeMutableRawBufferPointer, stream: Int16) {
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let s = UInt16(bitPattern: stream)
        buffer[2] = UInt8(truncatingIfNeeded: s >> 8)
        buffer[3] = UInt8(truncatingIfNeeded: s)
    }
}
