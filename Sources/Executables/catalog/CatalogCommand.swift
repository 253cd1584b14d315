import ArgumentParser
import Catalog
import Foundation
import Pipeline

/// `catalog`: looks inside a build catalog.
@main
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Inspect a build catalog: summary, problems, or a canonical dump for comparing builds.")

    enum View: String, ExpressibleByArgument, CaseIterable { case summary, problems, dump }

    @Argument(help: "What to show: summary, problems or dump.") var view: View = .summary
    @Option(help: "Catalog file (default: <build>/catalog.sqlite of --pipeline).") var catalog: String?
    @Option(help: "Pipeline config whose catalog to open.") var pipeline: String?
    @Option(help: "Rows to list for 'problems'.") var limit = 50

    func run() throws {
        do {
            let path: String
            if let catalog { path = catalog } else if let pipeline {
                path = BuildLayout(root: try PipelineConfig.load(path: pipeline).buildDir).catalog
            } else {
                throw ValidationError("give --catalog or --pipeline")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw PipelineError(.usage, "no catalog yet; run a stage first", file: path)
            }
            let opened = try Catalog(path: path, readOnly: true)
            switch view {
            case .summary: print(try CatalogReport.summary(opened))
            case .problems: print(try CatalogReport.problems(opened, limit: limit))
            case .dump: print(try opened.canonicalDump(), terminator: "")
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            StageCommandSupport.report(error, command: "catalog")
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }
}
