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
        case let .writeFailure(cl, received, blockFor, failures, writeType, _):
            return .writeFailure(message, consistency: cl, received: Int32(clamping: received), blockFor: Int32(clamping: blockFor),
                                 failures: Int32(clamping: failures), writeType: writeType)
        case let .readFailure(cl, received, blockFor, failures, dataPresent):
            return .readFailure(message, consistency: cl, received: Int32(clamping: received), blockFor: Int32(clamping: blockFor),
                                failures: Int32(clamping: failures), dataPresent: dataPresent)
        case let .overloaded(why): return .overloaded(why)
        case let .invalid(why): return .invalid(why)
        }
    }
}
