import BasaltProtocol
import BasaltCore

/// Turns response frames into values, with failures as ``ClientError``s naming the node.
enum ResponseDecoding {
    /// The frame's response (ERROR included, as a response).
    static func decode(_ frame: Frame, node: String) throws(ClientError) -> ResponseFrame {
        do {
            return try ResponseFrame.decode(frame, compression: nil)
        } catch {
            throw .protocolViolation(node: node, reason: error.message)
        }
    }

    /// The RESULT body of `frame`; an ERROR is thrown as ``ClientError/server(_:node:)``.
    static func result(_ frame: Frame, node: String) throws(ClientError) -> (ResultBody, warnings: [String]) {
        let decoded = try decode(frame, node: node)
        switch decoded.response {
        case let .result(body): return (body, decoded.warnings)
        case let .error(e): throw .server(e, node: node)
        case let other: throw .protocolViolation(node: node, reason: "expected RESULT, got \(other.opcode)")
        }
    }
}
