import ArgumentParser
import CoreMetrics
import BasaltServer
import Dispatch
import Foundation
import Logging

/// `basalt server`: runs one node until SIGTERM or SIGINT, then stops it gracefully.
///
/// Settings come from the defaults, then `--config FILE`, then `BASALT_*` environment variables,
/// then the flags below, each overriding the one before. Exit codes: 0 after a graceful stop, 1 when
/// the node cannot start (the reason is the last line on stderr), 64 for bad command-line usage.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run a Basalt node.",
        discussion: """
            Settings: defaults, then --config FILE (YAML), then BASALT_<YAML_KEY> environment variables \
            (e.g. BASALT_LISTEN_ADDRESS), then flags. SIGTERM or SIGINT stops the node gracefully (it \
            announces its shutdown to its peers). Exit status: 0 stopped, 1 could not start, 64 usage error.
            """
    )

    @Option(help: "YAML configuration file.") var config: String?
    @Option(help: "Cluster name (cluster_name).") var clusterName: String?
    @Option(help: "This node's IPv4 address (listen_address).") var listenAddress: String?
    @Option(help: "Comma-separated seed addresses, host or host:port (seeds).") var seeds: String?
    @Option(help: "Data directory (data_directory).") var dataDir: String?
    @Option(help: "CQL native protocol port (native_transport_port).") var nativePort: String?
    @Option(help: "Internode port (storage_port).") var internodePort: String?
    @Option(help: "Admin HTTP port, 0 = off (admin_port).") var adminPort: String?
    @Option(help: "Vnode tokens (num_tokens).") var numTokens: String?
    @Option(help: "Data center (dc).") var dc: String?
    @Option(help: "Rack (rack).") var rack: String?
    @Option(help: "Milliseconds a first start waits to learn the ring (ring_delay_in_ms).") var ringDelayMs: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical (log_level).") var logLevel: String?
    @Option(help: "Append logs to this file instead of stderr.") var logFile: String?

    /// Flag values by the YAML key they override.
    private var flagSettings: [(flag: String, key: String, value: String?)] {
        [("--cluster-name", "cluster_name", clusterName), ("--listen-address", "listen_address", listenAddress),
         ("--seeds", "seeds", seeds), ("--data-dir", "data_directory", dataDir),
         ("--native-port", "native_transport_port", nativePort), ("--internode-port", "storage_port", internodePort),
         ("--admin-port", "admin_port", adminPort), ("--num-tokens", "num_tokens", numTokens), ("--dc", "dc", dc),
         ("--rack", "rack", rack), ("--ring-delay-ms", "ring_delay_in_ms", ringDelayMs),
         ("--log-level", "log_level", logLevel)]
    }

    func run() async throws {
        let settings: NodeConfig
        do {
            settings = try loadConfig()
        } catch {
            Self.fail("invalid configuration: \(error.problems.joined(separator: "; "))")
        }
        if let logFile {
            let fd = open(logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0, dup2(fd, STDERR_FILENO) >= 0 else {
                Self.fail("cannot open log file \(logFile): \(String(cString: strerror(errno)))")
            }
            close(fd)
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        // Every line names the node (address, then host id once known), whichever logger wrote it.
        let logMetadata = NodeLogMetadata()
        LoggingSystem.bootstrap({ label, metadataProvider in
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: metadataProvider)
            handler.logLevel = level
            return handler
        }, metadataProvider: logMetadata.provider)
        let node = BasaltNode(config: settings, logger: Logger(label: "basalt"), releaseVersion: BasaltRelease.version,
                              components: CQLComponent.nodeComponents(releaseVersion: BasaltRelease.version), logMetadata: logMetadata)
        // Libraries that report through the global swift-metrics API land on this node's /metrics too.
        MetricsSystem.bootstrap(node.metrics.factory)
        let stopSignal = SignalWaiter(signals: [SIGTERM, SIGINT])
        node.onStopRequest { _ in stopSignal.trigger(SIGTERM) }
        do {
            try await node.start()
        } catch {
            Self.fail("cannot start: \(error)")
        }
        let signal = await stopSignal.wait()
        node.logger.info("stopping on signal \(signal)")
        await node.stop()
    }

    private func loadConfig() throws(NodeConfigError) -> NodeConfig {
        var c = NodeConfig()
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw NodeConfigError(["cannot read configuration file \(config)"])
            }
            do { c = try c.loading(yaml: text) } catch {
                throw NodeConfigError(error.problems.map { "\(config): \($0)" })
            }
        }
        c = try c.loading(environment: ProcessInfo.processInfo.environment)
        var problems = [String]()
        for (flag, key, value) in flagSettings {
            guard let value else { continue }
            do { c = try c.setting(key, to: value) } catch { problems.append("\(flag): " + error.problems.joined(separator: "; ")) }
        }
        if !problems.isEmpty { throw NodeConfigError(problems) }
        return c
    }

    /// Prints `basalt server: message` on stderr and exits with status 1.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("basalt server: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// Waits for the first of some signals, which no longer terminate the process by default.
final class SignalWaiter: @unchecked Sendable {
    // @unchecked: `sources`, `received` and `waiter` are touched only on `queue`.
    private let queue = DispatchQueue(label: "basalt.signals")
    private var sources: [DispatchSourceSignal] = []
    private var received: Int32?
    private var waiter: CheckedContinuation<Int32, Never>?

    init(signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in
                if self.received != nil {
                    // A second signal while stopping: give up on the graceful stop.
                    Foundation.exit(128 + number)
                }
                self.received = number
                self.waiter?.resume(returning: number)
                self.waiter = nil
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Acts as if `number` had been received (the node asked to stop itself).
    func trigger(_ number: Int32) {
        queue.async {
            guard self.received == nil else { return }
            self.received = number
            self.waiter?.resume(returning: number)
            self.waiter = nil
        }
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            queue.async {
                if let received = self.received {
                    continuation.resume(returning: received)
                } else {
                    self.waiter = continuation
                }
            }
        }
    }
}
