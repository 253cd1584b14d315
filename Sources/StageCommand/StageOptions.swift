public import ArgumentParser
public import BuildConfig
import BuildSupport
public import Catalog
import Foundation
public import Pipeline

/// The options every stage executable takes, and the run-and-report wrapper around a stage.
public struct StageOptions: ParsableArguments {
    @Option(help: "Pipeline config (YAML).") public var pipeline: String
    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set crop.canny=true (repeatable).")
    public var overrides: [String] = []
    @Option(help: "Worker processes the build is split across (default: SLURM_ARRAY_TASK_COUNT or 1).")
    public var workers: Int?
    @Option(help: "This worker's index (default: SLURM_ARRAY_TASK_ID or 0).") public var worker: Int?
    @Flag(help: "Redo units that hold failed samples.") public var retryFailed = false
    @Flag(help: "No progress line.") public var quiet = false

    public init() {}

    /// Loads the config, resolves the worker split, runs `body`, prints the summary and the
    /// catalog path, and maps errors to the documented exit statuses.
    /// - Parameter body: builds and runs the stage, returning its summary.
    public func run(command: String,
                    _ body: (PipelineConfig, BuildLayout, StageRunner) throws -> RunSummary) throws {
        do {
            let config = try PipelineConfig.load(path: pipeline, overrides: overrides)
            let options = try StageCommandSupport.runOptions(workers: workers, worker: worker, retryFailed: retryFailed,
                                                             unitSize: config.unitSize, quiet: quiet)
            let layout = BuildLayout(root: config.buildDir)
            let summary = try body(config, layout, StageRunner(layout: layout, options: options))
            print(summary.text)
            let catalogPath = layout.catalog(worker: options.worker, workers: options.workers)
            print("catalog: \(catalogPath)")
            // Say why a stage had nothing to do, or nothing came through it (exit status stays 0).
            // A worker's catalog holds only its own units, so only a whole-build run can tell.
            if options.workers == 1 {
                for line in try StageAdvice.warnings(stage: command, pipeline: config, catalog: Catalog(path: catalogPath, readOnly: true)) {
                    FileHandle.standardError.write(Data("\(command): warning: \(line)\n".utf8))
                }
            }
        } catch {
            StageCommandSupport.report(error, command: command)
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }

    /// Runs a stage that reads the build catalog an earlier stage wrote: opens it read-only (or
    /// says to run ingest first) and hands it to `body` for the stage's units.
    public func runOnCatalog(command: String,
                             _ body: (PipelineConfig, Catalog, StageRunner) throws -> RunSummary) throws {
        try run(command: command) { config, layout, runner in
            guard FileManager.default.fileExists(atPath: layout.catalog) else {
                throw PipelineError(.usage, "no catalog yet: run ingest first", file: layout.catalog)
            }
            return try body(config, try Catalog(path: layout.catalog, readOnly: true), runner)
        }
    }
}
