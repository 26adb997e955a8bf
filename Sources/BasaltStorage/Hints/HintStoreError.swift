import BasaltCore

/// Why a hint could not be stored.
public enum HintStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Storing the hint would take `target` above ``HintStoreConfig/maxBytesPerTarget`` or all
    /// targets above ``HintStoreConfig/maxTotalBytes`` (`limitBytes` says which): the hint is not
    /// stored.
    case full(target: UUIDValue, limitBytes: Int)
    /// A file operation failed (the message names the path and the errno), or the store is closed.
    case io(String)

    public var description: String {
        switch self {
        case let .full(target, limit): "hints for \(target) not stored: limit of \(limit) bytes reached"
        case let .io(what): "hint store: \(what)"
        }
    }

    /// A failure from the file layer (a ``StorageError`` naming path and errno) as a hint store error.
    init(_ error: any Error) {
        self = (error as? HintStoreError) ?? .io("\(error)")
    }
}
