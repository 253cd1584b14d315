import BuildSupport
import Catalog
import Foundation
import Imaging
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing

/// `import-masks`: masks made elsewhere attached to samples in the catalog, one verdict per
/// record, and the round trip from the tag stage's Grounding-DINO exports through Grounded-SAM's
/// output layout to crops.
@Suite(.serialized) struct ImportMasksTests {
    func prepare(_ name: String) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory(name)
        _ = try SampleWriter(seed: 29, output: dir.appending("sample"), perLayout: 3, defects: false).write()
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 4,
                                                extra: "crop: {min_image_side: 200, min_box_area: 0.02}")
        for stage in ["ingest", "tag", "crop"] { try run(stage, pipeline) }
        return (dir, pipeline)
    }

    @discardableResult
    func run(_ stage: String, _ pipeline: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> ExecutableRunner.Result {
        let result = try ExecutableRunner.run(stage, ["--pipeline", pipeline] + extra + (stage == "import-masks" ? [] : ["--quiet"]))
        #expect(result.status == 0, "\(stage): \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// The plain pairs (img2dataset) with their size, first noun, key and unit.
    func plainPairs(_ db: Database) throws -> [Row] {
        try db.query("""
            SELECT e.sample_id, e.source_key, e.width, e.height, e.unit, n.text, n.lemma FROM entries e
            JOIN nouns n ON n.sample_id = e.sample_id AND n.idx = 0
            WHERE e.source = 'wds-img2dataset' AND e.status = 'ok' ORDER BY e.position
            """)
    }

    /// A rectangle mask over the middle of a `w` x `h` image.
    func rectangle(_ w: Int, _ h: Int) -> Mask {
        var bits = [UInt8](repeating: 0, count: w * h)
        for y in (h / 4)..<(3 * h / 4) { for x in (w / 4)..<(3 * w / 4) { bits[y * w + x] = 1 } }
        return Mask(width: w, height: h, bits: bits)
    }

    @Test func jsonlRecordsGetOneVerdictEachAndReachCrop() throws {
        let (dir, pipeline) = try prepare("import-jsonl")
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        let pairs = try plainPairs(db)
        try #require(pairs.count >= 3)
        func size(_ r: Row) -> (Int, Int) { (r["width"].int!, r["height"].int!) }
        let (w0, h0) = size(pairs[0]), (w1, h1) = size(pairs[1]), (w2, h2) = size(pairs[2])
        let m2 = rectangle(w2, h2)
        try dir.write(try ImageCodec.encodePNG(Raster(width: w2, height: h2, channels: 1, pixels: m2.bits.map { $0 * 255 })), to: "imports/mask2.png")
        let lines = [
            // 0: an RLE by sample id, its label a caption noun.
            #"{"sample_id": "\#(pairs[0]["sample_id"].string!)", "label": "\#(pairs[0]["lemma"].string!)", "score": 0.9, "mask": \#(COCOMask.rleJSON(rectangle(w0, h0)))}"#,
            // 1: a polygon by source and key.
            #"{"source": "wds-img2dataset", "key": "\#(pairs[1]["source_key"].string!)", "label": "\#(pairs[1]["text"].string!)", "mask": [[\#(w1 / 4), \#(h1 / 4), \#(3 * w1 / 4), \#(h1 / 4), \#(3 * w1 / 4), \#(3 * h1 / 4), \#(w1 / 4), \#(3 * h1 / 4)]]}"#,
            // 2: a PNG beside the file.
            #"{"sample_id": "\#(pairs[2]["sample_id"].string!)", "label": "\#(pairs[2]["lemma"].string!)", "box": [0, 0, \#(w2), \#(h2)], "mask": "mask2.png"}"#,
            // 3-8: an unknown id, a label the caption lacks, a mask of another size, bad JSON, a missing PNG, no mask.
            #"{"sample_id": "0000", "label": "dog", "mask": "mask2.png"}"#,
            #"{"sample_id": "\#(pairs[0]["sample_id"].string!)", "label": "submarine", "mask": "mask2.png"}"#,
            #"{"sample_id": "\#(pairs[0]["sample_id"].string!)", "label": "\#(pairs[0]["lemma"].string!)", "mask": \#(COCOMask.rleJSON(rectangle(w0 + 1, h0)))}"#,
            #"{"sample_id": "#,
            #"{"sample_id": "\#(pairs[1]["sample_id"].string!)", "label": "\#(pairs[1]["text"].string!)", "mask": "missing.png"}"#,
            #"{"sample_id": "\#(pairs[1]["sample_id"].string!)", "label": "x"}"#,
            // 9: a good mask without a label is refused here, not carried on to be dropped at shard.
            #"{"sample_id": "\#(pairs[2]["sample_id"].string!)", "mask": "mask2.png"}"#,
        ]
        try dir.write(lines.joined(separator: "\n") + "\n", to: "imports/masks.jsonl")
        let imported = try run("import-masks", pipeline, ["--jsonl", dir.appending("imports/masks.jsonl")])
        #expect(imported.stdout.contains("10 records, 3 masks attached"), "\(imported.stdout)")
        let verdicts = try db.query("SELECT record, status, reason FROM mask_import_records ORDER BY record").map {
            "\($0["status"].string!):\($0["reason"].string ?? "")"
        }
        #expect(verdicts == ["ok:", "ok:", "ok:", "skipped:unknown_sample", "skipped:label_not_in_caption", "skipped:mask_size_mismatch",
                             "failed:bad_json", "failed:missing_mask", "failed:bad_record", "failed:bad_record"])
        let unlabelled = try db.query("SELECT message FROM mask_import_records ORDER BY record").last?["message"].string
        #expect(unlabelled == "record has no label", "\(unlabelled ?? "")")
        let kinds = try db.query("SELECT kind FROM added_masks ORDER BY sample_id, k").compactMap { $0["kind"].string }
        #expect(Set(kinds) == ["jsonl_rle", "jsonl_polygon", "jsonl_png"])
        // The polygon and the RLE rasterise to the same rectangle COCO-style (polygon edges inclusive).
        #expect(try db.scalar("SELECT score FROM added_masks WHERE kind = 'jsonl_rle'").double == 0.9)
        #expect(try db.scalar("SELECT box_json FROM added_masks WHERE kind = 'jsonl_png'").string == "[0,0,\(w2),\(h2)]")
        // The touched units are to-do again from tag on; the rest stay done.
        let touched = Set(pairs.prefix(3).compactMap { $0["unit"].int })
        let early = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"])
        #expect(early.status == StageCommandSupport.configExitCode && early.stderr.contains("run tag first"), "\(early.stderr)")
        #expect(try run("tag", pipeline).stdout.contains("\(touched.count) processed"))
        try run("crop", pipeline)
        let subjects = try db.query("SELECT s.status, s.noun_idx, l.noun_idx AS linked FROM subjects s JOIN noun_labels l ON l.sample_id = s.sample_id AND l.k = s.k WHERE s.k >= \(AddedMask.importBase)")
        #expect(subjects.count == 3 && subjects.allSatisfy { $0["noun_idx"].int != nil && $0["noun_idx"].int == $0["linked"].int })
        // Importing the same file again under the same name changes nothing.
        let before = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).canonicalDump()
        try run("import-masks", pipeline, ["--jsonl", dir.appending("imports/masks.jsonl")])
        for stage in ["tag", "crop"] { try run(stage, pipeline) }
        #expect(try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).canonicalDump() == before)
    }

    /// Tag's Grounding-DINO prompts → Grounded-SAM's `mask.json` + `mask.png` per sample id → import → crops.
    @Test func groundedSAMOutputForTheExportedPromptsRoundTrips() throws {
        let (dir, pipeline) = try prepare("import-grounded-sam")
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        let exports = try FileManager.default.contentsOfDirectory(atPath: dir.appending("build/exports/grounding")).sorted()
        var written = 0
        for file in exports {
            for line in try String(contentsOfFile: dir.appending("build/exports/grounding/" + file), encoding: .utf8).split(separator: "\n") {
                let prompt = try JSONValue.parse(Array(line.utf8))
                let id = prompt["sample_id"]!.string!
                guard try db.scalar("SELECT source FROM entries WHERE sample_id = ? AND status = 'ok'", [id]).string == "wds-img2dataset" else { continue }
                let nouns = prompt["nouns"]!.array!.compactMap(\.string)
                let (w, h) = (try db.scalar("SELECT width FROM entries WHERE sample_id = ?", [id]).int!, try db.scalar("SELECT height FROM entries WHERE sample_id = ?", [id]).int!)
                // Two boxes as a detector would return them, each filled by its "SAM" mask.
                var map = [UInt8](repeating: 0, count: w * h)
                var list: [JSONValue] = [.object([("value", .number(0)), ("label", .string("background"))])]
                for (i, noun) in nouns.prefix(2).enumerated() {
                    let x0 = i == 0 ? w / 10 : w / 2, x1 = i == 0 ? w / 2 - 2 : 9 * w / 10
                    for y in (h / 5)..<(4 * h / 5) { for x in x0..<x1 { map[y * w + x] = UInt8(i + 1) } }
                    list.append(.object([("value", .number(Double(i + 1))), ("label", .string("\(noun)(0.4\(i + 5))")),
                                         ("logit", .number(0.45 + Double(i) / 100)),
                                         ("box", .array([x0, h / 5, x1, 4 * h / 5].map { .number(Double($0)) }))]))
                }
                try dir.write(JSONValue.array(list).canonical, to: "gsam/\(id)/mask.json")
                try dir.write(try ImageCodec.encodePNG(Raster(width: w, height: h, channels: 1, pixels: map)), to: "gsam/\(id)/mask.png")
                written += 1
            }
        }
        try #require(written >= 3)
        let imported = try run("import-masks", pipeline, ["--grounded-sam", dir.appending("gsam")])
        let masks = try db.query("SELECT kind, label, score FROM added_masks")
        #expect(masks.count >= 2 * written - 1 && masks.allSatisfy { $0["kind"].string == "grounded_sam" }, "\(imported.stdout)")
        #expect(masks.allSatisfy { [0.45, 0.46].contains($0["score"].double ?? 0) && !($0["label"].string ?? "(").contains("(") })
        #expect(try db.scalar("SELECT COUNT(*) FROM mask_import_records WHERE status <> 'ok'").int == 0)
        for stage in ["tag", "crop"] { try run(stage, pipeline) }
        #expect(try db.scalar("""
            SELECT COUNT(*) FROM subjects s JOIN entries e ON e.sample_id = s.sample_id
            WHERE e.source = 'wds-img2dataset' AND s.status = 'ok' AND s.k >= \(AddedMask.importBase)
            """).int ?? 0 >= written)
    }
}
