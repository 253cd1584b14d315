import ArgumentParser
import Catalog
import Foundation
import Pipeline

/// `catalog`: looks inside a build catalog.
@main
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Inspect a build catalog: summary, problems, verify, inspect ID, order, or a canonical dump.",
        discussion: """
            problems: what did not come through at every stage (ingest, tag, crop, embed, shard) and for subjects, \
            grouped by stage and reason with counts and --examples example ids.
            verify: recheck every recorded file (unit outputs, shards) against its size and SHA-256; exit 1 on a mismatch.
            inspect ID: one sample's whole lineage (source, caption, nouns, token positions, crops, features, shard row).
            order: a seeded shuffled epoch order of a split (shard path, row, sample id per line), as the Python reader computes it.
            """ + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    enum View: String, ExpressibleByArgument, CaseIterable { case summary, problems, dump, verify, inspect, order }

    @Argument(help: "What to show: summary, problems, dump, verify, inspect or order.") var view: View = .summary
    @Argument(help: "The sample id for 'inspect'.") var sampleID: String?
    @Option(help: "Split for 'order'.") var split = "train"
    @Option(help: "Seed for 'order'.") var seed = 0
    @Option(help: "Epoch for 'order'.") var epoch = 0
    @Option(help: "Catalog file (default: <build>/catalog.sqlite of --pipeline).") var catalog: String?
    @Option(help: "Pipeline config whose catalog to open.") var pipeline: String?
    @Option(help: "Example ids per stage and reason for 'problems'.") var examples = 3

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
            case .problems: print(try CatalogReport.problems(opened, examples: examples))
            case .dump: print(try opened.canonicalDump(), terminator: "")
            case .verify:
                let root = (path as NSString).deletingLastPathComponent
                let (checked, mismatches) = try CatalogInspection.verify(opened, root: root)
                for m in mismatches { print("MISMATCH \(m)") }
                print("verified \(checked) files: \(mismatches.isEmpty ? "all match the catalog" : "\(mismatches.count) mismatch(es)")")
                if !mismatches.isEmpty { throw ExitCode(1) }
            case .inspect:
                guard let sampleID else { throw ValidationError("inspect needs a sample id") }
                print(try CatalogInspection.lineage(opened, sampleID: sampleID), terminator: "")
            case .order:
                for row in try CatalogInspection.epochOrder(opened, split: split, seed: seed, epoch: epoch) {
                    print("\(row.path)\t\(row.row)\t\(row.sampleID)")
                }
            }
        } catch let error as ValidationError {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            StageCommandSupport.report(error, command: "catalog")
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }
}
