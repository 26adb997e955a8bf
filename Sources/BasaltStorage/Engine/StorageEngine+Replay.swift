import BasaltCore

extension StorageEngine {
    /// Replays the commit-log segments left by the previous process into memtables (skipping what
    /// SSTables already hold and records of unknown tables), flushes them, and deletes the old
    /// segments. Reading a segment stops cleanly at a torn or damaged tail, which the report names.
    /// Call once, after adding every table and before serving writes.
    public func replayCommitLog() throws -> CommitLogReplayReport {
        var report = CommitLogReplayReport()
        let segments = oldSegmentsToReplay()
        let dir = directory + "/commitlog"
        var touched: [UUIDValue: TableStore] = [:]
        for id in segments {
            report.segments += 1
            let path = dir + "/" + CommitLogSegmentFormat.fileName(id)
            let torn = try CommitLogSegmentReader(path: path, id: id).forEachRecord { pos, payload in
                guard let m = try? Mutation.decode(payload) else {
                    report.undecodable += 1
                    return
                }
                guard let t = try? table(m.tableId) else {
                    report.unknownTable += 1
                    return
                }
                if m.validationProblem(clusteringColumns: t.comparatorSnapshot.clusteringCount) != nil {
                    report.undecodable += 1
                    return
                }
                if let cut = t.stateLock.withLock({ t.truncatedAt }), pos < cut {
                    report.alreadyFlushed += 1
                    return
                }
                if t.view.sstables.contains(where: { $0.stats.commitLogIntervals.contains { $0.contains(pos) } }) {
                    report.alreadyFlushed += 1
                    return
                }
                try applyReplayed(t, m, at: pos)
                touched[t.id] = t
                report.replayed += 1
            }
            if let torn {
                report.tornTails.append(torn)
                logger.warning("commit-log segment ends in a torn or damaged record; replay of it stopped there", metadata: ["segment": "\(torn)"])
            }
        }
        try flushAndWait(touched.values)
        for id in segments { try FileSystem.remove(dir + "/" + CommitLogSegmentFormat.fileName(id)) }
        if !segments.isEmpty { logger.info("commit log replayed", metadata: ["report": "\(report)"]) }
        return report
    }
}
