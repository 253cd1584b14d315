import ArgumentParser
import Foundation
import Pipeline

/// `ingest`: records every manifest entry of a pipeline's dataset in the build catalog.
@main
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read the manifest's sources and record each sample (id, size, caption, masks) in the catalog.",
        discussion: "Units already done for the same config are skipped; a killed run resumes where it stopped.")

    @Option(help: "Pipeline config (YAML).") var pipeline: String
    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set ingest.verify=decode (repeatable).")
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
            let stage = try IngestStage(pipeline: config)
            try stage.reader.validate()
            var total: Int?
            if !quiet {
                // One cheap pass over the manifest (no image reads) for the progress ETA.
                let counter = try stage.reader.entries()
                var count = 0
                while counter.next() != nil { count += 1 }
                total = count
            }
            let layout = BuildLayout(root: config.buildDir)
            let summary = try StageRunner(layout: layout, options: options)
                .run(stage, items: try stage.reader.entries(), estimatedCount: total)
            print(summary.text)
            print("catalog: \(layout.catalog(worker: options.worker, workers: options.workers))")
        } catch {
            StageCommandSupport.report(error, command: "ingest")
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }
}
