import BasaltCore

/// The token ring: which node owns which vnode tokens, in the shape of Cassandra's `TokenMetadata`.
///
/// Ownership rule (Cassandra's, and every driver's): a token `t` belongs to the node owning the first
/// ring token `≥ t`, wrapping past the largest ring token to the smallest. The node owning ring token
/// `sortedTokens[i]` is the primary owner of the range `(sortedTokens[i-1], sortedTokens[i]]`
/// (for `i == 0` the range wraps from the last token).
///
/// Invariants: `sortedTokens` is strictly increasing; every token has exactly one owner; every member
/// owns at least one token and its `tokens` are exactly the ring tokens it owns; `members` is sorted
/// by identity. A value type: build a new ring to change it. Pending (joining / leaving) ranges are
/// not modelled yet; they will sit beside the normal tokens, as in Cassandra.
public struct TokenRing: Hashable, Sendable {
    /// Ring members sorted by identity.
    public private(set) var members: [RingMember]
    /// Every ring token, ascending.
    public private(set) var sortedTokens: [Token]
    /// For each entry of `sortedTokens`, the index in `members` of its owner.
    public private(set) var owners: [Int]
    private var indexByIdentity: [NodeIdentity: Int]

    /// The empty ring.
    public init() {
        members = []
        sortedTokens = []
        owners = []
        indexByIdentity = [:]
    }

    /// A ring of `members`. When two members claim the same token, the one later in the sequence gets
    /// it (callers order members oldest first, so the newer claim wins as in Cassandra); a member left
    /// without tokens is not part of the ring.
    public init(members input: some Sequence<RingMember>) {
        // One definition per identity: the last one given.
        var lastIndex: [NodeIdentity: Int] = [:]
        let all = Array(input)
        for (i, m) in all.enumerated() { lastIndex[m.identity] = i }
        let list = all.enumerated().filter { lastIndex[$0.element.identity] == $0.offset }.map(\.element)
        var claim: [Token: Int] = [:]
        for (i, m) in list.enumerated() {
            for t in m.tokens { claim[t] = i }
        }
        var owned = [[Token]](repeating: [], count: list.count)
        for (t, i) in claim { owned[i].append(t) }
        var kept: [RingMember] = []
        for (i, var m) in list.enumerated() where !owned[i].isEmpty {
            m.setTokens(owned[i])
            kept.append(m)
        }
        members = kept.sorted { $0.identity < $1.identity }
        indexByIdentity = [:]
        for (i, m) in members.enumerated() { indexByIdentity[m.identity] = i }
        var pairs: [(Token, Int)] = []
        pairs.reserveCapacity(claim.count)
        for (i, m) in members.enumerated() {
            for t in m.tokens { pairs.append((t, i)) }
        }
        pairs.sort { $0.0 < $1.0 }
        sortedTokens = pairs.map(\.0)
        owners = pairs.map(\.1)
    }

    public var isEmpty: Bool { sortedTokens.isEmpty }

    public func member(_ id: NodeIdentity) -> RingMember? {
        indexByIdentity[id].map { members[$0] }
    }

    public func memberIndex(_ id: NodeIdentity) -> Int? { indexByIdentity[id] }

    /// The index in `sortedTokens` of the first ring token `≥ token`, wrapping to 0; nil on an empty ring.
    public func tokenIndex(for token: Token) -> Int? {
        guard !sortedTokens.isEmpty else { return nil }
        var lo = 0
        var hi = sortedTokens.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sortedTokens[mid] < token { lo = mid + 1 } else { hi = mid }
        }
        return lo == sortedTokens.count ? 0 : lo
    }

    /// The node owning `token` as primary replica: the owner of the first ring token `≥ token`, wrapping.
    public func primaryOwner(of token: Token) -> RingMember? {
        tokenIndex(for: token).map { members[owners[$0]] }
    }

    /// The range `(previous ring token, sortedTokens[i]]` whose primary owner owns `sortedTokens[i]`.
    /// With a single ring token this is `(t, t]`, the whole ring.
    public func range(endingAt i: Int) -> TokenRange {
        let prev = i == 0 ? sortedTokens[sortedTokens.count - 1] : sortedTokens[i - 1]
        return TokenRange(start: prev, end: sortedTokens[i])
    }

    /// The ranges `id` owns as primary replica, in token order.
    public func primaryRanges(of id: NodeIdentity) -> [TokenRange] {
        guard let m = indexByIdentity[id] else { return [] }
        return owners.indices.filter { owners[$0] == m }.map { range(endingAt: $0) }
    }

    /// This ring with `member` added, or replacing the member of the same identity.
    public func adding(_ member: RingMember) -> TokenRing {
        TokenRing(members: members.filter { $0.identity != member.identity } + [member])
    }

    /// This ring without `id`.
    public func removing(_ id: NodeIdentity) -> TokenRing {
        TokenRing(members: members.filter { $0.identity != id })
    }

    /// Fraction of the ring in `(start, end]`; `(t, t]` is the whole ring (1.0).
    public static func width(of range: TokenRange) -> Double {
        if range.start == range.end { return 1.0 }
        let w = UInt64(bitPattern: range.end.value &- range.start.value)
        return Double(w) / 18_446_744_073_709_551_616.0
    }

    /// Width of each range ending at `sortedTokens[i]`, as a fraction of the ring.
    public var rangeWidths: [Double] {
        sortedTokens.indices.map { Self.width(of: range(endingAt: $0)) }
    }
}
