import ArgumentParser
import BuildConfig
import Foundation
import Pipeline

/// `merge`: folds worker catalogs into the build catalog.
@main
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold the worker catalogs of a build (workers/catalog-K-of-N.sqlite) into its catalog.sqlite.",
        discussion: StageCommandSupport.buildExitStatusHelp)

    @Option(help: "Pipeline config whose build to merge.") var pipeline: String?
    @Option(help: "Build directory to merge (instead of --pipeline).") var build: String?
    @Argument(help: "Worker catalogs to merge (default: every one under <build>/workers).") var catalogs: [String] = []

    func validate() throws {
        guard (pipeline == nil) != (build == nil) else { throw ValidationError("give exactly one of --pipeline or --build") }
    }

    func run() throws {
        do {
            let root = try build ?? PipelineConfig.load(path: pipeline!).buildDir
            let layout = BuildLayout(root: root)
            let files = catalogs.isEmpty ? BuildMerger.workerCatalogs(in: layout) : catalogs
            for line in try BuildMerger.merge(files, into: layout) { print(line) }
            print("catalog: \(layout.catalog)")
        } catch {
            StageCommandSupport.report(error, command: "merge")
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }
}
