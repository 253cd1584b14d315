import Catalog
import Foundation
import Imaging
import PipelineTestSupport
import Testing
@testable import Pipeline

/// The stages' per-item work run in process on items built in memory: the records and files a
/// stage returns, checked without spawning executables or building a catalog first.
@Suite struct InProcessStageTests {
    /// A pipeline file for a build in `dir` (the stages read their settings from it).
    func pipeline(_ dir: TemporaryDirectory) throws -> PipelineConfig {
        try dir.write("name: inproc\nsources:\n  - {name: s, format: folder, path: .}\n", to: "manifest.yaml")
        return try PipelineConfig.load(path: try dir.write("name: inproc\nbuild_dir: build\nmanifest: manifest.yaml\n", to: "pipeline.yaml"))
    }

    @Test func tagRecordsNounsLabelsAndSkips() throws {
        let dir = TemporaryDirectory("inproc-tag")
        let stage = try TagStage(pipeline: try pipeline(dir), input: try Catalog(path: ":memory:"))
        let items = [
            TagItem(sampleID: "a", source: "s", imageRef: "{}", caption: "a red mug next to a green ball", labels: [(0, "mug"), (1, "ball")]),
            TagItem(sampleID: "b", source: "s", imageRef: "{}", caption: "a red mug on a table", labels: [(0, "zebra")]),
            TagItem(sampleID: "c", source: "s", imageRef: "{}", caption: "very nice", labels: []),
        ]
        let output = try stage.process(unit: 0, firstPosition: 0, items: items)
        let catalog = try Catalog(path: ":memory:")
        let outcomes = try catalog.write { db in try output.record(catalog, db) }
        #expect(outcomes == [.ok, .skipped("label_not_in_caption", "mask 0 label 'zebra' matches no noun of the caption"),
                             .skipped("no_nouns", "the caption has no object noun")])
        let nouns = try catalog.database.query("SELECT lemma, char_start, char_end, token_positions_json FROM nouns WHERE sample_id = 'a' ORDER BY idx")
        #expect(nouns.map { $0[0].string } == ["mug", "ball"])
        #expect(nouns.map { [$0[1].int!, $0[2].int!] } == [[6, 9], [26, 30]])
        // "a red mug next to a green ball": <start> a red mug … ; mug is token 3, ball token 8.
        #expect(nouns.map { $0[3].string } == ["[3]", "[8]"])
        let labels = try catalog.database.query("SELECT k, noun_idx, token_positions_json, positions_rule FROM noun_labels WHERE sample_id = 'a' ORDER BY k")
        #expect(labels.map { $0[1].int } == [0, 1])
        #expect(labels.map { $0[2].string } == ["[3]", "[8]"])
        #expect(labels.allSatisfy { $0[3].string == "label_ids" })
    }

    @Test func cropJudgesMasksAndWritesCrops() throws {
        let dir = TemporaryDirectory("inproc-crop")
        // A 320x240 grey image with a red 100x80 rectangle, its mask, and a sliver mask too small.
        var image = Raster(width: 320, height: 240, channels: 3, fill: 90)
        var mask = Raster(width: 320, height: 240, channels: 1, fill: 0)
        var sliver = Raster(width: 320, height: 240, channels: 1, fill: 0)
        for y in 60..<140 {
            for x in 100..<200 {
                image.pixels[(y * 320 + x) * 3] = 220
                image.pixels[(y * 320 + x) * 3 + 1] = 30
                mask.pixels[y * 320 + x] = 255
            }
        }
        for y in 0..<4 { for x in 0..<4 { sliver.pixels[y * 320 + x] = 255 } }
        try Data(try ImageCodec.encodePNG(image)).write(to: URL(fileURLWithPath: dir.appending("image.png")))
        try Data(try ImageCodec.encodePNG(mask)).write(to: URL(fileURLWithPath: dir.appending("mask.png")))
        try Data(try ImageCodec.encodePNG(sliver)).write(to: URL(fileURLWithPath: dir.appending("sliver.png")))
        var config = CropConfig()
        (config.minImageSide, config.minBoxArea) = (200, 0.02)
        let stage = try CropStage(config: config, sourceRoots: ["src": dir.path], buildDir: dir.appending("build"))
        func ref(_ name: String) -> String { #"{"path":"\#(name)"}"# }
        let kept = stage.crop(CropItem(sampleID: "kept", source: "src", imageRef: ref("image.png"), masks: [
            MaskRecord(k: 0, kind: "binary_png", ref: ref("mask.png"), label: "box"),
            MaskRecord(k: 1, kind: "binary_png", ref: ref("sliver.png"), label: "crumb"),
        ], nounIndex: [0: 2]))
        #expect(kept.record.outcome == .ok)
        #expect(kept.record.subjects.map(\.status) == ["ok", "skipped"])
        #expect(kept.record.subjects.map(\.reason) == [nil, "box_too_small"])
        let box = try #require(kept.record.subjects.first)
        #expect(box.box == [100, 60, 200, 140] && box.area == 8000 && box.fill == 1 && box.nounIndex == 2)
        #expect(abs(box.boxAreaRatio - 8000.0 / 76800.0) < 1e-12)
        // The kept subject's crop: content-addressed, square (padded on white), red inside.
        let (path, png) = try #require(kept.files.first)
        #expect(kept.files.count == 1 && box.object == path && path == CropStage.objectPath("crops", png))
        let crop = try ImageCodec.decodeRGB(png)
        #expect(crop.width == crop.height && crop.width == 100)
        #expect(Array(crop.pixels[(50 * 100 + 50) * 3..<(50 * 100 + 50) * 3 + 3]) == [220, 30, 90])
        #expect(Array(crop.pixels[0..<3]) == [255, 255, 255], "padding is white")
        // Problems become outcomes, never throws.
        let missing = stage.crop(CropItem(sampleID: "m", source: "src", imageRef: ref("image.png"),
                                          masks: [MaskRecord(k: 0, kind: "binary_png", ref: ref("gone.png"), label: "box")]))
        #expect(missing.record.outcome.reason == "missing_mask" && missing.record.outcome.status == "failed" && missing.files.isEmpty)
        let bare = stage.crop(CropItem(sampleID: "n", source: "src", imageRef: ref("image.png"), masks: []))
        #expect(bare.record.outcome == .skipped("no_masks", "the sample has no masks"))
        let escape = stage.crop(CropItem(sampleID: "e", source: "src", imageRef: ref("../outside.png"),
                                         masks: [MaskRecord(k: 0, kind: "binary_png", ref: ref("mask.png"), label: "box")]))
        #expect(escape.record.outcome.status == "failed")
    }
}
