import BasaltCore

/// One target's hints: the bookkeeping (``HintTargetLog``), the open segment file being appended
/// to, and the files written since their last fsync. Every method must be called with `lock` held.
final class HintTarget: @unchecked Sendable {
    // @unchecked: every stored `var` is read and written only with `lock` held (the callers in
    // HintStore take it); `id`, `directory` and `lock` are immutable.
    let id: UUIDValue
    let directory: String
    let lock = Lock()
    var log = HintTargetLog()
    /// The file of `log.openSegment`.
    private var openFile: HintFile?
    /// The open file was written since its last fsync.
    private var openDirty = false
    /// Sealed files written since their last fsync.
    private var sealedUnsynced: [HintFile] = []
    private var payload: [UInt8] = []
    private var record: [UInt8] = []

    init(id: UUIDValue, directory: String) {
        self.id = id
        self.directory = directory
    }

    func path(_ segment: UInt64) -> String {
        directory + "/" + HintSegmentFormat.fileName(target: id, segment: segment)
    }

    /// Seals the open segment and starts segment `segment`: the file is created and its header
    /// written (not yet fsynced, nor its directory entry).
    func startSegment(_ segment: UInt64) throws(StorageError) {
        sealOpen()
        let path = path(segment)
        let file = try HintFile.create(path)
        do {
            try file.write(HintSegmentFormat.header(target: id, segment: segment), at: 0)
        } catch {
            try? FileSystem.remove(path)
            throw error
        }
        let h = HintSegmentFormat.headerSize
        log.add(.init(id: segment, fileBytes: h, end: h, records: 0), open: true)
        openFile = file
        openDirty = true
    }

    /// Appends a hint to the open segment; returns its bytes on disk. On failure nothing is
    /// counted, and the next append overwrites whatever part reached the file.
    func append(mutation: [UInt8], createdAtMicros: Int64) throws(StorageError) -> Int {
        guard let file = openFile, let end = log.openEnd else { preconditionFailure("hint append to \(id) without an open segment") }
        record.removeAll(keepingCapacity: true)
        HintSegmentFormat.appendRecord(createdAtMicros: createdAtMicros, mutation: mutation, payload: &payload, to: &record)
        try file.write(record, at: end)
        openDirty = true
        log.appended(bytes: record.count)
        return record.count
    }

    /// Stops appending to the open segment (its file waits for the next sync if written since
    /// the last).
    func sealOpen() {
        log.sealOpen()
        releaseOpenFile(deleted: false)
    }

    /// Lets the open file go once the log no longer has it open: cut short by damage (the records
    /// before still want their fsync), or delivered and `deleted`.
    func releaseOpenFile(deleted: Bool) {
        guard log.openSegment == nil, let file = openFile else { return }
        if openDirty && !deleted { sealedUnsynced.append(file) }
        openFile = nil
        openDirty = false
    }

    /// Forgets the files without syncing them (they are being deleted).
    func dropFiles() {
        openFile = nil
        openDirty = false
        sealedUnsynced = []
    }

    /// The files to fsync now; they count as synced from here on (``returnUnsynced(_:)`` undoes
    /// that when the fsync fails).
    func takeUnsynced() -> [HintFile] {
        var files = sealedUnsynced
        sealedUnsynced = []
        if openDirty, let f = openFile {
            files.append(f)
            openDirty = false
        }
        return files
    }

    func returnUnsynced(_ files: [HintFile]) {
        sealedUnsynced.append(contentsOf: files)
    }
}
