import BasaltCore
#if canImport(Glibc)
import Glibc
#endif

extension StorageError: FailureCauseProviding {
    /// The cause a replica reports for this error (``FailureCause``). Written with `if case` rather
    /// than a switch so a new case falls back to ``FailureCause/unknown`` until it
    /// is given its own cause.
    public var failureCause: FailureCause {
        if case let .io(_, _, errno) = self { return errno == ENOSPC ? .diskFull : .storageIO }
        if case .corrupt = self { return .corruptData }
        if case .unknownTable = self { return .unknownTable }
        if case .overloaded = self { return .storageOverloaded }
        if case let .invalid(why) = self { return why.hasPrefix("mutation of") ? .mutationTooLarge : .invalidRequest }
        if case .closed = self { return .storageClosed }
        return .unknown
    }
}
