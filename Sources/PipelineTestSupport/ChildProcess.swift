public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid` on its own pid, with
/// every wait bounded.
///
/// The tests start hundreds of short-lived processes from several test threads at once and kill
/// many of them mid-flight. Foundation's `Process.waitUntilExit()` waits for its SIGCHLD
/// bookkeeping on a run loop and has been seen to wait forever here; this type keeps nothing but
/// the pid, polls `waitpid(pid, WNOHANG)`, and kills the child when a deadline passes, so a test
/// fails with the child's output instead of hanging the whole run.
public final class ChildProcess: @unchecked Sendable {
    /// How long any wait may last before the child is killed (seconds); `ECLIPSE_TEST_CHILD_TIMEOUT`
    /// overrides the default of 600.
    public static var defaultTimeout: Double {
        ProcessInfo.processInfo.environment["ECLIPSE_TEST_CHILD_TIMEOUT"].flatMap(Double.init) ?? 600
    }

    public let processIdentifier: pid_t
    /// The executable and arguments, for messages.
    public let commandLine: String
    private let lock = NSLock()
    private var waitStatus: Int32?
    /// Whether a wait ran past its deadline and killed the child.
    public private(set) var timedOut = false

    /// Starts `executable` (a path, or a name looked up on PATH when it has no slash) with standard
    /// input from /dev/null and standard output and error appended to the given files (or
    /// /dev/null).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                stdoutPath: String? = nil, stderrPath: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let stderrPath, stderrPath == stdoutPath {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal handling and an empty mask in the child, whatever the test runner set.
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var pid: pid_t = 0
        let rc = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable): \(String(cString: strerror(rc)))"])
        }
        processIdentifier = pid
        commandLine = ([executable] + arguments).joined(separator: " ")
    }

    /// Reaps the child if it has ended; true when it has.
    private func poll() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if waitStatus != nil { return true }
        var status: Int32 = 0
        while true {
            let r = waitpid(processIdentifier, &status, WNOHANG)
            if r == processIdentifier { waitStatus = status; return true }
            if r == -1 && errno == EINTR { continue }
            if r == -1 { waitStatus = status; return true }   // ECHILD: reaped elsewhere
            return false
        }
    }

    public var isRunning: Bool { !poll() }

    /// Sends a signal if the child is still running; true when it was sent.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        guard isRunning else { return false }
        return kill(processIdentifier, signal) == 0
    }

    /// Waits for the child to end; after `timeout` seconds it is killed (SIGKILL) and `timedOut` set.
    public func waitUntilExit(timeout: Double = ChildProcess.defaultTimeout) {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: useconds_t = 200
        while !poll() {
            if Date() >= deadline {
                lock.lock(); timedOut = true; lock.unlock()
                kill(processIdentifier, SIGKILL)
                while !poll() { usleep(1000) }
                return
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// The exit status, or 128 + the signal number when a signal ended it (as shells report it).
    public var terminationStatus: Int32 {
        waitUntilExit()
        let status = waitStatus ?? 0
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Whether a signal ended the child.
    public var signalled: Bool {
        waitUntilExit()
        let signal = (waitStatus ?? 0) & 0x7f
        return signal != 0 && signal != 0x7f
    }
}

/// Runs a command to completion with its combined output captured through a file (no pipe a
/// child could fill and block on).
public enum Shell {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var timedOut: Bool
        /// Standard error when it was kept apart (`separateErrors`); otherwise it is in `output`.
        public var errors = ""
    }

    /// Runs `executable` with `arguments`; `environment` is merged over this process's own.
    /// Standard error joins standard output unless `separateErrors`.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: Double = ChildProcess.defaultTimeout, separateErrors: Bool = false) -> Result {
        let logs = TemporaryDirectory("shell")
        let path = logs.appending("output.txt")
        let errorPath = separateErrors ? logs.appending("errors.txt") : path
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        guard let child = try? ChildProcess(executable, arguments, environment: env, stdoutPath: path, stderrPath: errorPath) else {
            return Result(status: 127, output: "cannot start \(executable)", timedOut: false)
        }
        child.waitUntilExit(timeout: timeout)
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var result = Result(status: child.terminationStatus, output: output + (child.timedOut ? "\n[killed after \(Int(timeout)) s]" : ""),
                            timedOut: child.timedOut)
        if separateErrors { result.errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
        return result
    }

    /// Runs a `/bin/sh -c` command line.
    public static func sh(_ command: String, environment: [String: String] = [:],
                          timeout: Double = ChildProcess.defaultTimeout) -> Result {
        run("/bin/sh", ["-c", command], environment: environment, timeout: timeout)
    }
}

/// How many SIGKILLs a crash test deals: its own default in `make test`, or
/// `ECLIPSE_TORTURE_KILLS` (50 under `make reliability`).
public enum Torture {
    public static func kills(default count: Int) -> Int {
        ProcessInfo.processInfo.environment["ECLIPSE_TORTURE_KILLS"].flatMap(Int.init).map { max(1, $0) } ?? count
    }

    /// Appends a line to `ECLIPSE_TORTURE_LOG` when set (`make reliability` sums them for the README).
    public static func record(stage: String, kills: Int, runs: Int) {
        guard let path = ProcessInfo.processInfo.environment["ECLIPSE_TORTURE_LOG"] else { return }
        let line = "\(stage)\t\(kills)\t\(runs)\n"
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            handle.closeFile()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: Data(line.utf8))
        }
    }
}
