/// What the engine does when the data directory fails it: a flush or compaction cannot write, or an
/// SSTable is found damaged (Cassandra's `disk_failure_policy`, adapted to one data directory: see
/// docs/storage.md, "Disk failures").
///
/// Whatever the policy, a memtable is never dropped: its flush is retried with backoff, it stays
/// readable meanwhile, and the commit-log segments it covers are kept until the flush succeeds.
public enum DiskFailurePolicy: String, Sendable, CaseIterable {
    /// Exit the process on any data-directory I/O error or damaged SSTable.
    case die
    /// Stop the node (gracefully: it announces its shutdown) on a data-directory I/O error; damaged
    /// SSTables are quarantined and the node goes on.
    case stop
    /// As `stop`, and also stop on a damaged SSTable.
    case stopParanoid = "stop_paranoid"
    /// Retry flushes and compactions with backoff, quarantine damaged SSTables and serve from the
    /// rest (the default).
    case bestEffort = "best_effort"
    /// Retry flushes (a memtable is never dropped) but leave a failed compaction until the next
    /// flush asks for one; quarantine damaged SSTables.
    case ignore

    /// What the node should do about a failure of `kind` under this policy; nil for nothing beyond
    /// the engine's own handling (retry, quarantine).
    public func response(to kind: DiskFailureKind) -> DiskFailureResponse? {
        switch (self, kind) {
        case (.die, _): .exitProcess
        case (.stop, .io), (.stopParanoid, _): .stopNode
        case (.stop, .corruptSSTable), (.bestEffort, _), (.ignore, _): nil
        }
    }

    /// Whether a failed compaction is tried again after a backoff.
    public var retriesCompaction: Bool { self != .ignore }
}

/// A failure of the data directory, as the policies tell them apart.
public enum DiskFailureKind: Sendable, Equatable {
    /// A flush or compaction could not write or sync a file.
    case io
    /// An SSTable failed a check and was quarantined.
    case corruptSSTable
}

/// What the engine asks of its owner (the node) when a policy wants more than retrying.
public enum DiskFailureResponse: Sendable, Equatable {
    /// Exit the process at once.
    case exitProcess
    /// Stop the node gracefully.
    case stopNode
}
