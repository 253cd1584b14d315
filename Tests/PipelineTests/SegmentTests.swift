import BuildConfig
import BuildSupport
import Catalog
import Foundation
import Imaging
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing
import Text

/// The segment stage on the embedded sample's layouts with a random-weight CLIPSeg: masks for
/// plain image-text pairs that crop and shard take like input masks, the same masks as the model
/// called once per (image, noun), kill-safe, and workers + merge equal to one worker.
@Suite(.serialized) struct SegmentTests {
    static let settings = """
        crop: {min_image_side: 200, min_box_area: 0.02}
        segment: {enabled: true, model: clipseg, batch: 3, max_nouns: 3}
        """

    func prepare(_ name: String, perLayout: Int = 3, unitSize: Int = 6, extra: String = SegmentTests.settings,
                 defects: Bool = false) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory(name)
        _ = try SampleWriter(seed: 23, output: dir.appending("sample"), perLayout: perLayout, defects: defects).write()
        try RandomCLIPSeg.write(to: dir.appending("clipseg"), seed: 1)
        return (dir, try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: extra))
    }

    @discardableResult
    func run(_ stage: String, _ pipeline: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> ExecutableRunner.Result {
        let result = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"] + extra)
        #expect(result.status == 0, "\(stage): \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }

    @Test func plainPairsGetMasksThatCropAndShardTake() throws {
        let (dir, pipeline) = try prepare("segment")
        try run("ingest", pipeline)
        let early = try ExecutableRunner.run("segment", ["--pipeline", pipeline, "--quiet"])
        #expect(early.status == StageCommandSupport.configExitCode && early.stderr.contains("run tag first"), "\(early.stderr)")
        try run("tag", pipeline)
        let beforeSegment = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"])
        #expect(beforeSegment.status == StageCommandSupport.configExitCode && beforeSegment.stderr.contains("run segment first"))
        let segmented = try run("segment", pipeline)
        #expect(segmented.stdout.contains("segment summary"))
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let db = catalog.database
        // Plain pairs (img2dataset) are segmented; samples with masks of their own are left to them.
        for row in try db.query("""
            SELECT e.source, s.status, s.reason FROM sample_status s JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE s.stage = 'segment'
            """) {
            if row["source"].string == "wds-img2dataset" {
                #expect(row["status"].string == "ok" || row["reason"].string == Reason.noMaskAboveThreshold.rawValue)
            } else {
                #expect(row["reason"].string == Reason.hasMasks.rawValue)
            }
        }
        // Each mask is the noun it was made for: label = the noun's lemma, linked to that noun.
        let masks = try db.query("""
            SELECT a.sample_id, a.k, a.kind, a.label, a.box_json, a.data_json, n.lemma, l.noun_idx FROM added_masks a
            JOIN nouns n ON n.sample_id = a.sample_id AND n.idx = a.k - \(AddedMask.segmentBase)
            JOIN noun_labels l ON l.sample_id = a.sample_id AND l.k = a.k
            """)
        #expect(masks.count == (try db.scalar("SELECT COUNT(*) FROM added_masks").int) && masks.count >= 4)
        for m in masks {
            #expect(m["kind"].string == "clipseg" && m["label"].string == m["lemma"].string)
            #expect(m["noun_idx"].int == (m["k"].int ?? 0) - AddedMask.segmentBase)
        }
        try expectSameMasksAsOnePairAtATime(dir, catalog)
        // Crop takes them like input masks, and shard finds their token positions.
        try run("crop", pipeline)
        #expect(try db.scalar("SELECT COUNT(*) FROM subjects WHERE k >= \(AddedMask.segmentBase)").int == masks.count)
        #expect(try db.scalar("""
            SELECT COUNT(*) FROM subjects s JOIN noun_labels l ON l.sample_id = s.sample_id AND l.k = s.k
            WHERE s.k >= \(AddedMask.segmentBase) AND s.noun_idx IS l.noun_idx AND l.token_positions_json <> '[]'
            """).int == masks.count)
        // Done units are not redone.
        #expect(try run("segment", pipeline).stdout.contains("0 processed"))
        // A sample's lineage shows its segment masks.
        let inspected = try ExecutableRunner.run("catalog", ["inspect", masks[0]["sample_id"].string!, "--pipeline", pipeline])
        #expect(inspected.status == 0 && inspected.stdout.contains("added masks") && inspected.stdout.contains("kind=clipseg"), "\(inspected.stdout)")
    }

    /// Every recorded mask equals the transformers-style call for its one (image, prompt) pair
    /// followed by the Kosmos-G post-processing: batching images and sharing prompts changes nothing.
    func expectSameMasksAsOnePairAtATime(_ dir: TemporaryDirectory, _ catalog: Catalog) throws {
        guard case .clipseg(let model) = try LoadedModel.load(directory: dir.appending("clipseg")) else {
            Issue.record("not a CLIPSeg")
            return
        }
        let files = try SourceFiles(catalog: catalog)
        let tokenizer = try CLIPTokenizer()
        var checked = 0
        for row in try catalog.database.query("""
            SELECT e.source, e.image_ref, n.text, a.score, a.box_json, a.data_json FROM added_masks a
            JOIN entries e ON e.sample_id = a.sample_id AND e.status = 'ok'
            JOIN nouns n ON n.sample_id = a.sample_id AND n.idx = a.k - \(AddedMask.segmentBase) ORDER BY a.sample_id, a.k LIMIT 4
            """) {
            let image = try ImageCodec.decodeRGB(try files.read(row["image_ref"].string!, source: row["source"].string!, maxBytes: 1 << 26))
            let tokens = tokenizer.tokenize(row["text"].string!)
            let logits = try model.logits(pixelValues: PreprocessRecipe.clipseg.pixelValues(image), size: 352,
                                          ids: [tokens.ids], attentionMask: [tokens.attentionMask])
            let side = model.logitSide(imageSize: 352)
            let (mask, score) = SegmentMask.mask(logits: logits, width: side, height: side, imageWidth: image.width, imageHeight: image.height)
            #expect(COCOMask.rleJSON(mask) == row["data_json"].string)
            #expect(abs(score - (row["score"].double ?? -1)) <= 1e-6)
            #expect(mask.box.map { "[" + $0.array.map(String.init).joined(separator: ",") + "]" } == row["box_json"].string)
            checked += 1
        }
        #expect(checked == 4)
    }

    @Test func killedAtRandomInstantsResumesToTheSameCatalog() throws {
        let (dir, pipeline) = try prepare("segment-kills", extra: """
            crop: {min_image_side: 200, min_box_area: 0.02}
            segment: {enabled: true, model: clipseg, batch: 2, with_input_masks: true}
            """)
        try run("ingest", pipeline)
        try run("tag", pipeline)
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        try run("segment", reference)
        var rng = SystemRandomNumberGenerator()
        let logs = TemporaryDirectory("segment-kills-logs")
        let runs = Torture.kills(default: 6)
        var killed = 0
        for _ in 0..<runs {
            let process = try ExecutableRunner.start("segment", ["--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_BATCH_DELAY_MS": "30"], logDirectory: logs.path)
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...1.0, using: &rng))
            if process.signal(SIGKILL) { killed += 1 }
            process.waitUntilExit()
        }
        Torture.record(stage: "segment", kills: killed, runs: runs)
        try run("segment", pipeline)
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("build/scratch/segment")))
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("build")).isEmpty)
    }

    /// Workers + merge equal one worker, also when a second config redoes every unit with fewer
    /// masks (the merge drops a redone sample's old rows as the stage itself does).
    @Test func workersThenMergeEqualOneWorker() throws {
        let (dir, pipeline) = try prepare("segment-workers", perLayout: 3, unitSize: 5)
        let one = dir.appending("one.yaml")
        try String(contentsOfFile: pipeline, encoding: .utf8)
            .replacingOccurrences(of: "build_dir: build", with: "build_dir: one-build")
            .write(toFile: one, atomically: true, encoding: .utf8)
        func both(_ stage: String, _ extra: [String] = []) throws {
            try run(stage, one, extra)
            let logs = TemporaryDirectory("segment-workers-logs")
            let workers = try (0..<2).map {
                try ExecutableRunner.start(stage, ["--pipeline", pipeline, "--quiet", "--workers", "2", "--worker", "\($0)"] + extra,
                                           logDirectory: logs.path)
            }
            for w in workers { w.waitUntilExit(); #expect(w.terminationStatus == 0) }
            #expect(try ExecutableRunner.run("merge", ["--pipeline", pipeline]).status == 0)
            try FileManager.default.removeItem(atPath: dir.appending("build/workers"))
        }
        for stage in ["ingest", "tag", "segment", "crop"] { try both(stage) }
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("one-build/catalog.sqlite"))))
        let before = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database.scalar("SELECT COUNT(*) FROM added_masks").int ?? 0
        // Every segment mask's score is near 0.5-0.65 with these weights: a threshold of 0.6 keeps fewer.
        try both("segment", ["--set", "segment.threshold=0.6", "--set", "segment.max_nouns=1"])
        let after = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database.scalar("SELECT COUNT(*) FROM added_masks").int ?? 0
        #expect(after < before)
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("one-build/catalog.sqlite"))))
    }

    @Test func anUnreadableImageFailsItsSampleWithAReason() throws {
        let (dir, pipeline) = try prepare("segment-bad", extra: """
            crop: {min_image_side: 200, min_box_area: 0.02}
            segment: {enabled: true, model: clipseg, with_input_masks: true}
            """)
        try run("ingest", pipeline)
        try run("tag", pipeline)
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        let victim = try #require(try db.query("""
            SELECT e.sample_id, e.image_ref FROM entries e JOIN sample_status t ON t.sample_id = e.sample_id AND t.stage = 'tag' AND t.status = 'ok'
            WHERE e.source = 'folder' AND e.status = 'ok' ORDER BY e.position LIMIT 1
            """).first)
        let ref = try JSONValue.parse(Array(victim["image_ref"].string!.utf8))
        try Data("not an image at all".utf8).write(to: URL(fileURLWithPath: dir.appending("sample/folder/" + ref["path"]!.string!)))
        try run("segment", pipeline)
        let verdict = try #require(try db.query("SELECT status, reason, message FROM sample_status WHERE stage = 'segment' AND sample_id = ?",
                                                [victim["sample_id"].string!]).first)
        #expect(verdict["status"].string == "failed" && verdict["reason"].string == Reason.notAnImage.rawValue, "\(verdict)")
        #expect(try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'segment' AND status = 'ok'").int ?? 0 > 0)
    }

    /// With the stage off, crop's key is what it was before the stage existed and crop reads no
    /// segment mask, even where an earlier run left some.
    @Test func turningTheStageOffRestoresCropsKeyAndIgnoresItsMasks() throws {
        let (dir, pipeline) = try prepare("segment-off")
        let plain = try PipelineConfig.load(path: pipeline, overrides: ["segment.enabled=false"])
        var without = plain
        without.segment = SegmentConfig()
        #expect(try StageKeys(pipeline: plain).crop() == (try StageKeys(pipeline: without).crop()))
        let on = try PipelineConfig.load(path: pipeline)
        #expect(try StageKeys(pipeline: on).crop() != (try StageKeys(pipeline: plain).crop()))
        for stage in ["ingest", "tag", "segment", "crop"] { try run(stage, pipeline) }
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        #expect(try db.scalar("SELECT COUNT(*) FROM subjects WHERE k >= \(AddedMask.segmentBase)").int ?? 0 > 0)
        try run("crop", pipeline, ["--set", "segment.enabled=false"])
        #expect(try db.scalar("SELECT COUNT(*) FROM subjects WHERE k >= \(AddedMask.segmentBase)").int == 0)
        let skipped = try ExecutableRunner.run("segment", ["--pipeline", pipeline, "--set", "segment.enabled=false"])
        #expect(skipped.status == 0 && skipped.stdout.contains("off in this pipeline"))
    }
}
