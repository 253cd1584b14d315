import BuildConfig
import BuildSupport
import Catalog
import Formats
import Foundation
import Imaging
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Tensor
import Testing
import Text

@Suite(.serialized) struct EmbedTests {
    /// A sample built through crop, and a random-weight CLIP of the real layout.
    func prepare(perLayout: Int, unitSize: Int = 8) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("embed")
        _ = try SampleWriter(seed: 23, output: dir.appending("sample"), perLayout: perLayout, defects: true).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 3)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02, canny: true}
            embed: {model: clip, batch: 5}
            """)
        let early = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet"])
        #expect(early.status != 0)
        for stage in ["ingest", "tag", "crop"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0, "\(run.stderr)")
        }
        return (dir, pipeline)
    }

    @Test func featuresMatchTheModelRunDirectly() throws {
        let (dir, pipeline) = try prepare(perLayout: 2)
        let run = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("RANDOM WEIGHTS"))
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        #expect(try db.scalar("SELECT COUNT(*) FROM features").int
                == (try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'crop' AND status = 'ok'").int))
        guard case .clip(let clip) = try LoadedModel.load(directory: dir.appending("clip")) else { Issue.record("no CLIP"); return }
        let tokenizer = try CLIPTokenizer()
        // Recompute one sample's every feature and compare with what the stage stored (f16).
        let row = try #require(try db.query("""
            SELECT f.path, f.row, f.subject_rows_json, f.canny_row, e.caption, e.sample_id FROM features f
            JOIN entries e ON e.sample_id = f.sample_id AND e.status = 'ok' WHERE e.source = 'folder' ORDER BY e.position LIMIT 1
            """).first)
        let file = try SafetensorsFile(path: dir.appending("build/" + row[0].string!))
        let r = row[1].int!
        func stored(_ name: String, _ index: Int) throws -> [Float] {
            let t = try file.floats(name)
            let width = t.shape.dropFirst().reduce(1, *)
            return Array(t.array[(index * width)..<((index + 1) * width)])
        }
        func close(_ a: [Float], _ b: [Float]) -> Bool {
            let scale = b.map(abs).max() ?? 1
            return zip(a, b).allSatisfy { abs($0 - $1) <= 2e-3 * max(scale, 1e-6) }
        }
        let tokens = tokenizer.tokenize(row[4].string!)
        let text = try clip.text!.encode(ids: [tokens.ids], attentionMask: [tokens.attentionMask])
        #expect(close(try stored("text_embeds", r), text.textEmbeds))
        #expect(close(try stored("text_last_hidden_state", r), text.lastHiddenState))
        var recipe = PreprocessRecipe.clip
        (recipe.resizeShortestSide, recipe.cropSize) = (224, 224)
        let files = try SourceFiles(catalog: Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true))
        let imageRef = try db.scalar("SELECT image_ref FROM entries WHERE sample_id = ?", [row[5].string!]).string!
        let image = try ImageCodec.decodeRGB(try files.read(imageRef, source: "folder", maxBytes: 1 << 30))
        #expect(close(try stored("image_embeds", r), try clip.vision!.encode(pixelValues: recipe.pixelValues(image), batch: 1).imageEmbeds))
        let subjects = try JSONValue.parse(Array(row[2].string!.utf8)).array!.map { $0.array!.compactMap(\.int) }
        #expect(!subjects.isEmpty)
        for pair in subjects {
            let object = try db.scalar("SELECT crop_object FROM subjects WHERE sample_id = ? AND k = ?", [row[5].string!, pair[0]]).string!
            let crop = try ImageCodec.decodeRGB(try FileIO.read(dir.appending("build/" + object), maxBytes: 1 << 26))
            #expect(close(try stored("subject_embeds", pair[1]), try clip.vision!.encode(pixelValues: recipe.pixelValues(crop), batch: 1).imageEmbeds))
        }
        #expect(row[3].int != nil)
        let zero = try clip.vision!.encode(pixelValues: [Float](repeating: 0, count: 3 * 224 * 224), batch: 1).imageEmbeds
        #expect(close(try stored("zero_image_embeds", 0), zero))
        #expect(file.metadata["random_weights"] == "true" && file.metadata["model_sha256"]?.count == 64)

        let again = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet"])
        #expect(again.stdout.contains("0 processed"))

        // bf16: a config of its own (every unit redone), said on stderr, recorded in the feature
        // and shard files, and the numbers of the model loaded in bf16; float32 configs keep the
        // canonical JSON (and keys) they had before the setting existed.
        #expect(!ConfigLoader.canonicalJSON(EmbedConfig()).contains("precision"))
        let bf16 = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet", "--set", "embed.precision=bf16"])
        #expect(bf16.status == 0 && !bf16.stdout.contains(" 0 processed") && bf16.stderr.contains("embed: \(Precision.bf16Notice)"), "\(bf16.stdout)")
        let path = try #require(try db.scalar("SELECT path FROM features WHERE sample_id = ?", [row[5].string!]).string)
        let held = try SafetensorsFile(path: dir.appending("build/" + path))
        #expect(held.metadata["precision"] == "bf16" && file.metadata["precision"] == nil)
        guard case .clip(let half) = try LoadedModel.load(directory: dir.appending("clip"), precision: .bf16) else { return }
        let halfText = try half.text!.encode(ids: [tokens.ids], attentionMask: [tokens.attentionMask])
        let index = try #require(try db.scalar("SELECT row FROM features WHERE sample_id = ?", [row[5].string!]).int)
        let t = try held.floats("text_embeds")
        let width = t.shape[1]
        #expect(close(Array(t.array[(index * width)..<((index + 1) * width)]), halfText.textEmbeds))
        #expect(halfText.textEmbeds != text.textEmbeds)
        let shard = try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet", "--set", "embed.precision=bf16"])
        #expect(shard.status == 0, "\(shard.stderr)")
        let shardPath = try #require(try db.scalar("SELECT path FROM shards LIMIT 1").string)
        #expect(try SafetensorsFile(path: dir.appending("build/" + shardPath)).metadata["clip_precision"] == "bf16")
    }

    @Test func aMissingCropFailsItsSampleWithAReason() throws {
        let (dir, pipeline) = try prepare(perLayout: 1)
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        let object = try #require(try db.scalar("SELECT crop_object FROM subjects WHERE status = 'ok' LIMIT 1").string)
        try FileManager.default.removeItem(atPath: dir.appending("build/" + object))
        let run = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet"])
        #expect(run.status == 0 && run.stdout.contains("failed:missing_crop"), "\(run.stdout)")
        #expect(try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'embed' AND reason = 'missing_crop'").int ?? 0 >= 1)
        let bad = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet", "--set", "embed.model=/nonexistent"])
        #expect(bad.status == StageCommandSupport.configExitCode && bad.stderr.contains("embed.model"))
    }

    @Test func killedAtRandomInstantsResumesToTheSameCatalogAndFiles() throws {
        let (dir, pipeline) = try prepare(perLayout: 6, unitSize: 4)
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        let clean = try ExecutableRunner.run("embed", ["--pipeline", reference, "--quiet"])
        #expect(clean.status == 0, "\(clean.stderr)")
        var rng = SystemRandomNumberGenerator()
        let logs = TemporaryDirectory("embed-kills")
        let runs = Torture.kills(default: 8)
        var killed = 0
        for _ in 0..<runs {
            let process = try ExecutableRunner.start("embed", ["--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_UNIT_DELAY_MS": "20"], logDirectory: logs.path)
            Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.6, using: &rng))
            if process.signal(SIGKILL) { killed += 1 }
            process.waitUntilExit()
        }
        Torture.record(stage: "embed", kills: killed, runs: runs)
        #expect(try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet"]).status == 0)
        func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        for unit in try FileManager.default.contentsOfDirectory(atPath: dir.appending("reference-build/features/embed")) {
            #expect(FileManager.default.contents(atPath: dir.appending("build/features/embed/" + unit))
                    == FileManager.default.contents(atPath: dir.appending("reference-build/features/embed/" + unit)), "\(unit)")
        }
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("build")).isEmpty)
    }

    /// Progress shows within a unit, not only when it ends: with every sample in one unit, the
    /// log lines (here every 0.05 s) count items between 0 and the total.
    @Test func progressIsReportedWithinAUnit() throws {
        let (dir, pipeline) = try prepare(perLayout: 4, unitSize: 1000)
        defer { withExtendedLifetime(dir) {} }
        let run = try ExecutableRunner.run("embed", ["--pipeline", pipeline], environment: ["ECLIPSE_PROGRESS_INTERVAL": "0.05"])
        #expect(run.status == 0, "\(run.stderr)")
        let counts = run.stderr.split(separator: "\n").compactMap { line -> (Int, Int)? in
            guard line.hasPrefix("[embed] "), let field = line.dropFirst(8).split(separator: " ").first else { return nil }
            let parts = field.split(separator: "/").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        let total = try #require(counts.last?.1)
        #expect(counts.last?.0 == total)
        #expect(counts.contains { $0.0 > 0 && $0.0 < total }, "no line within the unit: \(run.stderr)")
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0.0 <= $1.0 }, "counts only grow")
    }
}
