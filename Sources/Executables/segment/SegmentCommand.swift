import ArgumentParser
import BuildConfig
import Catalog
import Foundation
import Pipeline
import StageCommand

/// `segment`: CLIPSeg masks for the caption nouns of samples that came without masks.
@main
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Segment each caption noun with CLIPSeg (Kosmos-G's recipe) for samples without masks; crop then reads the masks.",
        discussion: "Runs between tag and crop when the pipeline sets segment.enabled. Units follow ingest's; a killed run resumes."
            + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @OptionGroup var options: StageOptions

    func run() throws {
        // A pipeline without the stage runs it as a no-op, so `make dataset` can always list it.
        if let config = try? PipelineConfig.load(path: options.pipeline, overrides: options.overrides), !config.segment.enabled {
            print("segment: off in this pipeline (segment.enabled: false): crop reads the input's masks alone; nothing to do")
            return
        }
        try options.runOnCatalog(command: "segment") { config, catalog, runner in
            let stage = try SegmentStage(pipeline: config, input: catalog)
            print("model: \(config.segment.model)" + (stage.randomWeights
                ? "\nNOTE: RANDOM WEIGHTS (no real CLIPSeg present; run `make models`): the masks show the mechanics, not real subjects."
                : ""))
            let (units, samples) = try stage.units()
            return try runner.run(stage, units: units, estimatedCount: samples)
        }
    }
}
