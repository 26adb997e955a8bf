import BasaltProtocol
import BasaltCore

/// A successful response as the callback API hands it over: the RESULT frame, not yet decoded,
/// and the node that answered. Decoding is left to the caller so that it happens on the
/// caller's side (a task), not on the event loop, unless the caller chooses otherwise.
public struct ExecutionResponse: Sendable {
    public let frame: Frame
    /// The coordinator, `host:port`.
    public let coordinator: String

    /// The RESULT body.
    public func result() throws(ClientError) -> ResultBody {
        try ResponseDecoding.result(frame, node: coordinator).0
    }

    /// The decoded page; `knownColumns` are used when the server skipped the metadata.
    public func page(knownColumns: [ColumnSpec] = []) throws(ClientError) -> ResultPage {
        let (body, warnings) = try ResponseDecoding.result(frame, node: coordinator)
        return try ResultPage(body, warnings: warnings, coordinator: coordinator, knownColumns: knownColumns)
    }
}
