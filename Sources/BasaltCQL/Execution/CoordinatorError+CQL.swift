import BasaltCluster
import BasaltCore
import BasaltProtocol

extension CoordinatorError {
    /// The CQL error a client sees for a coordinator failure (same codes and bodies as Cassandra).
    public var cqlError: CQLError {
        let message = description
        switch self {
        case let .unavailable(cl, required, alive):
            return .unavailable(message, consistency: cl, required: Int32(clamping: required), alive: Int32(clamping: alive))
        case let .writeTimeout(cl, received, blockFor, writeType):
            return .writeTimeout(message, consistency: cl, received: Int32(clamping: received), blockFor: Int32(clamping: blockFor), writeType: writeType)
        case let .readTimeout(cl, received, blockFor, dataPresent):
            return .readTimeout(message, consistency: cl, received: Int32(clamping: received), blockFor: Int32(clamping: blockFor), dataPresent: dataPresent)
        case let .writeFailure(cl, received, blockFor, failures, writeType, _, failedAt):
            return .writeFailure(message, consistency: cl, received: Int32(clamping: received), blockFor: Int32(clamping: blockFor),
                                 failures: Int32(clamping: failures), writeType: writeType, reasons: Self.reasons(failedAt))
        case let .readFailure(cl, received, blockFor, failures, dataPresent, failedAt):
            return .readFailure(message, consistency: cl, received: Int32(clamping: received), blockFor: Int32(clamping: blockFor),
                                failures: Int32(clamping: failures), dataPresent: dataPresent, reasons: Self.reasons(failedAt))
        case let .overloaded(why): return .overloaded(why)
        case let .invalid(why): return .invalid(why)
        }
    }

    /// The reason map's entries: each failed replica whose host is an IP address.
    static func reasons(_ failed: [FailedReplica]) -> [FailureReason] {
        failed.compactMap { f in LiteralParsing.inetBytes(f.address.host).map { FailureReason(address: $0, code: f.code) } }
    }
}
