import BasaltCore

/// A small SSTable component whose entries arrive one at a time through a write and whose header
/// (which counts them) is known only at the end, such as the index summary and the chunk offsets.
/// Entries go to a spool file beside the component as they come (64 KiB at a time); ``finish(header:)``
/// writes the header, copies the spool behind it and appends the CRC32C (LE) of both. So a
/// compaction of millions of partitions does not hold them in memory beside its inputs' copies.
///
/// The spool's name starts with the component's temporary name (`tmp-`), which start-up removes.
final class ComponentSpool {
    let path: String
    private let spool: WritableFile
    private var buffer = ByteWriter(capacity: 1 << 16)
    /// Entries appended so far.
    private(set) var count = 0

    var spoolPath: String { path + ".spool" }

    /// Spools entries for the component to be written at `path`.
    init(path: String) throws {
        self.path = path
        spool = try WritableFile(path: path + ".spool")
    }

    /// Appends one entry, which `body` writes.
    func append(_ body: (inout ByteWriter) -> Void) throws {
        body(&buffer)
        count += 1
        if buffer.count >= 1 << 16 { try drain() }
    }

    private func drain() throws {
        try spool.write(buffer.bytes)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the component: `header`, the entries, the CRC32C of both; fsyncs it and removes the
    /// spool.
    func finish(header: [UInt8]) throws {
        try drain()
        try spool.close()
        let entries = try ReadOnlyFile(path: spoolPath)
        try FileSystem.writeChecksummed(path, header: header) { write in try entries.forEachPiece(write) }
        try FileSystem.remove(spoolPath)
    }

    /// Removes the spool (and the component, if it was begun) of an unfinished write.
    func abort() {
        try? spool.close()
        try? FileSystem.remove(spoolPath)
        try? FileSystem.remove(path)
    }
}
