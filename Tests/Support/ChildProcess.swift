import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process started with `posix_spawn` and reaped with `waitpid` by this value, so a test never
/// depends on Foundation noticing a child's exit (its SIGCHLD source can miss exits when other
/// threads of the test process receive the signal). Standard input is /dev/null; standard output and
/// error go to `outputPath` (appended).
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `exitStatus` is guarded by `lock`.
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`, in `directory` when given (through `/bin/sh`'s `cd`).
    public convenience init(_ executable: String, _ arguments: [String], outputPath: String, directory: String,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", directory, executable] + arguments,
                      outputPath: outputPath, environment: environment)
    }

    public init(_ executable: String, _ arguments: [String], outputPath: String,
         environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A clean signal state in the child: default handlers, nothing blocked.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SpawnError(executable: executable, message: String(cString: strerror(rc))) }
        pid = child
    }

    public struct SpawnError: Error, CustomStringConvertible {
        let executable: String
        let message: String
        public var description: String { "cannot start \(executable): \(message)" }
    }

    /// The exit status (128 + signal for a signalled exit), or nil while it runs. Reaps the child.
    public var status: Int32? {
        lock.withLock {
            if exitStatus == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid {
                    let signal = raw & 0x7f
                    exitStatus = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
                }
            }
            return exitStatus
        }
    }

    public var isRunning: Bool { status == nil }

    public func signal(_ sig: Int32) {
        if isRunning { kill(pid, sig) }
    }

    /// Waits up to `timeout` for the exit; its status, or nil if still running.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while isRunning && clock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return status
    }

    /// SIGKILLs the process if it still runs and reaps it (blocking at most a few seconds).
    public func killAndReap() {
        guard isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        for _ in 0 ..< 500 where isRunning { usleep(10_000) }
    }
}

/// The `basalt` executable under test: `BASALT_BIN`, or the one built beside this test bundle.
public enum BasaltBinary {
    public static var path: String {
        if let env = ProcessInfo.processInfo.environment["BASALT_BIN"], !env.isEmpty { return env }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The bundle may be a directory (BasaltPackageTests.xctest/…) inside the build directory.
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("basalt").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "basalt-not-found (set BASALT_BIN or build the basalt product)"
    }

    /// The repository root (for the cluster/ scripts).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}
