import BuildSupport
import Catalog
import Formats
import Foundation
import Models
@testable import Pipeline
import PipelineTestSupport
@testable import Prior
@testable import PriorTraining
import SampleScenes
import Tensor
import Testing

/// Training on real shards of the embedded sample: the loss falls, each epoch is evaluated,
/// checkpoints load, `prior predict` runs, and a killed run resumes to the same loss curve.
@Suite(.serialized) struct PriorTrainingTests {
    /// Shards of the sample through a random-weight CLIP, and a pipeline with a small prior.
    static func prepare(_ label: String, train: String) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory(label)
        _ = try SampleWriter(seed: 29, output: dir.appending("sample"), perLayout: 4, defects: false).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 5)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 8, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02, canny: true}
            embed: {model: clip, batch: 8}
            train: {\(train)}
            """)
        for stage in ["ingest", "tag", "crop", "embed", "shard"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0, "\(stage): \(run.stderr)")
        }
        return (dir, pipeline)
    }

    static let small = "heads: 2, head_dim: 16, layers: 2, batch_size: 6, warmup_steps: 2, learning_rate: 0.001, seed: 3"

    @Test func lossFallsEpochsAreEvaluatedAndCheckpointsLoad() throws {
        let (dir, pipeline) = try Self.prepare("prior-train", train: Self.small + ", steps: 24, checkpoint_every: 8, keep_checkpoints: 2")
        let run = try ExecutableRunner.run("prior", ["train", "--pipeline", pipeline])
        #expect(run.status == 0, "\(run.stderr)")
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let losses = try catalog.database.query("SELECT loss FROM train_steps ORDER BY step").compactMap { $0[0].double }
        #expect(losses.count == 24)
        let early = losses.prefix(4).reduce(0, +) / 4, late = losses.suffix(4).reduce(0, +) / 4
        #expect(late < 0.8 * early, "loss \(early) → \(late)")
        let trainRows = try catalog.database.query("SELECT count(*) FROM shard_rows WHERE split = 'train'")[0][0].int ?? 0
        let stepsPerEpoch = max(1, trainRows / min(6, trainRows))
        let evals = try catalog.database.query("SELECT step, samples, mse, cosine, top1 FROM train_evals ORDER BY step")
        #expect(evals.count >= 24 / stepsPerEpoch && evals.last?[0].int == 24)
        #expect(evals.allSatisfy { ($0[3].double ?? 2) <= 1 && ($0[4].double ?? 2) <= 1 })
        #expect(run.stdout.contains("val: mse"))
        // Two checkpoints kept (16, 24), each recorded with its digest and loadable as a prior.
        let kept = try catalog.database.query("SELECT step, path, sha256 FROM checkpoints ORDER BY step")
        #expect(kept.map { $0[0].int ?? 0 } == [16, 24])
        for row in kept {
            let path = dir.appending("build/" + (row[1].string ?? ""))
            #expect(try SHA256.hex(file: path + "/" + PriorTransformer.weightsFileName) == row[2].string)
            _ = try PriorTransformer.load(directory: path)
        }
        // Stages rerun on the build leave the checkpoints alone (they are not a stage's orphans).
        #expect(try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet"]).status == 0)
        for row in kept { #expect(FileManager.default.fileExists(atPath: dir.appending("build/" + (row[1].string ?? "") + "/config.json"))) }
        // A finished run does nothing more.
        let again = try ExecutableRunner.run("prior", ["train", "--pipeline", pipeline])
        #expect(again.status == 0 && again.stdout.contains("steps 24→24"))
        #expect(try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database.query("SELECT count(*) FROM train_steps")[0][0].int == 24)

        // Predict from the shards with the last checkpoint.
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir.appending("build/shards")).sorted().map { dir.appending("build/shards/" + $0) }
        let out = dir.appending("embeds.safetensors")
        let predict = try ExecutableRunner.run("prior", ["predict", "--prior", dir.appending("build/" + (kept.last?[1].string ?? "")),
                                                         "--output", out, "--batch", "5"] + shards)
        #expect(predict.status == 0, "\(predict.stderr)")
        let file = try SafetensorsFile(path: out)
        let total = try catalog.database.query("SELECT count(*) FROM shard_rows")[0][0].int ?? 0
        #expect(try file.floats("image_embeds").shape == [total, 64])
        #expect(file.metadata["sample_ids"]?.split(separator: ",").count == total)
        let evaluate = try ExecutableRunner.run("prior", ["evaluate", "--pipeline", pipeline, "--split", "train", "--pool", "4",
                                                          "--output", dir.appending("prior-report")])
        #expect(evaluate.status == 0 && evaluate.stdout.contains("top-5 retrieval"), "\(evaluate.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.appending("prior-report/report.json")))) as? [String: Any]
        #expect(report?["rows"] as? Int == trainRows && report?["pool"] as? Int == 4)
        let top1 = report?["top1"] as? Double ?? -1, top5 = report?["top5"] as? Double ?? -1
        #expect(0 <= top1 && top1 <= top5 && top5 == 1, "with pools of 4 every target is in the top 5")
        #expect((report?["latent_clip_t"] as? Double).map { abs($0) <= 1 } == true)
    }

    @Test func killedAtRandomInstantsResumesToTheSameLossCurveBitForBit() throws {
        let (dir, pipeline) = try Self.prepare("prior-kill", train: Self.small + ", steps: 30, checkpoint_every: 4, keep_checkpoints: 2")
        let reference = dir.appending("reference.yaml")
        try FileManager.default.copyItem(atPath: dir.appending("build"), toPath: dir.appending("reference-build"))
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(of: "build_dir: build", with: "build_dir: reference-build")
            .write(toFile: reference, atomically: true, encoding: .utf8)
        let whole = try ExecutableRunner.run("prior", ["train", "--pipeline", reference, "--quiet"])
        #expect(whole.status == 0, "\(whole.stderr)")

        var rng = SystemRandomNumberGenerator()
        let logs = TemporaryDirectory("prior-kills")
        var killed = 0
        let runs = Torture.kills(default: 6)
        for _ in 0..<runs {
            let process = try ExecutableRunner.start("prior", ["train", "--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_STEP_DELAY_MS": "15"], logDirectory: logs.path)
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.3, using: &rng))
            if process.signal(SIGKILL) { killed += 1 }
            process.waitUntilExit()
        }
        let finish = try ExecutableRunner.run("prior", ["train", "--pipeline", pipeline, "--quiet"])
        #expect(finish.status == 0, "\(finish.stderr)")
        func curve(_ build: String) throws -> [String] {
            try Catalog(path: dir.appending(build + "/catalog.sqlite"), readOnly: true).database
                .query("SELECT step, loss, mse, info_nce, learning_rate, grad_norm FROM train_steps ORDER BY step")
                .map { row in (0..<6).map { k in row[k].double.map { String($0.bitPattern, radix: 16) } ?? "\(row[k].int ?? -1)" }.joined(separator: " ") }
        }
        let resumed = try curve("build"), uninterrupted = try curve("reference-build")
        #expect(resumed.count == 30 && resumed == uninterrupted)
        func evals(_ build: String) throws -> [String] {
            try Catalog(path: dir.appending(build + "/catalog.sqlite"), readOnly: true).database
                .query("SELECT step, mse, cosine, top1 FROM train_evals ORDER BY step").map { "\($0[0].int ?? 0) \($0[1].double ?? 0) \($0[2].double ?? 0) \($0[3].double ?? 0)" }
        }
        #expect(try evals("build") == (try evals("reference-build")))
        let last = PriorCheckpoint.folderName(step: 30) + "/" + PriorTransformer.weightsFileName
        #expect(FileManager.default.contents(atPath: dir.appending("build/checkpoints/prior/" + last))
                == FileManager.default.contents(atPath: dir.appending("reference-build/checkpoints/prior/" + last)))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: dir.appending("build/checkpoints/prior"))) ?? []
        #expect(leftovers.allSatisfy { $0.hasPrefix("step-") })
        Torture.record(stage: "prior train", kills: killed, runs: runs)
        print("prior crash test: \(killed) of \(runs) runs killed mid-flight; 30 steps equal bit for bit")
    }

    @Test func microBatchesGiveTheWholeBatchGradient() throws {
        var config = PriorConfig(heads: 2, headDim: 8, layers: 2, embeddingDim: 24)
        config.embeddingProjDim = nil
        let model = try PriorTransformer(config: config, seed: 11)
        var rng = SplitMix64(seed: 5)
        let n = 7
        func randn(_ count: Int) -> [Float] { (0..<count).map { _ in rng.nextGaussian() } }
        let inputs = PriorBatch(size: n, text: randn(n * 77 * 24), textMask: (0..<(n * 77)).map { $0 % 77 < 3 + $0 / 77 * 9 ? 1 : 0 },
                                pooled: randn(n * 24), control: randn(n * 24), noise: randn(n * 24))
        let batch = ShardBatches.Batch(inputs: inputs, target: randn(n * 24), sampleIDs: (0..<n).map(String.init))
        var whole = [Float](repeating: 0, count: model.parameters.count), parts = whole
        let a = try PriorTrainer.accumulate(model, batch: batch, loss: PriorLoss(), microBatch: 0, into: &whole)
        let b = try PriorTrainer.accumulate(model, batch: batch, loss: PriorLoss(), microBatch: 3, into: &parts)
        #expect(abs(a.total - b.total) < 1e-6 * abs(a.total))
        #expect(PriorGradientTests.relativeError(parts, whole) < 1e-5)
    }

    @Test func trainingWithoutShardsSaysWhatToRun() throws {
        let dir = TemporaryDirectory("prior-empty")
        _ = try SampleWriter(seed: 29, output: dir.appending("sample"), perLayout: 1, defects: false).write()
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 8)
        #expect(try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let run = try ExecutableRunner.run("prior", ["train", "--pipeline", pipeline])
        #expect(run.status != 0 && run.stderr.contains("run the shard stage first"), "\(run.stderr)")
    }
}
