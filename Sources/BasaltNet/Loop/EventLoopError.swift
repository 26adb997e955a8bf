import CLibUV

/// Why work could not be handed to an event loop.
public enum EventLoopError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The loop is shutting down or has shut down; the task was not run.
    case shutDown(loop: String)

    public var description: String {
        switch self {
        case let .shutDown(loop): "event loop \(loop) is shut down"
        }
    }
}

/// Names and messages for libuv's negative error codes.
enum UVError {
    /// "ECONNREFUSED (connection refused)" for a libuv status code.
    static func describe(_ code: Int32) -> String {
        guard code < 0 else { return "status \(code)" }
        let name = String(cString: uv_err_name(code))
        let message = String(cString: uv_strerror(code))
        return "\(name) (\(message))"
    }

    static func describe(_ code: Int) -> String { describe(Int32(clamping: code)) }
}
