import BuildSupport
import Catalog
import Formats
import Foundation
import Imaging
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Tensor
import Testing

@Suite(.serialized) struct CropTests {
    static let relaxed = "crop: {min_image_side: 200, min_box_area: 0.02, canny: true}"

    func prepare(perLayout: Int, unitSize: Int = 8, extra: String = CropTests.relaxed) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("crop")
        _ = try SampleWriter(seed: 11, output: dir.appending("sample"), perLayout: perLayout, defects: true).write()
        return (dir, try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: extra))
    }

    func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }

    /// A copy of the build as `reference-build`, cropped without interruption.
    func cropReferenceBuild(_ dir: TemporaryDirectory, _ pipeline: String) throws {
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        #expect(try ExecutableRunner.run("crop", ["--pipeline", reference, "--quiet"]).status == 0)
    }

    /// The stages crop builds on.
    func ingestAndTag(_ pipeline: String) throws {
        for stage in ["ingest", "tag"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0, "\(run.stderr)")
        }
    }

    @Test func cropsSubjectsFromEveryMaskKind() throws {
        let (dir, pipeline) = try prepare(perLayout: 3)
        #expect(try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let early = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"])
        #expect(early.status == StageCommandSupport.configExitCode && early.stderr.contains("run tag first"))
        #expect(try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let run = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("crop summary"))
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let db = catalog.database
        // Every source with masks yields kept subjects; img2dataset tars have none.
        let sources = Set(try db.query("""
            SELECT DISTINCT e.source FROM subjects s JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE s.status = 'ok'
            """).compactMap { $0[0].string })
        #expect(sources == ["folder", "wds-subject-diffusion", "jsonl", "csv", "tsv", "coco"])
        #expect(try db.scalar("SELECT s.reason FROM sample_status s JOIN entries e ON e.sample_id = s.sample_id WHERE s.stage = 'crop' AND e.source = 'wds-img2dataset' LIMIT 1").string == "no_masks")
        // Every crop file exists, is square, and matches the size and digest recorded for it.
        for row in try db.query("SELECT path, bytes, sha256 FROM unit_files WHERE stage = 'crop'") {
            let bytes = try FileIO.read(dir.appending("build/" + row[0].string!), maxBytes: 1 << 24)
            #expect(bytes.count == row[1].int && SHA256.hex(bytes) == row[2].string)
            let info = try ImageCodec.probe(bytes)
            if row[0].string!.contains("/crops/") { #expect(info.width == info.height) }
        }
        #expect(try db.scalar("SELECT COUNT(*) FROM subjects WHERE status = 'ok' AND crop_object IS NULL").int == 0)
        #expect(try db.scalar("SELECT COUNT(*) FROM sample_objects WHERE kind = 'canny'").int
                == (try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'crop' AND status = 'ok'").int))
        // Labels come from the Subject-Diffusion JSON, JSONL mask labels and COCO categories.
        let labels = Set(try db.query("SELECT DISTINCT label FROM subjects").compactMap { $0[0].string })
        #expect(labels.isSuperset(of: ["mug", "ball", "book", "plant", "bottle", "apple", "clock", "vase", "box"].filter { labels.contains($0) }))
        #expect(labels.count >= 5)
        // Labelled subjects carry the caption noun the tag stage matched; samples tag skipped are not cropped.
        #expect(try db.scalar("""
            SELECT COUNT(*) FROM subjects s JOIN noun_labels l ON l.sample_id = s.sample_id AND l.k = s.k
            WHERE s.noun_idx IS NOT l.noun_idx
            """).int == 0)
        #expect(try db.scalar("SELECT COUNT(*) FROM subjects WHERE noun_idx IS NOT NULL").int ?? 0 > 0)
        #expect(try db.scalar("""
            SELECT COUNT(*) FROM sample_status c JOIN sample_status t ON t.sample_id = c.sample_id
            WHERE c.stage = 'crop' AND t.stage = 'tag' AND t.status <> 'ok'
            """).int == 0)

        let again = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"])
        #expect(again.stdout.contains("0 processed"))
    }

    @Test func thePapersDefaultsSkipSmallImagesWithAReason() throws {
        let (dir, pipeline) = try prepare(perLayout: 1, extra: "")
        try ingestAndTag(pipeline)
        #expect(try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        let reasons = Set(try db.query("SELECT DISTINCT reason FROM sample_status WHERE stage = 'crop'").compactMap { $0[0].string })
        #expect(reasons.isSubset(of: ["image_too_small", "no_masks", "too_white"]) && reasons.contains("image_too_small"))
    }

    @Test func killedAtRandomInstantsResumesToTheSameCatalogAndFiles() throws {
        let (dir, pipeline) = try prepare(perLayout: 20, unitSize: 4)
        try ingestAndTag(pipeline)
        try cropReferenceBuild(dir, pipeline)

        var rng = SystemRandomNumberGenerator()
        let logs = TemporaryDirectory("crop-kills")
        var killed = 0
        let runs = Torture.kills(default: 20)
        for _ in 0..<runs {
            let process = try ExecutableRunner.start("crop", ["--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_UNIT_DELAY_MS": "25"], logDirectory: logs.path)
            // Each resumed run gets a few units done before the kill, so the kills spread over
            // the whole run.
            Thread.sleep(forTimeInterval: Double.random(in: 0.005...0.1, using: &rng))
            if process.isRunning { kill(process.processIdentifier, SIGKILL); killed += 1 }
            process.waitUntilExit()
        }
        #expect(try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"]).status == 0)
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        func files(_ root: String) -> [String] {
            (FileManager.default.enumerator(atPath: root + "/objects")?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".png") }.sorted()
        }
        #expect(files(dir.appending("build")) == files(dir.appending("reference-build")))
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("build")).isEmpty)
        print("crop crash test: \(killed) of \(runs) runs killed mid-flight")
        Torture.record(stage: "crop", kills: killed, runs: runs)
    }

    @Test func workersThenMergeEqualOneWorker() throws {
        let (dir, pipeline) = try prepare(perLayout: 4, unitSize: 5)
        let one = dir.appending("one.yaml")
        try String(contentsOfFile: pipeline, encoding: .utf8)
            .replacingOccurrences(of: "build_dir: build", with: "build_dir: one-build")
            .write(toFile: one, atomically: true, encoding: .utf8)
        for stage in ["ingest", "tag", "crop"] {
            #expect(try ExecutableRunner.run(stage, ["--pipeline", one, "--quiet"]).status == 0)
            let logs = TemporaryDirectory("workers")
            let workers = try (0..<2).map {
                try ExecutableRunner.start(stage, ["--pipeline", pipeline, "--quiet", "--workers", "2", "--worker", "\($0)"],
                                           logDirectory: logs.path)
            }
            for w in workers { w.waitUntilExit(); #expect(w.terminationStatus == 0) }
            #expect(try ExecutableRunner.run("merge", ["--pipeline", pipeline]).status == 0)
            try FileManager.default.removeItem(atPath: dir.appending("build/workers"))
        }
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("one-build/catalog.sqlite"))))
    }

    @Test func preprocessWritesTheReferenceTensor() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../ImagingTests/Fixtures").standardizedFileURL.path
        let dir = TemporaryDirectory("preprocess")
        let inputs = ["input_a.png", "input_photo.jpg"].map { fixtures + "/" + $0 }
        let run = try ExecutableRunner.run("preprocess", ["--recipe", "clip", "--output", dir.appending("pv.safetensors"),
                                                          "--save-resized", dir.appending("resized")] + inputs)
        #expect(run.status == 0, "\(run.stderr)")
        let (tensors, metadata) = try Safetensors.read(try FileIO.read(dir.appending("pv.safetensors"), maxBytes: 1 << 26))
        let pv = try #require(tensors["pixel_values"])
        #expect(pv.shape == [2, 3, 224, 224] && metadata["recipe"] == "clip")
        let values = pv.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let manifest = try JSONValue.parse(try FileIO.read(fixtures + "/fixtures.json", maxBytes: 1 << 24))
        for (row, name) in ["input_a.png", "input_photo.jpg"].enumerated() {
            let c = try #require(manifest["recipes"]?.array?.first { $0["input"]?.string == name })
            let indices = c["clip_index"]!.array!.compactMap(\.int)
            let expected = c["clip_values"]!.array!.compactMap(\.number)
            for (i, v) in zip(indices, expected) { #expect(abs(Double(values[row * 3 * 224 * 224 + i]) - v) <= 1e-6) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appending("resized")).count == 2)
        let bad = try ExecutableRunner.run("preprocess", ["--output", dir.appending("x.safetensors"), fixtures + "/fixtures.json"])
        #expect(bad.status != 0 && bad.stderr.contains("fixtures.json"))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("x.safetensors")))
        // A failing image among good ones (written in place as they finish) leaves the previous
        // output as it was and no temporary behind.
        let before = try FileIO.read(dir.appending("pv.safetensors"), maxBytes: 1 << 26)
        let mixed = try ExecutableRunner.run("preprocess", ["--output", dir.appending("pv.safetensors")]
                                             + inputs + [fixtures + "/fixtures.json"] + inputs)
        #expect(mixed.status != 0 && mixed.stderr.contains("fixtures.json"))
        #expect(try FileIO.read(dir.appending("pv.safetensors"), maxBytes: 1 << 26) == before)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(AtomicFile.temporaryPrefix) }
        #expect(left.isEmpty, "temporaries left: \(left)")
    }

    /// img2dataset's `files` output: its `NNNNN.parquet` and `NNNNN_stats.json` beside each shard
    /// folder are not samples; its `original_width` / `original_height` can be what
    /// `min_image_side` checks (`crop.min_image_side_of: original`), since it enlarges small photos.
    @Test func img2datasetFilesOutputAndOriginalSizes() throws {
        let (dir, pipeline) = try prepare(perLayout: 3, extra: "crop: {min_image_side: 200, min_box_area: 0.02}")
        let folder = dir.appending("sample/folder")
        _ = try dir.write([0x50, 0x41, 0x52, 0x31, 0, 0, 0x50, 0x41, 0x52, 0x31], to: "sample/folder/00000.parquet")
        _ = try dir.write(#"{"count": 3, "successes": 3, "failed_to_download": 0}"#, to: "sample/folder/00000_stats.json")
        let json = folder + "/00000/000000000.json"
        let text = try String(contentsOfFile: json, encoding: .utf8)
        try text.replacingOccurrences(of: "{\"caption\"", with: "{\"original_width\":120,\"original_height\":100,\"caption\"")
            .write(toFile: json, atomically: true, encoding: .utf8)
        try ingestAndTag(pipeline)
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        #expect(try db.scalar("SELECT COUNT(*) FROM entries WHERE source = 'folder' AND reason = 'missing_image'").int == 0)
        #expect(try db.scalar("SELECT COUNT(*) FROM entries WHERE source = 'folder' AND source_key IN ('00000', '00000_stats')").int == 0)
        let id = try #require(try db.scalar("SELECT sample_id FROM entries WHERE source = 'folder' AND source_key = '00000/000000000'").string)
        func verdict() throws -> (String?, String?) {
            let row = try db.query("SELECT status, message FROM sample_status WHERE stage = 'crop' AND sample_id = ?", [id]).first
            return (row?[0].string, row?[1].string)
        }
        #expect(try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"]).status == 0)
        #expect(try verdict().0 == "ok")
        let original = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet", "--set", "crop.min_image_side_of=original"])
        #expect(original.status == 0, "\(original.stderr)")
        let (status, message) = try verdict()
        #expect(status == "skipped" && message == "120x100 originally (before resizing) is below 200 px", "\(String(describing: message))")
        // Samples without a recorded original size are checked as decoded.
        #expect(try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'crop' AND reason = 'image_too_small'").int == 1)
        let bad = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet", "--set", "crop.min_image_side_of=stored"])
        #expect(bad.status == StageCommandSupport.configExitCode && bad.stderr.contains("crop.min_image_side_of"))
    }

    /// SIGINT and SIGTERM end a run cleanly: exit 130 / 143, the run recorded as interrupted (it
    /// stayed `running` before), and the same command resumes to the uninterrupted result.
    @Test(arguments: [SIGINT, SIGTERM])
    func anInterruptIsRecordedAndResumes(signal number: Int32) throws {
        let (dir, pipeline) = try prepare(perLayout: 4, unitSize: 4)
        try ingestAndTag(pipeline)
        try cropReferenceBuild(dir, pipeline)

        let logs = TemporaryDirectory("crop-interrupt")
        let process = try ExecutableRunner.start("crop", ["--pipeline", pipeline, "--quiet"],
                                                 environment: ["ECLIPSE_UNIT_DELAY_MS": "400"], logDirectory: logs.path)
        Thread.sleep(forTimeInterval: 1.0)
        #expect(process.isRunning)
        #expect(process.signal(number))
        process.waitUntilExit()
        let result = ExecutableRunner.collect(process, logDirectory: logs.path, name: "crop")
        #expect(result.status == 128 + number, "\(result.status): \(result.stderr)")
        #expect(result.stderr.contains("crop: interrupted by \(number == SIGINT ? "SIGINT" : "SIGTERM")"))
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        #expect(try db.scalar("SELECT status FROM runs WHERE stage = 'crop' ORDER BY id DESC LIMIT 1").string == "interrupted")
        #expect(try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"]).status == 0)
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        #expect(try db.scalar("SELECT COUNT(*) FROM runs WHERE status = 'running'").int == 0)
    }
}
