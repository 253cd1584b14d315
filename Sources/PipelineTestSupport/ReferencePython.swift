import Foundation

/// The Python interpreter that runs the live reference checks (transformers, diffusers, the
/// shard reader): `ECLIPSE_PYTHON` when set, else the project's own virtual environment
/// (`.venv/bin/python`, made by `make test` from `python/requirements-test.txt`), else
/// `python3` on the PATH. A test never uses whatever `python3` happens to be when the project's
/// environment exists, so the pinned versions are the ones checked.
public enum ReferencePython {
    /// The repository root (this file is `Sources/PipelineTestSupport/ReferencePython.swift`).
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    public static var interpreter: String {
        if let chosen = ProcessInfo.processInfo.environment["ECLIPSE_PYTHON"], !chosen.isEmpty { return chosen }
        let project = repository + "/.venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: project) ? project : "python3"
    }

    /// Runs the interpreter with `arguments` (standard error apart from the output when
    /// `separateErrors`, for scripts that print JSON).
    public static func run(_ arguments: [String], environment: [String: String] = [:],
                           timeout: Double = ChildProcess.defaultTimeout, separateErrors: Bool = false) -> Shell.Result {
        Shell.run(interpreter, arguments, environment: environment, timeout: timeout, separateErrors: separateErrors)
    }

    /// Why the interpreter cannot import every one of `modules` (nil when it can): the missing
    /// modules named, and how to get them.
    public static func missing(_ modules: [String]) -> String? {
        let probe = run(["-c", "import importlib.util, sys; m = [n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]; print(' '.join(m)); sys.exit(1 if m else 0)"]
                        + modules)
        if probe.status == 0 { return nil }
        if probe.status == 127 { return "\(interpreter) cannot be run (make test creates .venv)" }
        let names = probe.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return "\(interpreter) lacks \(names.isEmpty ? modules.joined(separator: ", ") : names) (make test installs python/requirements-test.txt into .venv)"
    }
}

/// A check that could not run on this machine. Each prints one line,
/// `SKIPPED CHECK [cause]: check: reason`; `make test` gathers them into its last lines and,
/// under CI (or with `REQUIRE_ALL_CHECKS=1`), fails when a check skipped for a cause that
/// `make test` itself removes (a package it installs, root). Checks of `../shared/data` may
/// skip where that folder is absent.
public enum SkippedCheck {
    public enum Cause: String, Sendable {
        /// A Debian or Python package that `make test` installs.
        case package
        /// The check needs root (mounting a tmpfs, starting Slurm daemons).
        case root
        /// The data in `../shared/data` is absent (allowed: it is never copied into the project).
        case sharedData = "shared-data"
        /// The CPU lacks an instruction set the check needs (allowed: the fallback is tested instead).
        case hardware
    }

    public static let marker = "SKIPPED CHECK"

    public static func report(_ check: String, cause: Cause, because reason: String) {
        print("\(marker) [\(cause.rawValue)]: \(check): \(reason)")
    }
}
