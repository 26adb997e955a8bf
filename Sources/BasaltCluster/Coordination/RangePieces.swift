import BasaltCore

/// A token range cut at the ring's tokens: each piece lies within one ring range, so one replica
/// set holds all of it.
public struct RangePiece: Hashable, Sendable {
    /// Never wraps.
    public var range: TokenRange
    /// Index in `ring.sortedTokens` of the ring range the piece lies in.
    public var ringIndex: Int
}

extension TokenRing {
    /// The pieces of `range` (wrapping ranges are taken as their unwrapped parts), in ascending token
    /// order. Empty on an empty ring.
    public func pieces(of range: TokenRange) -> [RangePiece] {
        guard !sortedTokens.isEmpty else { return [] }
        var out: [RangePiece] = []
        for part in range.unwrapped {
            // `(start, end]` with end == .min means "to the end of the ring" in unwrapped parts.
            let end = part.end == .min ? Token.max : part.end
            var start = part.start
            guard start < end else { continue }
            // The ring range holding start+1: the first ring token ≥ start + 1, i.e. > start.
            var i = firstIndex(after: start)
            while start < end {
                let (pieceEnd, index): (Token, Int)
                if i < sortedTokens.count {
                    pieceEnd = Swift.min(sortedTokens[i], end)
                    index = i
                } else {
                    // Past the last ring token: the wrapping range owned by the first token.
                    pieceEnd = end
                    index = 0
                }
                out.append(RangePiece(range: TokenRange(start: start, end: pieceEnd), ringIndex: index))
                start = pieceEnd
                i += 1
            }
        }
        return out
    }

    /// The index of the first ring token strictly greater than `token` (`sortedTokens.count` if none).
    private func firstIndex(after token: Token) -> Int {
        var lo = 0, hi = sortedTokens.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sortedTokens[mid] <= token { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
