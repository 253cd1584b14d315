import ArgumentParser
import Catalog
import Foundation
import Pipeline
import StageCommand

/// `shard`: λ-ECLIPSE training rows (interleaved text features) in safetensors shards.
@main
struct ShardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard",
        abstract: "Write the interleaved training rows of each unit as one safetensors shard, indexed in the catalog.",
        discussion: "Reads what embed recorded. Writes shards/shard-NNNNN.safetensors (f16 by default); shard_rows maps sample ids to rows and splits." + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @OptionGroup var options: StageOptions

    func run() throws {
        try options.runOnCatalog(command: "shard") { config, catalog, runner in
            let stage = try ShardStage(pipeline: config, input: catalog)
            let (units, samples) = try stage.units()
            return try runner.run(stage, units: units, estimatedCount: samples)
        }
    }
}
