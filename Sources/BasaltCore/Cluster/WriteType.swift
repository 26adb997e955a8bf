/// The kind of write that timed out or failed, as WriteTimeout/WriteFailure bodies name it.
/// These are the only strings the Python driver's decoder accepts.
public enum WriteType: String, Hashable, Sendable, CaseIterable {
    case simple = "SIMPLE"
    case batch = "BATCH"
    case unloggedBatch = "UNLOGGED_BATCH"
    case counter = "COUNTER"
    case batchLog = "BATCH_LOG"
    case cas = "CAS"
    case view = "VIEW"
    case cdc = "CDC"
}
