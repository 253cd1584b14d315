import BuildSupport
import Foundation

/// What every stage executable does around its stage: resolve the worker split, load the
/// config, and map errors to exit statuses. Kept free of argument-parsing types.
public enum StageCommandSupport {
    /// Exit status for a build locked by another process (EX_TEMPFAIL).
    public static let lockedExitCode: Int32 = 75
    /// Exit status for a bad config (EX_CONFIG).
    public static let configExitCode: Int32 = 78
    /// Exit status for a bad command line (EX_USAGE), as ArgumentParser exits for one.
    public static let usageExitCode: Int32 = 64

    /// The exit statuses of the stage executables and the tools that open a build (merge,
    /// catalog, prior), for their `--help`.
    public static let buildExitStatusHelp = """
        Exit status: 0 done (bad samples are recorded, not fatal); 64 bad command line; 75 another process \
        holds the build's lock; 78 bad config or manifest, or a stage that must run first; 1 anything else \
        (I/O, disk full).
        """

    /// The exit statuses of the tools that open no build, for their `--help`.
    public static let toolExitStatusHelp = "Exit status: 0 done; 64 bad command line; 1 anything else (an unreadable or bad input, I/O)."

    /// Resolves `--workers/--worker` against the Slurm array defaults.
    /// - Throws: ``PipelineError`` `.usage` for an out-of-range index.
    public static func runOptions(workers: Int?, worker: Int?, retryFailed: Bool, unitSize: Int, quiet: Bool) throws -> RunOptions {
        let slurm = RunOptions.slurmDefaults()
        let count = workers ?? slurm.workers
        let index = worker ?? (workers == nil ? slurm.worker : 0)
        guard count >= 1 else { throw PipelineError(.usage, "--workers must be at least 1") }
        guard (0..<count).contains(index) else {
            throw PipelineError(.usage, "--worker must be in 0..<\(count), got \(index)")
        }
        return RunOptions(workers: count, worker: index, retryFailed: retryFailed, unitSize: unitSize, quiet: quiet)
    }

    /// The exit status for an error.
    public static func exitCode(for error: any Error) -> Int32 {
        guard let error = error as? PipelineError else { return 1 }
        switch error.code {
        case .locked: return lockedExitCode
        case .config, .manifest, .usage: return configExitCode
        default: return 1
        }
    }

    /// Prints an error to standard error.
    public static func report(_ error: any Error, command: String) {
        FileHandle.standardError.write(Data("\(command): error: \(error)\n".utf8))
    }
}
