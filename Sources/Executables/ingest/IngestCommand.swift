import ArgumentParser
import Pipeline
import StageCommand

/// `ingest`: records every manifest entry of a pipeline's dataset in the build catalog.
@main
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read the manifest's sources and record each sample (id, size, caption, masks) in the catalog.",
        discussion: "Units already done for the same config are skipped; a killed run resumes where it stopped." + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @OptionGroup var options: StageOptions

    func run() throws {
        try options.run(command: "ingest") { config, _, runner in
            let stage = try IngestStage(pipeline: config)
            var total: Int?
            if !options.quiet {
                // One cheap pass over the manifest (no image reads) for the progress ETA.
                let counter = try stage.reader.entries()
                var count = 0
                while counter.next() != nil { count += 1 }
                total = count
            }
            return try runner.run(stage, items: try stage.reader.entries(), estimatedCount: total)
        }
    }
}
