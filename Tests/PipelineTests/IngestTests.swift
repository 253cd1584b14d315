import BuildConfig
import BuildSupport
import Catalog
import Foundation
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing

@Suite struct IngestTests {
    /// Generates the sample with defects and ingests it in-process.
    func ingestSample(perLayout: Int = 4, unitSize: Int = 10, extra: String = "") throws -> (TemporaryDirectory, Catalog, RunSummary) {
        let dir = TemporaryDirectory("ingest")
        _ = try SampleWriter(seed: 3, output: dir.appending("sample"), perLayout: perLayout, defects: true).write()
        let path = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: extra)
        let config = try PipelineConfig.load(path: path)
        let stage = try IngestStage(pipeline: config)
        let summary = try StageRunner(layout: BuildLayout(root: config.buildDir), options: RunOptions(unitSize: unitSize, quiet: true))
            .run(stage, items: try stage.reader.entries())
        return (dir, try Catalog(path: BuildLayout(root: config.buildDir).catalog), summary)
    }

    @Test func everyLayoutIsReadAndEveryDefectHasItsReason() throws {
        let (_, catalog, summary) = try ingestSample()
        let db = catalog.database
        // 7 layouts x 4 scenes, COCO with 2 captions per image, and the folder's two text defects
        // (no noun, a label the caption lacks) that only the tag stage rejects.
        #expect(summary.itemsOK == 6 * 4 + 2 * 4 + 2)
        var perSource: [String: Int] = [:]
        for row in try db.query("SELECT source, COUNT(*) FROM samples GROUP BY source") { perSource[row[0].string!] = row[1].int! }
        #expect(perSource == ["folder": 6, "wds-img2dataset": 4, "wds-subject-diffusion": 4, "jsonl": 4, "csv": 4, "tsv": 4, "coco": 8])
        func reason(_ source: String, _ key: String) throws -> String? {
            try db.scalar("SELECT status || ':' || reason FROM entries WHERE source = ? AND source_key = ?", [source, key]).string
        }
        #expect(try reason("folder", "bad/truncated") == "failed:truncated_image")
        #expect(try reason("folder", "bad/notimage") == "failed:not_an_image")
        #expect(try reason("folder", "bad/nocaption") == "failed:missing_caption")
        #expect(try reason("folder", "bad/empty") == "failed:missing_caption")
        #expect(try reason("folder", "bad/latin1") == "failed:non_utf8_caption")
        #expect(try reason("folder", "bad/escape") == "failed:path_escape")
        #expect(try reason("folder", "bad/zz-duplicate") == "skipped:duplicate_content")
        #expect(try reason("wds-subject-diffusion", "../escape") == "failed:path_escape")
        #expect(try reason("wds-subject-diffusion", "/abs/evil") == "failed:path_escape")
        #expect(try reason("wds-subject-diffusion", "linked") == "failed:symlink")
        #expect(try reason("jsonl", "escape") == "failed:path_escape")
        #expect(try reason("jsonl", "remote") == "failed:remote_url")
        #expect(try reason("jsonl", "missing") == "failed:missing_file")
        #expect(try reason("tsv", "absolute") == "failed:path_escape")
        #expect(try db.scalar("SELECT COUNT(*) FROM entries WHERE reason = 'duplicate_key'").int == 1)
        #expect(try db.scalar("SELECT COUNT(*) FROM entries WHERE reason = 'bad_record'").int == 2)
    }

    @Test func samplesCarryIdsSizesAndMaskReferences() throws {
        let (dir, catalog, _) = try ingestSample()
        let db = catalog.database
        // The id is the first 16 bytes of SHA-256 over image bytes then caption.
        let row = try #require(try db.query("SELECT id, caption, width, height, image_ref FROM samples WHERE source = 'folder' ORDER BY position LIMIT 1").first)
        let ref = try JSONValue.parse(Array(row[4].string!.utf8))
        let image = try FileIO.read(dir.appending("sample/folder/" + ref["path"]!.string!), maxBytes: 1 << 24)
        var h = SHA256()
        h.update(image)
        h.update(row[1].string!)
        #expect(row[0].string == h.finalize().hexPrefix(16))
        #expect((256...384).contains(row[2].int!) && (256...384).contains(row[3].int!))

        // Subject-Diffusion masks: one row per instance with label, logit and box; COCO masks
        // carry their segmentation; JSONL masks are binary PNGs.
        let sd = try db.query("SELECT kind, value, label, score, box_json FROM sample_masks m JOIN samples s ON s.id = m.sample_id WHERE s.source = 'wds-subject-diffusion'")
        #expect(!sd.isEmpty && sd.allSatisfy { $0[0].string == "instance_map" && ($0[1].int ?? 0) >= 1 && $0[3].double != nil })
        let kinds = Set(try db.query("SELECT DISTINCT kind FROM sample_masks").compactMap { $0[0].string })
        #expect(kinds == ["instance_map", "binary_png", "coco_rle", "coco_polygon"])
        #expect(try db.scalar("SELECT COUNT(*) FROM sample_masks WHERE kind LIKE 'coco%' AND data_json IS NULL").int == 0)
        #expect(try db.scalar("SELECT COUNT(*) FROM samples s WHERE s.source <> 'wds-img2dataset' AND NOT EXISTS (SELECT 1 FROM sample_masks m WHERE m.sample_id = s.id)").int == 0)
    }

    @Test func capsAreConfigurable() throws {
        let (_, catalog, _) = try ingestSample(perLayout: 3, extra: "ingest:\n  max_pixels: 100000\n  max_caption_bytes: 48\n")
        let reasons = Set(try catalog.database.query("SELECT DISTINCT reason FROM entries WHERE status = 'failed'").compactMap { $0[0].string })
        #expect(reasons.isSuperset(of: ["image_too_large", "caption_too_long"]))
        #expect(try catalog.database.scalar("SELECT COUNT(*) FROM samples WHERE width * height > 100000").int == 0)
        #expect(try catalog.database.scalar("SELECT COUNT(*) FROM samples WHERE length(caption) > 48").int == 0)
        #expect(try catalog.database.scalar("SELECT COUNT(*) FROM samples").int! > 0)
        let (_, masks, _) = try ingestSample(perLayout: 2, extra: "ingest:\n  max_masks: 2\n")
        #expect(try masks.database.scalar("SELECT COUNT(*) FROM entries WHERE reason = 'too_many_masks'").int! > 0)
        #expect(try masks.database.scalar("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM sample_masks GROUP BY sample_id)").int! <= 2)
    }
}
