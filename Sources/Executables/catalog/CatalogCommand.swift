import ArgumentParser
import BuildConfig
import BuildSupport
import Catalog
import Foundation
import Pipeline

/// `catalog`: looks inside a build catalog.
@main
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Inspect a build catalog: summary, problems, report, verify, inspect ID, order, or a canonical dump.",
        discussion: """
            problems: what did not come through at every stage (ingest, tag, crop, embed, shard) and for subjects, \
            grouped by stage and reason with counts and --examples example ids.
            report: write a self-contained HTML page of the build (funnel per stage, rates and times, a gallery of \
            samples with mask outlines, marked nouns, crops and every stage's verdict, filterable by reason) to --output \
            (default <build>/reports/build.html).
            verify: recheck every recorded file (unit outputs, shards) against its size and SHA-256; exit 1 on a mismatch.
            inspect ID: one sample's whole lineage (source, caption, nouns, token positions, crops, features, shard row).
            order: a seeded shuffled epoch order of a split (shard path, row, sample id per line), as the Python reader computes it.
            """ + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    enum View: String, ExpressibleByArgument, CaseIterable { case summary, problems, report, dump, verify, inspect, order }

    @Argument(help: "What to show: summary, problems, report, dump, verify, inspect or order.") var view: View = .summary
    @Argument(help: "The sample id for 'inspect'.") var sampleID: String?
    @Option(help: "Split for 'order'.") var split = "train"
    @Option(help: "Seed for 'order'.") var seed = 0
    @Option(help: "Epoch for 'order'.") var epoch = 0
    @Option(help: "Catalog file (default: <build>/catalog.sqlite of --pipeline).") var catalog: String?
    @Option(help: "Pipeline config whose catalog to open.") var pipeline: String?
    @Option(help: "Example ids per stage and reason for 'problems'.") var examples = 3
    @Option(help: "The HTML file 'report' writes (default <build>/reports/build.html).") var output: String?
    @Option(help: "Gallery samples per stage and reason for 'report'.") var perReason = 12
    @Option(help: "Gallery samples that every stage kept, for 'report'.") var complete = 48

    func run() throws {
        do {
            let path: String
            var config: PipelineConfig?
            if let catalog { path = catalog } else if let pipeline {
                config = try PipelineConfig.load(path: pipeline)
                path = BuildLayout(root: config!.buildDir).catalog
            } else {
                throw ValidationError("give --catalog or --pipeline")
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw PipelineError(.usage, "no catalog yet; run a stage first", file: path)
            }
            let opened = try Catalog(path: path, readOnly: true)
            switch view {
            case .summary: print(try opened.summary())
            case .problems: print(try CatalogReport.problems(opened, examples: examples))
            case .report: try writeReport(opened, catalogPath: path, config: config)
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
                for row in try opened.epochOrder(split: split, seed: seed, epoch: epoch) {
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

    func writeReport(_ catalog: Catalog, catalogPath: String, config: PipelineConfig?) throws {
        let root = (catalogPath as NSString).deletingLastPathComponent
        var options = BuildReport.Options()
        options.perReason = perReason
        options.complete = complete
        if let config { options.maxPixels = config.crop.maxPixels }
        let name = config?.name ?? ((root as NSString).standardizingPath as NSString).lastPathComponent
        let html = try BuildReport(catalog: catalog, buildRoot: root, options: options).html(title: "Build report: \(name)")
        let target = output ?? root + "/reports/build.html"
        try AtomicFile.write(html, to: target)
        print("report: \(target) (\(html.utf8.count / 1024) KiB)")
    }
}
