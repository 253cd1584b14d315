import ArgumentParser
import Catalog
import Foundation
import Pipeline

/// `crop`: cuts each subject out by its mask and records the subjects in the catalog.
@main
struct CropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop",
        abstract: "Cut each subject out by its mask (on white, cropped to its box, padded square), apply the paper's filters.",
        discussion: "Reads what ingest recorded in the build catalog. Units follow ingest's; a killed run resumes.")

    @Option(help: "Pipeline config (YAML).") var pipeline: String
    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set crop.canny=true (repeatable).")
    var overrides: [String] = []
    @Option(help: "Worker processes the build is split across (default: SLURM_ARRAY_TASK_COUNT or 1).") var workers: Int?
    @Option(help: "This worker's index (default: SLURM_ARRAY_TASK_ID or 0).") var worker: Int?
    @Flag(help: "Redo units that hold failed samples.") var retryFailed = false
    @Flag(help: "No progress line.") var quiet = false

    func run() throws {
        do {
            let config = try PipelineConfig.load(path: pipeline, overrides: overrides)
            let options = try StageCommandSupport.runOptions(workers: workers, worker: worker, retryFailed: retryFailed,
                                                             unitSize: config.unitSize, quiet: quiet)
            let layout = BuildLayout(root: config.buildDir)
            guard FileManager.default.fileExists(atPath: layout.catalog) else {
                throw PipelineError(.usage, "no catalog yet: run ingest first", file: layout.catalog)
            }
            let stage = try CropStage(pipeline: config, input: try Catalog(path: layout.catalog, readOnly: true))
            let (units, samples) = try stage.units()
            let summary = try StageRunner(layout: layout, options: options).run(stage, units: units, estimatedCount: samples)
            print(summary.text)
            print("catalog: \(layout.catalog(worker: options.worker, workers: options.workers))")
        } catch {
            StageCommandSupport.report(error, command: "crop")
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }
}
