import ArgumentParser
import Catalog
import Foundation
import Pipeline
import StageCommand

/// `embed`: CLIP features of each cropped sample: text, target image, subjects, Canny.
@main
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "CLIP features of each cropped sample: caption hidden states and embedding, whole image, subject crops, Canny image.",
        discussion: "Reads what crop recorded. Writes features/embed/unit-NNNNN.safetensors (f16 by default). Units follow ingest's; a killed run resumes." + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @OptionGroup var options: StageOptions

    func run() throws {
        try options.runOnCatalog(command: "embed") { config, catalog, runner in
            let stage = try EmbedStage(pipeline: config, input: catalog)
            print("model: \(config.embed.model) (sha256 \(stage.modelHash.prefix(16))…)" + (stage.randomWeights
                ? "\nNOTE: RANDOM WEIGHTS (no real CLIP present; run `make models`): the features are for testing the pipeline, not for training."
                : ""))
            let (units, samples) = try stage.units()
            return try runner.run(stage, units: units, estimatedCount: samples)
        }
    }
}
