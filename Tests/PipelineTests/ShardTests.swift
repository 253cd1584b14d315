import BuildConfig
import BuildSupport
import Catalog
import Formats
import Foundation
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Tensor
import Testing
import Text

@Suite(.serialized) struct ShardTests {
    /// A sample built through embed with a random-weight CLIP.
    func prepare(perLayout: Int, unitSize: Int = 6) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("shard")
        _ = try SampleWriter(seed: 29, output: dir.appending("sample"), perLayout: perLayout, defects: true).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 5)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02, canny: true}
            embed: {model: clip, batch: 8}
            shard: {plain_text: true}
            """)
        for stage in ["ingest", "tag", "crop", "embed"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0, "\(stage): \(run.stderr)")
        }
        return (dir, pipeline)
    }

    func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }

    /// Subjects whose label ids are absent from the caption ("box" in "three brown boxes") reach
    /// the shards through their noun's own tokens (tag.substitute_at_noun, the default); with it
    /// off they are lost as no_subject_tokens, as with λ-ECLIPSE's rule alone.
    @Test func labelsWhoseIdsAreAbsentKeepTheirRows() throws {
        let (dir, pipeline) = try prepare(perLayout: 3)
        #expect(try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        func count(_ sql: String) throws -> Int { try db.scalar(sql).int ?? -1 }
        let byNoun = try count("SELECT COUNT(*) FROM noun_labels WHERE positions_rule = 'noun_span'")
        #expect(byNoun > 0, "the sample has labels whose ids the caption lacks")
        #expect(try count("SELECT COUNT(*) FROM noun_labels WHERE positions_rule = 'noun_span' AND token_positions_json = '[]'") == 0)
        // Samples lost although a kept subject is linked to a caption noun (unlabelled instance
        // maps have no noun, and stay without tokens).
        let linkedButLost = """
            SELECT COUNT(*) FROM sample_status t WHERE t.stage = 'shard' AND t.reason = 'no_subject_tokens' AND EXISTS
              (SELECT 1 FROM subjects s WHERE s.sample_id = t.sample_id AND s.status = 'ok' AND s.noun_idx IS NOT NULL)
            """
        #expect(try count(linkedButLost) == 0)
        // Kept subjects linked to a noun but without a token position (what shard leaves out of a row).
        let tokenless = """
            SELECT COUNT(*) FROM subjects s JOIN noun_labels l ON l.sample_id = s.sample_id AND l.k = s.k
            WHERE s.status = 'ok' AND s.noun_idx IS NOT NULL AND l.token_positions_json = '[]'
            """
        #expect(try count(tokenless) == 0)
        let rows = try count("SELECT COUNT(*) FROM shard_rows")
        let lostBefore = try count("SELECT COUNT(*) FROM sample_status WHERE stage = 'shard' AND reason = 'no_subject_tokens'")

        let strict = try SampleBuild.copy(dir, pipeline: pipeline, to: "strict-build")
        for stage in ["tag", "crop", "embed", "shard"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", strict, "--quiet", "--set", "tag.substitute_at_noun=false"])
            #expect(run.status == 0, "\(stage): \(run.stderr)")
        }
        let old = try Catalog(path: dir.appending("strict-build/catalog.sqlite"), readOnly: true).database
        let lost = try old.scalar(linkedButLost).int ?? -1
        #expect(try old.scalar(tokenless).int ?? 0 > 0, "the sample has kept subjects whose label ids the caption lacks")
        #expect(try old.scalar("SELECT COUNT(*) FROM noun_labels WHERE positions_rule = 'noun_span'").int == 0)
        #expect(try old.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'shard' AND reason = 'no_subject_tokens'").int == lostBefore + lost)
        #expect((try old.scalar("SELECT COUNT(*) FROM shard_rows").int ?? 0) + lost == rows)
    }

    @Test func rowsHoldTheInterleavedFeatures() throws {
        let (dir, pipeline) = try prepare(perLayout: 3)
        let run = try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let db = catalog.database
        let tokenizer = try CLIPTokenizer()
        var checked = 0
        for shard in try db.query("SELECT id, path, rows, bytes, sha256 FROM shards ORDER BY id") {
            let bytes = try FileIO.read(dir.appending("build/" + shard[1].string!), maxBytes: 1 << 30)
            #expect(bytes.count == shard[3].int && SHA256.hex(bytes) == shard[4].string)
            let file = try SafetensorsFile(path: dir.appending("build/" + shard[1].string!))
            #expect(file.metadata["schema_version"] == "2" && file.metadata["random_weights"] == "true")
            let interleaved = try file.floats("interleaved_text").array, plain = try file.floats("text_last_hidden_state").array
            let subjects = try file.floats("subject_embeds").array
            let d = try file.floats("text_embeds").shape[1]
            let masks = try Safetensors.read(bytes).tensors
            let tokenMask = masks["subject_token_mask"]!.bytes, attention = masks["attention_mask"]!.bytes
            let counts = masks["subject_count"]!.bytes
            for row in try db.query("SELECT r.row, e.caption FROM shard_rows r JOIN entries e ON e.sample_id = r.sample_id AND e.status = 'ok' WHERE r.shard = ?",
                                    [shard[0].string!]) {
                let r = row[0].int!
                #expect(attention[(r * 77)..<((r + 1) * 77)].map(Int.init) == tokenizer.tokenize(row[1].string!).attentionMask)
                let count = Int(counts[r * 8])
                #expect((1...4).contains(count))
                // Each position is the subject's embedding where its mask says so (the last subject
                // wins), else the plain hidden state.
                for position in 0..<77 {
                    let owner = (0..<4).last { tokenMask[(r * 4 + $0) * 77 + position] == 1 }
                    let got = interleaved[((r * 77) + position) * d..<((r * 77) + position + 1) * d]
                    let want = owner.map { subjects[((r * 4) + $0) * d..<((r * 4) + $0 + 1) * d] }
                        ?? plain[((r * 77) + position) * d..<((r * 77) + position + 1) * d]
                    #expect(Array(got) == Array(want))
                }
                checked += 1
            }
        }
        let rows = try db.scalar("SELECT COUNT(*) FROM shard_rows").int
        #expect(checked >= 8 && checked == rows)
        // The split follows the id hash (20 % val by default), the same on every run.
        for row in try db.query("SELECT sample_id, split FROM shard_rows") {
            #expect(ShardConfig().split(of: row[0].string!) == row[1].string)
        }
        #expect(try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet"]).stdout.contains("0 processed"))
        let verified = try ExecutableRunner.run("catalog", ["verify", "--pipeline", pipeline])
        #expect(verified.status == 0 && verified.stdout.contains("all match"))
        try pythonReaderTests(build: dir.appending("build"))
        try pythonReaderMatchesTheSchema(build: dir.appending("build"), textWidth: try SafetensorsFile(
            path: dir.appending("build/" + (try db.scalar("SELECT path FROM shards ORDER BY id LIMIT 1").string ?? ""))).floats("text_embeds").shape[1])
        // A changed shard file is reported.
        let first = try #require(try db.scalar("SELECT path FROM shards ORDER BY id LIMIT 1").string)
        var bytes = try FileIO.read(dir.appending("build/" + first), maxBytes: 1 << 30)
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: dir.appending("build/" + first)))
        let broken = try ExecutableRunner.run("catalog", ["verify", "--pipeline", pipeline])
        #expect(broken.status == 1 && broken.stdout.contains("MISMATCH \(first): SHA-256 differs"))
        let id = try #require(try db.scalar("SELECT sample_id FROM shard_rows LIMIT 1").string)
        let lineage = try ExecutableRunner.run("catalog", ["inspect", id, "--pipeline", pipeline])
        #expect(lineage.status == 0 && lineage.stdout.contains("label matches:") && lineage.stdout.contains("shard row:"))
    }

    /// The Python reader reads exactly the shard schema: one row's tensors by name, each with its
    /// schema shape less the row dimension and its dtype, the per-shard tensors apart, the same
    /// schema version (the demo's config: f16 floats, plain text kept, 4 subjects).
    func pythonReaderMatchesTheSchema(build: String, textWidth d: Int) throws {
        if let missing = ReferencePython.missing(["numpy", "safetensors"]) {
            SkippedCheck.report("Python shard reader against the schema", cause: .package, because: missing); return
        }
        let script = """
            import json, sys
            sys.path.insert(0, sys.argv[2])
            import eclipse_shards as es
            index = es.ShardIndex(sys.argv[1])
            row = index.row(index.sample_ids()[0])
            print(json.dumps({"version": es.SCHEMA_VERSION, "per_shard": sorted(es.PER_SHARD_TENSORS),
                              "row": {k: [list(v.shape), v.dtype.name] for k, v in row.items()}}))
            """
        let run = ReferencePython.run(["-c", script, build, ReferencePython.repository + "/python"], separateErrors: true)
        #expect(run.status == 0, "\(run.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(json["version"] as? Int == ShardSchema.version)
        #expect(json["per_shard"] as? [String] == ShardSchema.perShard.map(\.rawValue).sorted())
        let row = try #require(json["row"] as? [String: [Any]])
        let expected = ShardSchema.Tensor.allCases.filter { !ShardSchema.perShard.contains($0) }
        #expect(Set(row.keys) == Set(expected.map(\.rawValue)))
        let numpy: [DType: String] = [.f16: "float16", .f32: "float32", .u8: "uint8", .i64: "int64"]
        for tensor in expected {
            let shape = ShardSchema.shape(tensor, rows: 1, maxSubjects: 4, textWidth: d, projection: d).dropFirst()
            #expect(row[tensor.rawValue]?.first as? [Int] == Array(shape), "\(tensor.rawValue)")
            #expect(row[tensor.rawValue]?.last as? String == numpy[ShardSchema.dtype(tensor, floats: .f16)], "\(tensor.rawValue)")
        }
    }

    /// The Python reader's own tests (python/tests, the PyTorch Dataset included) on this build,
    /// with the project's Python (ReferencePython); reported as skipped where it lacks numpy,
    /// safetensors or torch.
    func pythonReaderTests(build: String) throws {
        if let missing = ReferencePython.missing(["numpy", "safetensors", "torch"]) {
            SkippedCheck.report("Python shard reader tests", cause: .package, because: missing); return
        }
        let tests = ReferencePython.run(["-m", "unittest", "discover", "-v", "-s", ReferencePython.repository + "/python/tests"],
                                        environment: ["ECLIPSE_BUILD": build, "ECLIPSE_CATALOG_TOOL": ExecutableRunner.productsDirectory + "/catalog"])
        let output = tests.output
        #expect(tests.status == 0, "\(output)")
        #expect(output.contains("\nOK") && !output.contains("skipped"), "every reader test runs: \(output)")
        print("python reader tests (\(ReferencePython.interpreter)): " + (output.split(separator: "\n").first { $0.hasPrefix("Ran ") } ?? ""))
    }

    @Test func fourWorkersThenMergeEqualOneWorker() throws {
        let (dir, pipeline) = try prepare(perLayout: 3, unitSize: 4)
        let one = try SampleBuild.copy(dir, pipeline: pipeline, to: "one-build")
        #expect(try ExecutableRunner.run("shard", ["--pipeline", one, "--quiet"]).status == 0)
        let logs = TemporaryDirectory("shard-workers")
        let workers = try (0..<4).map {
            try ExecutableRunner.start("shard", ["--pipeline", pipeline, "--quiet", "--workers", "4", "--worker", "\($0)"],
                                       logDirectory: logs.path)
        }
        for w in workers { w.waitUntilExit(); #expect(w.terminationStatus == 0) }
        #expect(try ExecutableRunner.run("merge", ["--pipeline", pipeline]).status == 0)
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("one-build/catalog.sqlite"))))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.appending("one-build/shards")).sorted()
        let merged = try FileManager.default.contentsOfDirectory(atPath: dir.appending("build/shards")).sorted()
        #expect(names.count >= 3 && names == merged)
        for name in names {
            #expect(FileManager.default.contents(atPath: dir.appending("build/shards/" + name))
                    == FileManager.default.contents(atPath: dir.appending("one-build/shards/" + name)))
        }
    }

    @Test func killedAtRandomInstantsResumesToTheSameShards() throws {
        let (dir, pipeline) = try prepare(perLayout: 4, unitSize: 3)
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        #expect(try ExecutableRunner.run("shard", ["--pipeline", reference, "--quiet"]).status == 0)
        var rng = SystemRandomNumberGenerator()
        let logs = TemporaryDirectory("shard-kills")
        let runs = Torture.kills(default: 8)
        var killed = 0
        for _ in 0..<runs {
            let process = try ExecutableRunner.start("shard", ["--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_UNIT_DELAY_MS": "20"], logDirectory: logs.path)
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4, using: &rng))
            if process.signal(SIGKILL) { killed += 1 }
            process.waitUntilExit()
        }
        Torture.record(stage: "shard", kills: killed, runs: runs)
        #expect(try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet"]).status == 0)
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.appending("reference-build/shards")) {
            #expect(FileManager.default.contents(atPath: dir.appending("build/shards/" + name))
                    == FileManager.default.contents(atPath: dir.appending("reference-build/shards/" + name)))
        }
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("build")).isEmpty)
    }
}
