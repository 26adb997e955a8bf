import BasaltCore

/// Chooses vnode tokens for a node joining a ring so that ownership stays balanced.
///
/// Rule (ours; in the spirit of Cassandra's `allocate_tokens_for_local_replication_factor`, not its
/// exact algorithm): only the joining node's data center counts.
/// - The first node of a data center gets `count` evenly spaced tokens from a random offset.
/// - Every later node places its tokens one at a time, greedily: each candidate token splits one of
///   the widest ranges (or a widest range of one of the most over-loaded nodes) at 1/6 … 5/6 of its
///   width; the candidate kept is the one minimising `Σ (owned/target − 1)²` over the data center's
///   nodes, summed for replication factor 1 and for `replicationFactor` (replicated ownership under
///   SimpleStrategy within the data center). Existing nodes' target is `rf/(n+1)`; the newcomer's
///   target grows with each token placed (`rf/(n+1) · placed/count`), so every token takes a fair share.
/// - Then two local-search passes slide each new token to 1/12 … 11/12 of the gap between its
///   neighbours whenever that lowers the same objective (with the newcomer's full target).
/// Racks are not considered. The figures this gives are in docs/membership.md.
public enum TokenAllocator {
    /// Tokens for `newcomer` in `dataCenter`, balanced against the ring's members in that data center.
    public static func allocate(
        count: Int,
        dataCenter: String,
        in ring: TokenRing,
        replicationFactor: Int,
        using rng: inout some RandomNumberGenerator
    ) -> [Token] {
        guard count > 0 else { return [] }
        let local = ring.members.filter { $0.dataCenter == dataCenter }
        var pairs: [(Int64, Int)] = []
        for (i, m) in local.enumerated() {
            for t in m.tokens { pairs.append((t.value, i)) }
        }
        guard !pairs.isEmpty else { return evenlySpaced(count: count, using: &rng) }
        pairs.sort { $0.0 < $1.0 }
        var work = Layout(tokens: pairs.map(\.0), owners: pairs.map(\.1), nodeCount: local.count + 1)
        let newcomer = local.count
        let rf = max(1, min(replicationFactor, local.count + 1))
        var chosen: [Token] = []
        let fractions: [Double] = [1.0 / 6, 2.0 / 6, 3.0 / 6, 4.0 / 6, 5.0 / 6]
        for step in 0 ..< count {
            let fill = Double(step + 1) / Double(count)
            var best: (score: Double, token: Int64, at: Int)? = nil
            for r in work.candidateRanges(rf: rf, newcomer: newcomer) {
                let start = work.tokens[r == 0 ? work.tokens.count - 1 : r - 1]
                let width = work.tokens.count == 1 ? UInt64.max : UInt64(bitPattern: work.tokens[r] &- start)
                for f in fractions {
                    let offset = UInt64(Double(width) * f)
                    guard offset > 0, offset < width else { continue }
                    let t = start &+ Int64(bitPattern: offset)
                    guard t != Int64.min else { continue }
                    let at = r == 0 && t > work.tokens[work.tokens.count - 1] ? work.tokens.count : r
                    let trial = work.inserting(t, owner: newcomer, at: at)
                    let score = trial.imbalance(rf: rf, newcomer: newcomer, newcomerFill: fill)
                        + (rf > 1 ? trial.imbalance(rf: 1, newcomer: newcomer, newcomerFill: fill) : 0)
                    if best == nil || score < best!.score { best = (score, t, at) }
                }
            }
            guard let pick = best else { break }
            work = work.inserting(pick.token, owner: newcomer, at: pick.at)
            chosen.append(Token(pick.token))
        }
        work.refine(newcomer: newcomer, rf: rf, passes: 2)
        return work.tokens.indices.filter { work.owners[$0] == newcomer }.map { Token(work.tokens[$0]) }
    }

    /// `count` tokens evenly spaced around the ring from a random offset.
    public static func evenlySpaced(count: Int, using rng: inout some RandomNumberGenerator) -> [Token] {
        let step = UInt64.max / UInt64(count)
        var t = rng.next() as UInt64
        var out: [Token] = []
        for _ in 0 ..< count {
            var v = Int64(bitPattern: t)
            if v == .min { v += 1 }
            out.append(Token(v))
            t = t &+ step
        }
        return out.sorted()
    }

