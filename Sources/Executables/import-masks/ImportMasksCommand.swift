import ArgumentParser
import BuildConfig
import BuildSupport
import Catalog
import Foundation
import Pipeline

/// `import-masks`: attaches masks made by an external segmenter to samples already in the catalog.
@main
struct ImportMasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-masks",
        abstract: "Attach masks made elsewhere (JSONL records, or Grounded-SAM's mask.json + mask.png) to samples in the catalog.",
        discussion: """
            --jsonl FILE: one JSON object per line, {"sample_id": …} or {"source": …, "key": …}, with "label", "score", \
            "box" [x0, y0, x1, y1] and "mask": a COCO RLE ({"size": [h, w], "counts": …}), polygons ([[x, y, …], …]) \
            or a PNG path (relative to FILE; non-zero pixels are the mask).
            --grounded-sam DIR: per sample DIR/<id>/mask.json + mask.png (or DIR/<id>.json + <id>.png) as Grounded-SAM \
            writes them: a list of {value, label, logit, box}, value 0 the background, the PNG an instance map. <id> is \
            a sample id, or a key of --source (the ids of the tag stage's Grounding-DINO prompt exports are sample ids).
            Every record gets a verdict (unknown_sample, label_not_in_caption, mask_size_mismatch, bad_mask, …) in \
            mask_import_records; nothing else is touched by a bad record. Importing again under the same --name \
            replaces that import. The units of the samples it touches become to-do for tag and every stage after it: \
            run them again (make dataset) to crop and embed the new subjects.
            """ + "\n\n" + StageCommandSupport.buildExitStatusHelp)

    @Option(help: "Pipeline config whose build catalog receives the masks.") var pipeline: String
    @Option(help: "JSONL records to import.") var jsonl: String?
    @Option(help: "A Grounded-SAM output folder to import.") var groundedSam: String?
    @Option(help: "Records name keys of this source (default: sample ids; a JSONL record may name its own source).") var source: String?
    @Option(help: "The import's name (default: the file or folder name); importing again under it replaces it.") var name: String?

    func run() throws {
        do {
            guard (jsonl == nil) != (groundedSam == nil) else { throw ValidationError("give --jsonl FILE or --grounded-sam DIR") }
            let config = try PipelineConfig.load(path: pipeline)
            let layout = BuildLayout(root: config.buildDir)
            guard FileManager.default.fileExists(atPath: layout.catalog) else {
                throw PipelineError(.usage, "no catalog yet: run ingest first", file: layout.catalog)
            }
            let lock = try FileLock(path: layout.lock(forCatalog: layout.catalog), purpose: "import-masks")
            defer { withExtendedLifetime(lock) {} }
            let catalog = try Catalog(path: layout.catalog)
            let importer = try MaskImport(catalog: catalog, finder: config.tag.nounFinder(), source: source, maxPixels: config.crop.maxPixels)
            let (path, format): (String, MaskImport.Format) = jsonl.map { ($0, .jsonl) } ?? (groundedSam!, .groundedSAM)
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            let importName = name ?? URL(fileURLWithPath: absolute).lastPathComponent
            let (records, units) = try importer.read(absolute, format: format)
            let redo = try catalog.recordImport(name: importName, path: absolute, format: format.rawValue, records, units: units)
            print(MaskImport.summary(name: importName, records, redo: redo))
            print("catalog: \(layout.catalog)")
        } catch let error as ValidationError {
            throw error
        } catch {
            StageCommandSupport.report(error, command: "import-masks")
            throw ExitCode(StageCommandSupport.exitCode(for: error))
        }
    }
}
