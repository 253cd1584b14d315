import ArgumentParser
import BuildConfig
import BuildSupport
import Catalog
import Formats
import Foundation
import Models
import Pipeline
import Prior
import PriorTraining
import Tensor

/// `prior`: train the λ-ECLIPSE prior on a build's shards, predict image embeddings with it, or
/// evaluate it on a split.
@main
struct PriorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prior",
        abstract: "Train, run and evaluate the λ-ECLIPSE prior (diffusers PriorTransformer layout).",
        discussion: StageCommandSupport.buildExitStatusHelp,
        subcommands: [Train.self, Predict.self, Evaluate.self, Init.self, Bench.self])

    static func fail(_ error: any Error, _ command: String) -> ExitCode {
        StageCommandSupport.report(error, command: "prior \(command)")
        return ExitCode(StageCommandSupport.exitCode(for: error))
    }

    /// Runs `body` with `threads` OpenBLAS threads when given (else OpenBLAS's default).
    static func withThreads(_ threads: Int?, _ body: () throws -> Void) throws {
        if let threads { try BLAS.withThreads(threads, body) } else { try body() }
    }
}

extension PriorCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train on the train split of a build's shards; resumes from the newest checkpoint.",
            discussion: "Settings come from the pipeline file's train: section (override with --set train.KEY=VALUE).\n\n"
                + StageCommandSupport.buildExitStatusHelp)

        @Option(help: "Pipeline config whose build to train on.") var pipeline: String
        @Option(name: .customLong("set"), help: "Override a setting, e.g. --set train.steps=200.") var overrides: [String] = []
        @Option(help: "Stop after this many steps in this process (the run resumes later).") var stopAfter: Int?
        @Option(help: "BLAS threads (default: every core).") var threads: Int?
        @Flag(help: "Print only the summary.") var quiet = false

        func run() throws {
            try PriorCommand.withThreads(threads) { try work() }
        }

        func work() throws {
            do {
                let config = try PipelineConfig.load(path: pipeline, overrides: overrides)
                let layout = BuildLayout(root: config.buildDir)
                let lock = try FileLock(path: layout.lock(forCatalog: layout.catalog), purpose: "prior train")
                defer { withExtendedLifetime(lock) {} }
                let catalog = try Catalog(path: layout.catalog)
                let trainer = PriorTrainer(pipeline: config, catalog: catalog) { line in if !quiet { print(line) } }
                trainer.stopAfterSteps = stopAfter
                let s = try trainer.run()
                print("prior train: run \(s.run), steps \(s.firstStep)→\(s.lastStep) of \(config.train.steps)"
                      + (s.resumedFrom.map { " (resumed after \($0))" } ?? "")
                      + String(format: ", %.2f samples/s", s.samplesPerSecond)
                      + (s.finalLoss.map { String(format: ", last loss %.6f", $0) } ?? "")
                      + (s.lastEval.map { String(format: "; val mse %.6f cosine %.4f top-1 %.3f", $0.mse, $0.cosine, $0.top1) } ?? ""))
                print("checkpoints: \(config.buildDir)/\(config.train.output)")
            } catch {
                throw PriorCommand.fail(error, "train")
            }
        }
    }

    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Predict CLIP image embeddings (what the Kandinsky 2.2 decoder takes) from interleaved shards.",
            discussion: """
                Reads interleaved_text, attention_mask, text_embeds and control_embeds from each shard and writes
                image_embeds [N, D] (f32) with the sample ids in the metadata. The noise input is drawn from --seed
                per row (as the λ-ECLIPSE pipeline draws randn).
                """ + "\n\n" + StageCommandSupport.buildExitStatusHelp)

        @Option(help: "Prior folder (config.json + diffusion_pytorch_model.safetensors).") var prior: String
        @Option(help: "Output safetensors file.") var output: String
        @Option(help: "Rows per forward pass.") var batch = 64
        @Option(help: "Seed of the noise input.") var seed = 0
        @Flag(help: "Use a zero noise input instead of random noise.") var zeroNoise = false
        @Option(help: "BLAS threads (default: every core).") var threads: Int?
        @Argument(help: "Shard files (.safetensors).") var shards: [String]

        func validate() throws {
            guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
            guard !shards.isEmpty else { throw ValidationError("give at least one shard") }
        }

        func run() throws {
            try PriorCommand.withThreads(threads) { try work() }
        }

        func work() throws {
            do {
                let model = try PriorTransformer.load(directory: prior)
                let c = model.config
                var embeds: [Float] = [], ids: [String] = []
                let started = Date()
                for path in shards {
                    let file = try SafetensorsFile(path: path)
                    let text = try file.floats(ShardSchema.Tensor.interleavedText.rawValue), pooled = try file.floats(ShardSchema.Tensor.textEmbeds.rawValue)
                    let n = text.shape[0]
                    guard text.shape == [n, c.numEmbeddings, c.embeddingDim], pooled.shape == [n, c.projDim] else {
                        throw PriorError(.badInput, "interleaved_text \(text.shape) / text_embeds \(pooled.shape) do not fit the prior's widths (\(c.embeddingDim), \(c.projDim))", path: path)
                    }
                    let mask = try file.bytes(ShardSchema.Tensor.attentionMask.rawValue)
                    let control = c.hasControl ? try file.floats(ShardSchema.Tensor.controlEmbeds.rawValue, shape: [n, c.projDim]).array : []
                    let rowIDs = file.metadata["sample_ids"]?.split(separator: ",").map(String.init) ?? []
                    for start in stride(from: 0, to: n, by: batch) {
                        let r = start..<min(n, start + batch)
                        var noise = [Float](repeating: 0, count: r.count * c.embeddingDim)
                        if !zeroNoise {
                            for (k, row) in r.enumerated() {
                                var rng = SplitMix64(seed: (UInt64(bitPattern: Int64(seed)) << 32) ^ UInt64(ids.count + row))
                                for i in 0..<c.embeddingDim { noise[k * c.embeddingDim + i] = rng.nextGaussian() }
                            }
                        }
                        let inputs = PriorBatch(
                            size: r.count,
                            text: text.values((r.lowerBound * c.numEmbeddings * c.embeddingDim)..<(r.upperBound * c.numEmbeddings * c.embeddingDim)),
                            textMask: Array(mask[(r.lowerBound * c.numEmbeddings)..<(r.upperBound * c.numEmbeddings)]),
                            pooled: pooled.values((r.lowerBound * c.projDim)..<(r.upperBound * c.projDim)),
                            control: c.hasControl ? Array(control[(r.lowerBound * c.projDim)..<(r.upperBound * c.projDim)]) : [],
                            noise: noise)
                        embeds += try model.predict(inputs)
                    }
                    ids += rowIDs.count == n ? rowIDs : (0..<n).map { "\(URL(fileURLWithPath: path).lastPathComponent)#\($0)" }
                }
                let bytes = Safetensors.serialize([Safetensors.Entry(name: "image_embeds", shape: [ids.count, c.outputDim], floats: embeds)],
                                                  metadata: ["sample_ids": ids.joined(separator: ","), "prior": prior])
                _ = try AtomicFile.write(bytes, to: output)
                let seconds = Date().timeIntervalSince(started)
                print(String(format: "prior predict: %d rows → %@ (image_embeds [%d, %d]) in %.2f s, %.1f rows/s",
                             ids.count, output, ids.count, c.outputDim, seconds, Double(ids.count) / max(seconds, 1e-9)))
            } catch {
                throw PriorCommand.fail(error, "predict")
            }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prior-only evaluation on a split: MSE, cosine, top-1/top-5 retrieval, CLIP-T in latent space.",
            discussion: StageCommandSupport.buildExitStatusHelp)

        @Option(help: "Pipeline config whose build to read.") var pipeline: String
        @Option(help: "Prior folder (default: the newest training checkpoint).") var prior: String?
        @Option(help: "Split: train or val.") var split = "val"
        @Option(help: "Rows per forward pass.") var batch = 32
        @Option(help: "Retrieval pool: the target is sought among this many rows' targets.") var pool = 1000
        @Option(help: "Folder for report.md and report.json.") var output: String?
        @Option(help: "BLAS threads (default: every core).") var threads: Int?

        func validate() throws {
            guard ["train", "val"].contains(split) else { throw ValidationError("--split is train or val") }
            guard batch >= 1, pool >= 1 else { throw ValidationError("--batch and --pool must be at least 1") }
        }

        func run() throws {
            try PriorCommand.withThreads(threads) { try work() }
        }

        func work() throws {
            do {
                let config = try PipelineConfig.load(path: pipeline)
                let folder = try prior ?? {
                    guard let newest = PriorCheckpoint.list(config.buildDir + "/" + config.train.output).first else {
                        throw PriorError(.noData, "no checkpoint under \(config.buildDir)/\(config.train.output): train first or pass --prior")
                    }
                    return newest.path
                }()
                let model = try PriorTransformer.load(directory: folder)
                let catalog = try Catalog(path: BuildLayout(root: config.buildDir).catalog, readOnly: true)
                let rows = try ShardBatches(catalog: catalog, buildDir: config.buildDir, split: split, seed: config.train.seed)
                guard rows.count > 0 else { throw PriorError(.noData, "the \(split) split has no rows") }
                let result = try PriorEvaluation.run(model, on: rows, batchSize: batch, pool: pool, prior: folder)
                print(result.markdown)
                if let output {
                    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    _ = try AtomicFile.write(Array(try encoder.encode(result)) + [10], to: output + "/report.json")
                    _ = try AtomicFile.write(result.markdown, to: output + "/report.md")
                    print("reports: \(output)/report.{md,json}")
                }
            } catch {
                throw PriorCommand.fail(error, "evaluate")
            }
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a freshly initialised prior folder (for tests and benchmarks).",
            discussion: StageCommandSupport.buildExitStatusHelp)

        @Option(help: "Output folder.") var output: String
        @Option var heads = 16
        @Option var headDim = 32
        @Option var layers = 10
        @Option(help: "CLIP width (bigG: 1280).") var embeddingDim = 1280
        @Option var seed = 0

        func run() throws {
            do {
                let model = try PriorTransformer(config: PriorConfig(heads: heads, headDim: headDim, layers: layers, embeddingDim: embeddingDim),
                                                 seed: UInt64(seed))
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                _ = try AtomicFile.write(try model.config.jsonText(), to: output + "/config.json")
                _ = try AtomicFile.write(Safetensors.serialize(model.weightEntries(), metadata: ["format": "pt"]),
                                         to: output + "/" + PriorTransformer.weightsFileName)
                print("prior init: \(output) (\(model.layout.count) parameters)")
            } catch {
                throw PriorCommand.fail(error, "init")
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time training steps (forward, backward, clipping, AdamW) on random inputs; prints samples/s.",
            discussion: StageCommandSupport.buildExitStatusHelp)

        @Option var heads = 16
        @Option var headDim = 32
        @Option var layers = 10
        @Option var embeddingDim = 1280
        @Option(help: "Samples per step.") var batch = 32
        @Option(help: "Timed steps (after one untimed).") var steps = 3
        @Option(help: "BLAS threads (default: every core).") var threads: Int?

        func run() throws {
            try PriorCommand.withThreads(threads) { try work() }
        }

        func work() throws {
            let model = try PriorTransformer(config: PriorConfig(heads: heads, headDim: headDim, layers: layers, embeddingDim: embeddingDim), seed: 1)
            let c = model.config
            var rng = SplitMix64(seed: 2)
            func randn(_ count: Int) -> [Float] { (0..<count).map { _ in rng.nextGaussian() } }
            let inputs = PriorBatch(size: batch, text: randn(batch * 77 * c.embeddingDim),
                                    textMask: (0..<(batch * 77)).map { $0 % 77 < 20 ? 1 : 0 }, pooled: randn(batch * c.projDim),
                                    control: randn(batch * c.projDim), noise: randn(batch * c.embeddingDim))
            let data = ShardBatches.Batch(inputs: inputs, target: randn(batch * c.outputDim), sampleIDs: [])
            var optimiser = AdamW(parameterCount: model.parameters.count)
            var times: [Double] = []
            var gradients = [Float](repeating: 0, count: model.parameters.count)
            let workspace = PriorWorkspace(config: model.config, batchSize: batch, training: true)
            var phases: [(forward: Double, backward: Double, update: Double)] = []
            for step in 0...steps {
                let started = Date()
                gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                let prediction = try model.forward(data.inputs, into: workspace)
                let forwardDone = Date()
                let value = PriorLoss().evaluate(prediction: prediction, target: data.target, text: data.inputs.pooled, batch: batch)
                model.backward(workspace, outputGradient: value.gradient, into: &gradients)
                let backwardDone = Date()
                clipGradientNorm(&gradients, maxNorm: 1)
                optimiser.update(&model.parameters, gradients: gradients, rate: 1e-5, layout: model.layout)
                if step > 0 {
                    times.append(Date().timeIntervalSince(started))
                    phases.append((forwardDone.timeIntervalSince(started), backwardDone.timeIntervalSince(forwardDone),
                                   Date().timeIntervalSince(backwardDone)))
                }
            }
            let seconds = times.sorted()[times.count / 2]
            let middle = phases.sorted { $0.forward + $0.backward + $0.update < $1.forward + $1.backward + $1.update }[phases.count / 2]
            print(String(format: "prior bench: %d parameters, batch %d, median step %.3f s (forward %.3f, loss + backward %.3f, clip + AdamW %.3f), %.2f samples/s",
                         model.layout.count, batch, seconds, middle.forward, middle.backward, middle.update, Double(batch) / seconds))
        }
    }
}