    /// `count` uniformly random tokens: Cassandra's behaviour without an allocation strategy, kept for
    /// comparison in the ownership report.
    public static func random(count: Int, using rng: inout some RandomNumberGenerator) -> [Token] {
        var out = Set<Token>()
        while out.count < count {
            let v = Int64(bitPattern: rng.next() as UInt64)
            if v != .min { out.insert(Token(v)) }
        }
        return out.sorted()
    }

    /// A data center's tokens in ring order with their owners (0 ..< nodeCount).
    struct Layout {
        var tokens: [Int64]
        var owners: [Int]
        var nodeCount: Int

        func score(rf: Int, newcomer: Int) -> Double {
            imbalance(rf: rf, newcomer: newcomer, newcomerFill: 1) + (rf > 1 ? imbalance(rf: 1, newcomer: newcomer, newcomerFill: 1) : 0)
        }

        /// Local search: slide each of the newcomer's tokens between its neighbours while that helps.
        mutating func refine(newcomer: Int, rf: Int, passes: Int) {
            guard tokens.count > 2 else { return }
            var current = score(rf: rf, newcomer: newcomer)
            for _ in 0 ..< passes {
                for i in tokens.indices where owners[i] == newcomer {
                    let n = tokens.count
                    let prev = tokens[i == 0 ? n - 1 : i - 1]
                    let next = tokens[i == n - 1 ? 0 : i + 1]
                    let span = UInt64(bitPattern: next &- prev)
                    for k in 1 ..< 12 {
                        let t = prev &+ Int64(bitPattern: UInt64(Double(span) * Double(k) / 12))
                        guard t != tokens[i], t != prev, t != next, t != Int64.min else { continue }
                        // Keep sorted order: only positions that stay between the same neighbours
                        // without crossing the ring's wrap point are tried.
                        if i > 0 && t <= prev { continue }
                        if i < n - 1 && t >= next { continue }
                        var trial = self
                        trial.tokens[i] = t
                        let s = trial.score(rf: rf, newcomer: newcomer)
                        if s < current {
                            current = s
                            self = trial
                        }
                    }
                }
            }
        }

        func inserting(_ t: Int64, owner: Int, at i: Int) -> Layout {
            var copy = self
            copy.tokens.insert(t, at: i)
            copy.owners.insert(owner, at: i)
            return copy
        }

        /// Replicated ownership per node under SimpleStrategy with `rf`.
        func ownership(rf: Int) -> [Double] {
            var owned = [Double](repeating: 0, count: nodeCount)
            var seenAt = [Int](repeating: -1, count: nodeCount)
            let n = tokens.count
            for i in 0 ..< n {
                let prev = tokens[i == 0 ? n - 1 : i - 1]
                let width = n == 1 ? 1.0 : Double(UInt64(bitPattern: tokens[i] &- prev)) / 18_446_744_073_709_551_616.0
                var found = 0
                var step = 0
                while found < rf && step < n {
                    let o = owners[(i + step) % n]
                    if seenAt[o] != i {
                        seenAt[o] = i
                        owned[o] += width
                        found += 1
                    }
                    step += 1
                }
            }
            return owned
        }

        func imbalance(rf: Int, newcomer: Int, newcomerFill: Double) -> Double {
            let own = ownership(rf: rf)
            let target = Double(rf) / Double(nodeCount)
            var sum = 0.0
            for (i, o) in own.enumerated() {
                let goal = i == newcomer ? target * newcomerFill : target
                let d = o / goal - 1
                sum += d * d
            }
            return sum
        }

        /// The widest ranges, and the widest ranges of the most over-loaded existing nodes.
        func candidateRanges(rf: Int, newcomer: Int) -> [Int] {
            let n = tokens.count
            var widths: [(UInt64, Int)] = []
            widths.reserveCapacity(n)
            for i in 0 ..< n {
                let prev = tokens[i == 0 ? n - 1 : i - 1]
                widths.append((n == 1 ? UInt64.max : UInt64(bitPattern: tokens[i] &- prev), i))
            }
            widths.sort { $0.0 > $1.0 }
            var picked = Set(widths.prefix(16).map(\.1))
            let own = ownership(rf: rf)
            let loaded = own.indices.filter { $0 != newcomer }.sorted { own[$0] > own[$1] }.prefix(3)
            for node in loaded {
                for (_, i) in widths.lazy.filter({ self.owners[$0.1] == node }).prefix(2) { picked.insert(i) }
            }
            return picked.sorted()
        }
    }
}
