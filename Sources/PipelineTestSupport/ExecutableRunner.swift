import Foundation

/// Runs the package's built executables from tests (end-to-end, crash and worker tests).
public enum ExecutableRunner {
    /// The folder holding the built products: the test runner's own folder.
    public static var productsDirectory: String {
        if let override = ProcessInfo.processInfo.environment["ECLIPSE_BIN_DIR"] { return override }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // On macOS the runner sits inside a .xctest bundle.
        while url.path.contains(".xctest") { url.deleteLastPathComponent() }
        return url.path
    }

    /// The result of a finished process.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Whether the process was killed by a signal.
        public var signalled: Bool
    }

    /// Starts an executable with arguments and returns the child (stdout/stderr to files in `logDirectory`).
    public static func start(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                             logDirectory: String) throws -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        for key in ["SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN"] { env[key] = nil }
        env.merge(environment) { $1 }
        let id = UUID().uuidString.prefix(8)
        return try ChildProcess(productsDirectory + "/" + name, arguments, environment: env,
                                stdoutPath: "\(logDirectory)/\(name)-\(id).out", stderrPath: "\(logDirectory)/\(name)-\(id).err")
    }

    /// Runs an executable to completion and captures its output.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let logs = TemporaryDirectory("logs")
        let process = try start(name, arguments, environment: environment, logDirectory: logs.path)
        process.waitUntilExit()
        return collect(process, logDirectory: logs.path, name: name)
    }

    /// Reads a finished process's captured output.
    public static func collect(_ process: ChildProcess, logDirectory: String, name: String) -> Result {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: logDirectory)) ?? []
        func read(_ ext: String) -> String {
            files.filter { $0.hasPrefix(name + "-") && $0.hasSuffix(ext) }
                .compactMap { try? String(contentsOfFile: logDirectory + "/" + $0, encoding: .utf8) }.joined()
        }
        return Result(status: process.terminationStatus, stdout: read(".out"),
                      stderr: read(".err") + (process.timedOut ? "\n[killed: still running after the test's time limit]" : ""),
                      signalled: process.signalled)
    }
}
