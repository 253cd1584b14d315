import ArgumentParser
import Catalog
import Foundation
import Pipeline
import StageCommand

/// `crop`: cuts each subject out by its mask and records the subjects in the catalog.
@main
struct CropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop",
        abstract: "Cut each subject out by its mask (on white, cropped to its box, padded square), apply the paper's filters.",
        discussion: "Reads what ingest recorded in the build catalog. Units follow ingest's; a killed run resumes." + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @OptionGroup var options: StageOptions

    func run() throws {
        try options.runOnCatalog(command: "crop") { config, catalog, runner in
            let stage = try CropStage(pipeline: config, input: catalog)
            let (units, samples) = try stage.units()
            return try runner.run(stage, units: units, estimatedCount: samples)
        }
    }
}
