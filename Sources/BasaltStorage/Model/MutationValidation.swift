import BasaltCore

extension Mutation {
    /// Checks what the storage formats rely on; returns a description of the first problem.
    ///
    /// Rows carry a full clustering (one component per clustering column; the static row none),
    /// TTLs are positive with an expiry time, and the key fits an SSTable index entry.
    func validationProblem(clusteringColumns: Int) -> String? {
        if partitionKey.isEmpty { return "empty partition key" }
        if partitionKey.count > Int(UInt16.max) { return "partition key of \(partitionKey.count) bytes exceeds 65535" }
        func check(_ r: Row, isStatic: Bool) -> String? {
            if isStatic ? !r.clustering.isEmpty : r.clustering.count != clusteringColumns {
                return "row clustering has \(r.clustering.count) components, the table has \(isStatic ? 0 : clusteringColumns)"
            }
            if let l = r.liveness, l.ttl < 0 || (l.ttl > 0 && l.localExpirationTime == Cell.noExpiration) {
                return "row marker with TTL \(l.ttl) and no expiry time"
            }
            for c in r.cells where c.ttl < 0 || (c.ttl > 0 && c.localDeletionTime == Cell.noExpiration) {
                return "cell \(c.column) with TTL \(c.ttl) and no expiry time"
            }
            return nil
        }
        if let s = update.staticRow, let p = check(s, isStatic: true) { return "static row: \(p)" }
        for r in update.rows {
            if let p = check(r, isStatic: false) { return p }
        }
        return nil
    }
}
