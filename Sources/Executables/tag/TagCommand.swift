import ArgumentParser
import Catalog
import Foundation
import Pipeline
import StageCommand

/// `tag`: finds each caption's object nouns and matches the mask labels to them.
@main
struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Find each caption's object nouns (rule-based tagger), match mask labels to them with their CLIP token positions.",
        discussion: """
            Reads what ingest recorded in the build catalog. Samples whose caption has no noun, or has a mask \
            label it does not contain, are skipped with that reason. Writes exports/grounding/unit-NNNNN.jsonl: \
            each sample's nouns as a Grounding-DINO text prompt. Units follow ingest's; a killed run resumes.
            """ + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @OptionGroup var options: StageOptions

    func run() throws {
        try options.runOnCatalog(command: "tag") { config, catalog, runner in
            let stage = try TagStage(pipeline: config, input: catalog)
            let (units, samples) = try stage.units()
            return try runner.run(stage, units: units, estimatedCount: samples)
        }
    }
}
