import BuildConfig
import Catalog
import Formats
import Foundation
import Imaging
@testable import Pipeline
import PipelineTestSupport
import Testing

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
        #expect(outcomes == [.ok, .skipped(.labelNotInCaption, "mask 0 label 'zebra' matches no noun of the caption"),
                             .skipped(.noNouns, "the caption has no object noun")])
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
        #expect(kept.record.subjects.map(\.outcome) == [.ok, .skipped(.boxTooSmall)])
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
        #expect(missing.record.outcome.reason == .missingMask && missing.record.outcome.status == "failed" && missing.files.isEmpty)
        let bare = stage.crop(CropItem(sampleID: "n", source: "src", imageRef: ref("image.png"), masks: []))
        #expect(bare.record.outcome == .skipped(.noMasks, "the sample has no masks"))
        let escape = stage.crop(CropItem(sampleID: "e", source: "src", imageRef: ref("../outside.png"),
                                         masks: [MaskRecord(k: 0, kind: "binary_png", ref: ref("mask.png"), label: "box")]))
        #expect(escape.record.outcome.status == "failed")
        // A finished batch that cannot be read back (another version's format) is computed again.
        let items = [CropItem(sampleID: "k", source: "src", imageRef: ref("image.png"),
                              masks: [MaskRecord(k: 0, kind: "binary_png", ref: ref("mask.png"), label: "box")])]
        let first = try stage.process(unit: 0, firstPosition: 0, items: items)
        let folder = dir.appending("build/" + UnitScratch.relativePath(stage: "crop", unit: 0))
        let saved = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".bin") }
        #expect(saved.count == 1)
        for name in saved { try Data("not this version's batch".utf8).write(to: URL(fileURLWithPath: folder + "/" + name)) }
        let again = try stage.process(unit: 0, firstPosition: 0, items: items)
        #expect(again.files.map(\.0) == first.files.map(\.0) && again.files.map(\.1) == first.files.map(\.1))
        let rewritten = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + saved[0]))
        #expect(String(decoding: rewritten, as: UTF8.self) != "not this version's batch")
    }

    @Test func shardInterleavesSubjectEmbeddingsAtTheirTokens() throws {
        let dir = TemporaryDirectory("inproc-shard")
        // A unit's feature file: 2 captions (width 4 = projection width), 3 subject crops.
        let (t, d) = (CLIPText.contextLength, 4)
        let hidden = (0..<(2 * t * d)).map { Float($0 % 64) / 8 }     // exact in float16
        let subjects: [Float] = [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
        let features = Safetensors.serialize([
            .init(name: FeatureSchema.Tensor.textLastHiddenState.rawValue, shape: [2, t, d], floats: hidden),
            .init(name: FeatureSchema.Tensor.textEmbeds.rawValue, shape: [2, d], floats: [5, 5, 5, 5, 6, 6, 6, 6]),
            .init(name: FeatureSchema.Tensor.imageEmbeds.rawValue, shape: [2, d], floats: [7, 7, 7, 7, 8, 8, 8, 8]),
            .init(name: FeatureSchema.Tensor.subjectEmbeds.rawValue, shape: [3, d], floats: subjects),
            .init(name: FeatureSchema.Tensor.zeroImageEmbeds.rawValue, shape: [1, d], floats: [9, 9, 9, 9]),
        ], metadata: ["model": "tiny", "model_sha256": "abc", "random_weights": "true"])
        _ = try dir.write(features, to: "build/features/embed/unit-00000.safetensors")
        let stage = try ShardStage(config: ShardConfig(), buildDir: dir.appending("build"))
        let path = "features/embed/unit-00000.safetensors"
        let items = [
            // "a red mug next to a green ball": mug at token 3, ball at 8; both subjects' rows.
            ShardItem(sampleID: "a", caption: "a red mug next to a green ball", featurePath: path, featureRow: 0,
                      subjects: [(k: 0, row: 0, positions: [3]), (k: 1, row: 1, positions: [8, 3])], cannyRow: nil),
            ShardItem(sampleID: "b", caption: "a blue box", featurePath: path, featureRow: 1,
                      subjects: [(k: 0, row: 2, positions: [])], cannyRow: nil),
        ]
        let output = try stage.process(unit: 0, firstPosition: 0, items: items)
        let catalog = try Catalog(path: ":memory:")
        let outcomes = try catalog.write { db in try output.record(catalog, db) }
        #expect(outcomes == [.ok, .skipped(.noSubjectTokens, "no kept subject has label tokens in the caption")])
        let (name, bytes) = try #require(output.files.first)
        #expect(output.files.count == 1 && name == "shards/shard-00000.safetensors")
        let shard = try Safetensors.read(bytes)
        func floats(_ tensor: ShardSchema.Tensor) throws -> [Float] {
            let entry = try #require(shard.tensors[tensor.rawValue])
            #expect(entry.shape == ShardSchema.shape(tensor, rows: 1, maxSubjects: ShardConfig().maxSubjects, textWidth: d, projection: d))
            #expect(entry.dtype == .f16, "shard.dtype defaults to f16")
            return entry.bytes.withUnsafeBytes { $0.bindMemory(to: UInt16.self).map { Float(Float16(bitPattern: $0)) } }
        }
        // Later subjects win: token 3 holds subject 1's embedding (2s), token 8 too; others unchanged.
        let mixed = try floats(.interleavedText)
        #expect(Array(mixed[(3 * d)..<(4 * d)]) == [2, 2, 2, 2] && Array(mixed[(8 * d)..<(9 * d)]) == [2, 2, 2, 2])
        #expect(Array(mixed[(4 * d)..<(5 * d)]) == Array(hidden[(4 * d)..<(5 * d)]))
        #expect(try floats(.textEmbeds) == [5, 5, 5, 5])
        #expect(try floats(.targetImageEmbeds) == [7, 7, 7, 7])
        #expect(try floats(.controlEmbeds) == [9, 9, 9, 9], "no Canny row: the zero image's embedding")
        let tokenMask = try #require(shard.tensors[ShardSchema.Tensor.subjectTokenMask.rawValue]).bytes
        #expect(tokenMask[3] == 1 && tokenMask[t + 8] == 1 && tokenMask[t + 3] == 1 && tokenMask.reduce(0) { $0 + Int($1) } == 3)
        #expect(shard.metadata["sample_ids"] == "a" && shard.metadata["clip_model_sha256"] == "abc")
    }
}
