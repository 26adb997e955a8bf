import BasaltCore

extension Gossip.Instance {
    /// Sets the STATUS of another endpoint (a dead node an operator removes, or the node a
    /// replacement took over): the value gets a version above everything known for that endpoint
    /// under its current generation, so gossip spreads it as if the endpoint had announced it, and
    /// a restart of that endpoint (a newer generation) supersedes it. Unknown endpoints and this
    /// node itself are refused (empty result).
    public mutating func onRemoteStatusChange(of addr: NodeAddress, to status: NodeStatus) -> [Gossip.Directive] {
        guard addr != localAddress, let current = endpoints[addr] else { return [] }
        var remote = current
        remote.states[.status] = Gossip.VersionedValue(version: current.maxVersion + 1,
                                                       bytes: Gossip.ApplicationValue.status(status).encoded())
        var out: [Gossip.Directive] = []
        applyNewerValues(of: addr, from: remote, into: &out)
        return out
    }
}

extension ClusterMembership {
    /// Sets another endpoint's STATUS (see ``Gossip/Instance/onRemoteStatusChange(of:to:)``).
    public mutating func setRemoteStatus(of address: NodeAddress, to status: NodeStatus) -> [Directive] {
        translateGossip(gossip.onRemoteStatusChange(of: address, to: status))
    }
}
