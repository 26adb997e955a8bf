import BasaltProtocol
import BasaltCore
import BasaltNet

extension Session {
    /// Makes `connection` the control connection: its events drive refreshes, its loss starts
    /// a reconnection to another node.
    func adoptControl(_ connection: NodeConnection) {
        let closed = control.withLock {
            if !$0.closed { $0.connection = connection }
            return $0.closed
        }
        if closed { return connection.close(.sessionClosed) }
        connection.onEvent { [self] event in handle(event) }
        connection.onClose { [self] error in
            let lost = control.withLock {
                guard $0.connection === connection else { return false }
                $0.connection = nil
                return !$0.closed
            }
            if lost {
                logger.info("control connection lost", metadata: ["node": "\(connection.node)", "reason": "\(error)"])
                reconnectControl()
            }
        }
    }

    private func handle(_ event: ProtocolEvent) {
        logger.debug("event", metadata: ["event": "\(event)"])
        switch event {
        case let .statusChange(.up, endpoint):
            pool(at: endpoint)?.reportedUp()
            scheduleRefresh()
        case .statusChange(.down, _):
            // Like the Python driver: a node the client still has connections to stays up (the
            // event may describe another network path); connection loss marks nodes down.
            break
        case .topologyChange:
            scheduleRefresh()
        case let .schemaChange(change):
            if change.target == .keyspace { scheduleRefresh() }
        }
    }

    private func pool(at endpoint: InetEndpoint) -> NodePool? {
        let host = CQLValue.inetText(endpoint.address)
        let pools = routing.withLock { $0.pools }
        return pools.first { $0.node.address.host == host && Int32($0.node.address.port) == endpoint.port }
            ?? pools.first { $0.node.address.host == host }
    }

    /// Re-reads the topology over the control connection and applies it: new nodes get pools,
    /// removed nodes' pools are closed, routing switches to the new ring and keyspaces at once.
    public func refreshTopology() async throws(ClientError) {
        guard let connection = control.withLock({ $0.connection }), connection.isOpen else {
            throw .noHostAvailable([.init(node: "control", reason: "no control connection")])
        }
        let address = try addressOfControl(connection)
        let snapshot = try await TopologyReader.read(on: connection, address: address, defaultPort: configuration.port,
                                                     timeout: configuration.requestTimeout)
        apply(snapshot.topology)
    }

    private func addressOfControl(_ connection: NodeConnection) throws(ClientError) -> SocketAddress {
        do {
            return try SocketAddress(connection.node)
        } catch {
            throw .protocolViolation(node: connection.node, reason: error.description)
        }
    }

    func apply(_ topology: ClusterTopology) {
        let (created, removed): ([NodePool], [NodePool]) = routing.withLock { state in
            var existing = [UUIDValue: NodePool]()
            for p in state.pools { existing[p.node.hostId] = p }
            var pools = [NodePool]()
            var created = [NodePool]()
            for n in topology.nodes {
                if let p = existing[n.hostId], p.node.address == n.address {
                    pools.append(p)
                    existing[n.hostId] = nil
                } else {
                    let p = NodePool(node: n, configuration: configuration, group: group)
                    pools.append(p)
                    created.append(p)
                }
            }
            state = RoutingState(topology: topology, pools: pools, localDataCenter: state.localDataCenter)
            return (created, Array(existing.values))
        }
        if isClosed {
            for p in created { p.close() }
            return
        }
        for p in removed {
            logger.info("node removed", metadata: ["node": "\(p.address)"])
            p.close()
        }
        for p in created {
            logger.info("node added", metadata: ["node": "\(p.address)"])
            Task { await p.connect() }
        }
    }

    /// Starts a refresh, or asks the running one to go again (events come in bursts).
    func scheduleRefresh() {
        let start = control.withLock {
            guard !$0.closed else { return false }
            if $0.refreshing {
                $0.refreshAgain = true
                return false
            }
            $0.refreshing = true
            return true
        }
        guard start else { return }
        Task {
            repeat {
                do {
                    try await refreshTopology()
                } catch {
                    logger.debug("topology refresh failed", metadata: ["error": "\(error)"])
                }
            } while control.withLock {
                if $0.refreshAgain && !$0.closed {
                    $0.refreshAgain = false
                    return true
                }
                $0.refreshing = false
                return false
            }
        }
    }

    func startPeriodicRefresh() {
        let interval = configuration.topologyRefreshInterval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                self.scheduleRefresh()
            }
        }
        keep(task)
    }

    /// Registers background work to be cancelled by ``close()`` (or cancels it at once when closed).
    func keep(_ task: Task<Void, Never>) {
        let closed = control.withLock {
            if !$0.closed {
                $0.tasks.removeAll { $0.isCancelled }
                $0.tasks.append(task)
            }
            return $0.closed
        }
        if closed { task.cancel() }
    }

    /// Opens a new control connection to a live node (contact points when none is known), with
    /// backoff, until one works or the session closes.
    func reconnectControl() {
        let start = control.withLock {
            guard !$0.closed, !$0.reconnecting else { return false }
            $0.reconnecting = true
            return true
        }
        guard start else { return }
        let task = Task { [self] in
            var health = NodeHealth(initialDelayNanos: configuration.reconnectInitialDelay.wholeNanoseconds,
                                    maxDelayNanos: configuration.reconnectMaxDelay.wholeNanoseconds)
            while !Task.isCancelled && !isClosed {
                if await tryControlCandidates() { break }
                guard case let .retry(delay) = health.connectFailed(now: 0) else { break }
                try? await Task.sleep(for: .nanoseconds(Int64(clamping: delay)))
            }
            control.withLock { $0.reconnecting = false }
        }
        keep(task)
    }

    /// Tries live nodes first, then the rest; true once a control connection is in place.
    private func tryControlCandidates() async -> Bool {
        let state = routing.withLock { $0 }
        let order = zip(state.topology.nodes, state.pools).sorted { $0.1.isUp && !$1.1.isUp }.map(\.0.address)
        for address in order {
            guard !isClosed else { return false }
            do {
                let connection = try await NodeConnection.open(to: address, on: group.next(), configuration: configuration)
                try await connection.registerForEvents(timeout: configuration.connectTimeout)
                adoptControl(connection)
                logger.info("control connection moved", metadata: ["node": "\(address)"])
                scheduleRefresh()
                return true
            } catch {
                continue
            }
        }
        return false
    }

    /// Polls the schema version of every live node (through the control connection) until they
    /// agree or ``SessionConfiguration/schemaAgreementTimeout`` passes; whether they agreed.
    @discardableResult
    public func awaitSchemaAgreement() async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.schemaAgreementTimeout
        while clock.now < deadline && !isClosed {
            if let connection = control.withLock({ $0.connection }), connection.isOpen,
               let versions = try? await TopologyReader.schemaVersions(on: connection, timeout: configuration.requestTimeout) {
                let state = routing.withLock { $0 }
                let live = zip(state.topology.nodes, state.pools).filter { $0.1.isUp }.map(\.0.hostId)
                if Set(live.compactMap { versions[$0] }).count <= 1 { return true }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}
