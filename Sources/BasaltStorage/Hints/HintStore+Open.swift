import BasaltCore
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Start-up: the directory lock, and finding what earlier processes left.
extension HintStore {
    /// What the files in the directory hold.
    struct Recovery {
        var targets: [UUIDValue: HintTarget] = [:]
        var maxSegmentId: UInt64 = 0
        var diskBytes = 0
        /// Damaged places found (bad headers, torn or damaged records) and the bytes lost to them.
        var damaged = 0
        var damagedBytes = 0
        /// Files deleted: empty, or with no readable hint.
        var deleted = 0
    }

    /// Takes an exclusive `flock` on `<directory>/LOCK`; returns its descriptor.
    static func lockDirectory(_ directory: String) throws -> Int32 {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileSystem.fail(path, "open") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            Glibc.close(fd)
            throw HintStoreError.io("\(directory) is in use by another hint store (flock on \(path))")
        }
        return fd
    }

    static func unlockDirectory(_ fd: Int32) {
        flock(fd, LOCK_UN)
        Glibc.close(fd)
    }

    /// Removes temporary (`tmp-`) files and reads every segment file in `directory`, checking each
    /// record. Segments are kept up to their first damage; files with a bad header or no readable
    /// hint are deleted; files of other names are left alone.
    static func recover(directory: String, logger: Logger) throws -> Recovery {
        var r = Recovery()
        var found: [(target: UUIDValue, segment: UInt64)] = []
        for name in try FileSystem.list(directory) {
            if name.hasPrefix("tmp-") {
                try FileSystem.remove(directory + "/" + name)
                r.deleted += 1
            } else if let f = HintSegmentFormat.parse(fileName: name) {
                found.append(f)
                r.maxSegmentId = max(r.maxSegmentId, f.segment)
            }
        }
        found.sort { $0.segment < $1.segment }
        for (target, id) in found {
            let t = r.targets[target] ?? HintTarget(id: target, directory: directory)
            let path = t.path(id)
            let segment: HintTargetLog.Segment
            do {
                guard let s = try recoverSegment(path: path, target: target, id: id, into: &r, logger: logger) else {
                    try FileSystem.remove(path)
                    r.deleted += 1
                    continue
                }
                segment = s
            } catch {
                // Unreadable for a reason other than its content (permissions, I/O error): left
                // alone, without its hints.
                logger.error("could not read hint segment; ignoring it", metadata: ["path": "\(path)", "error": "\(error)"])
                continue
            }
            t.log.add(segment, open: false)
            r.targets[target] = t
            r.diskBytes += segment.fileBytes
        }
        return r
    }

    /// The readable part of one segment file; nil when it holds no hint (empty, bad header, or
    /// damaged from its first record), which the caller deletes.
    private static func recoverSegment(path: String, target: UUIDValue, id: UInt64, into r: inout Recovery, logger: Logger) throws(StorageError) -> HintTargetLog.Segment? {
        guard let file = try HintFile.openForReading(path) else { return nil }
        let size = try file.size()
        // A crash between creating a file and writing its header leaves it empty: nothing lost.
        if size == 0 { return nil }
        let h = HintSegmentFormat.headerSize
        do {
            try HintSegmentFormat.checkHeader(try file.read(count: h, at: 0), path: path, target: target, segment: id)
        } catch {
            if case .corrupt = error {
                r.damaged += 1
                r.damagedBytes += size
                logDamage(error, logger: logger, "hint segment with a bad header: deleted", [:])
                return nil
            }
            throw error
        }
        var reader = HintSegmentReader(file: file)
        let outcome = try reader.read(from: h, to: size) { _, _ in true }
        if let damage = outcome.damage {
            r.damaged += 1
            r.damagedBytes += size - outcome.position
            logDamage(damage, logger: logger, "hint segment ends in a torn or damaged record: the rest of it is skipped",
                      ["keptHints": "\(outcome.records)"])
        }
        if outcome.records == 0 { return nil }
        return .init(id: id, fileBytes: size, end: outcome.position, records: outcome.records)
    }

    /// Logs damage found in a file, naming its path and offset.
    static func logDamage(_ error: StorageError, logger: Logger, _ message: Logger.Message, _ extra: Logger.Metadata) {
        var metadata = extra
        if case let .corrupt(path, offset, reason) = error {
            metadata["path"] = "\(path)"
            metadata["offset"] = "\(offset)"
            metadata["reason"] = "\(reason)"
        } else {
            metadata["error"] = "\(error)"
        }
        logger.error(message, metadata: metadata)
    }
}
