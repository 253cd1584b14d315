public import BuildConfig
import BuildSupport
public import Catalog
import Formats
import Foundation
public import Prior

/// Trains the prior on a build's shards (the `train:` settings of its pipeline file).
///
/// Each step takes the next `batch_size` rows of the train split in the epoch's shuffled order,
/// runs the forward and backward passes (in micro-batches when asked; the InfoNCE negatives are
/// always the whole batch), clips the gradient, and takes an AdamW step at the scheduled rate.
/// Every step's loss goes into the catalog (`train_steps`); each epoch's end (and every
/// `eval_every` steps) evaluates the val split (`train_evals`); checkpoints are written every
/// `checkpoint_every` steps (`checkpoints`). A killed run resumes from its newest checkpoint and,
/// because every batch, noise draw and dropout is a function of the step, repeats the same loss
/// curve bit for bit.
public final class PriorTrainer {
    public struct Summary: Sendable {
        public var run: String
        public var firstStep: Int
        public var lastStep: Int
        public var resumedFrom: Int?
        public var trainRows: Int
        public var valRows: Int
        public var finalLoss: Double?
        public var lastEval: PriorEvaluation?
        public var samplesPerSecond: Double
        public var parameters: Int
    }

    let pipeline: PipelineConfig
    let settings: TrainConfig
    let catalog: Catalog
    let log: (String) -> Void
    public var stopAfterSteps: Int?

    public init(pipeline: PipelineConfig, catalog: Catalog, log: @escaping (String) -> Void) {
        self.pipeline = pipeline
        settings = pipeline.train
        self.catalog = catalog
        self.log = log
    }

    var output: String { pipeline.buildDir + "/" + settings.output }

    /// The run's identity: the training settings and the train rows it reads.
    func runID(train: ShardBatches) throws -> String {
        var text = settings.canonicalJSON()
        text += "|rows:\(train.count)|text:\(train.textWidth)|proj:\(train.projWidth)"
        for digest in try catalog.shardDigests() { text += "|" + digest }
        return String(SHA256.hex(Array(text.utf8)).prefix(16))
    }

    func initialPrior(textWidth: Int, projWidth: Int) throws -> PriorTransformer {
        if !settings.prior.isEmpty {
            let prior = try PriorTransformer.load(directory: settings.prior)
            guard prior.config.embeddingDim == textWidth, prior.config.projDim == projWidth, prior.config.numEmbeddings == CLIPText.contextLength else {
                throw PriorError(.badInput, "the prior takes \(prior.config.embeddingDim)-wide text and \(prior.config.projDim)-wide embeddings; the shards hold \(textWidth) and \(projWidth)", path: settings.prior)
            }
            return prior
        }
        guard textWidth == projWidth else {
            throw PriorError(.badInput, "text states (\(textWidth)) and embeddings (\(projWidth)) differ in width; a fresh prior needs them equal")
        }
        var config = PriorConfig(heads: settings.heads, headDim: settings.headDim, layers: settings.layers, embeddingDim: textWidth)
        config.embeddingProjDim = nil
        return try PriorTransformer(config: config, seed: UInt64(bitPattern: Int64(settings.seed)))
    }

    var optimiserSettings: AdamW {
        AdamW(parameterCount: 0, weightDecay: settings.weightDecay, beta1: settings.adamBeta1, beta2: settings.adamBeta2,
              epsilon: settings.adamEpsilon)
    }

    /// The newest readable checkpoint of this run with its optimiser state and step, else a new
    /// prior (`train.prior`'s weights, or initialised) with a fresh optimiser.
    func resume(run: String, train: ShardBatches) throws -> (PriorTransformer, AdamW, Int?) {
        var optimiser = optimiserSettings
        for (step, path) in PriorCheckpoint.list(output) {
            do {
                let loaded = try PriorCheckpoint.read(path, settings: optimiserSettings)
                guard loaded.state.run == run else {
                    throw PriorError(.foreignCheckpoint, "belongs to training run \(loaded.state.run), not this one (\(run)): the train settings or shards changed; use another train.output", path: path)
                }
                return (loaded.prior, loaded.optimiser, step)
            } catch let error as PriorError where error.code == .badCheckpoint {
                log("warning: skipping checkpoint \(path): \(error.message)")
            }
        }
        let model = try initialPrior(textWidth: train.textWidth, projWidth: train.projWidth)
        optimiser.exponentialAverage = [Float](repeating: 0, count: model.parameters.count)
        optimiser.exponentialAverageSquared = optimiser.exponentialAverage
        return (model, optimiser, nil)
    }

    /// Writes a checkpoint, records it, and drops those beyond `train.keep_checkpoints`.
    func checkpoint(_ model: PriorTransformer, optimiser: AdamW, run: String, step: Int) throws {
        let written = try PriorCheckpoint.write(prior: model, optimiser: optimiser, run: run, seed: settings.seed, to: output)
        let relative = settings.output + "/" + PriorCheckpoint.folderName(step: step)
        try catalog.recordCheckpoint(run: run, step: step, path: relative, bytes: written.bytes, sha256: written.sha256)
        for (old, path) in PriorCheckpoint.list(output).dropFirst(settings.keepCheckpoints) {
            try? FileManager.default.removeItem(atPath: path)
            try catalog.forgetCheckpoint(run: run, step: old)
        }
    }

    public func run() throws -> Summary {
        let train = try ShardBatches(catalog: catalog, buildDir: pipeline.buildDir, split: "train", seed: settings.seed)
        guard train.count > 0 else {
            throw PriorError(.noData, "no train rows in the catalog: run the shard stage first (or lower shard.val_percent)")
        }
        let val = try ShardBatches(catalog: catalog, buildDir: pipeline.buildDir, split: "val", seed: settings.seed)
        let run = try runID(train: train)
        PriorCheckpoint.sweep(output)

        var (model, optimiser, resumedFrom) = try resume(run: run, train: train)
        let config = model.config
        let batchSize = min(settings.batchSize, train.count)
        let stepsPerEpoch = max(1, train.count / batchSize)
        let schedule = LearningRateSchedule(peak: settings.learningRate, warmupSteps: settings.warmupSteps,
                                            totalSteps: settings.steps, minimum: settings.minLearningRate)
        let loss = PriorLoss(lambda: settings.lambda, temperature: settings.temperature)
        let first = optimiser.step
        log("prior: run \(run), \(model.layout.count) parameters (\(config.numLayers) layers, \(config.numAttentionHeads)x\(config.attentionHeadDim)), "
            + "\(train.count) train / \(val.count) val rows, batch \(batchSize), \(stepsPerEpoch) steps per epoch"
            + (resumedFrom.map { ", resuming after step \($0)" } ?? ""))
        var finalLoss: Double?, lastEval: PriorEvaluation?
        let started = Date()
        var samples = 0
        var step = first
        var gradients: [Float] = []
        let workspaces = WorkspacePool()
        // Tests slow each step down to kill runs mid-flight (as ECLIPSE_UNIT_DELAY_MS does for stages).
        let delay = ProcessInfo.processInfo.environment["ECLIPSE_STEP_DELAY_MS"].flatMap(UInt32.init) ?? 0
        // A step line every 10 steps, and at least every 5 s between them (the stages' rhythm;
        // ECLIPSE_PROGRESS_INTERVAL seconds for tests), so a slow model never goes quiet.
        let rhythm = ProcessInfo.processInfo.environment["ECLIPSE_PROGRESS_INTERVAL"].flatMap(Double.init) ?? 5
        var lastLine = Date()
        while step < settings.steps {
            if delay > 0 { usleep(delay * 1000) }
            if let stop = stopAfterSteps, step - first >= stop { break }
            let epoch = step / stepsPerEpoch, index = step % stepsPerEpoch
            let rows = Array(try train.rows(epoch: epoch)[(index * batchSize)..<((index + 1) * batchSize)])
            let batch = try train.batch(rows, noiseStream: "train:\(epoch)", controlDropout: settings.controlDropout,
                                        noiseWidth: config.embeddingDim)
            if gradients.count != model.parameters.count { gradients = [Float](repeating: 0, count: model.parameters.count) } else {
                gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            let value = try Self.accumulate(model, batch: batch, loss: loss, microBatch: settings.microBatch, workspaces: workspaces,
                                             into: &gradients)
            guard value.total.isFinite else {
                throw PriorError(.diverged, "the loss is \(value.total) at step \(step); lower train.learning_rate")
            }
            let norm = settings.maxGradNorm > 0 ? clipGradientNorm(&gradients, maxNorm: settings.maxGradNorm)
                : gradients.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let rate = schedule.rate(step: step)
            optimiser.update(&model.parameters, gradients: gradients, rate: rate, layout: model.layout)
            step += 1
            samples += batchSize
            finalLoss = value.total
            try catalog.recordTrainStep(Catalog.TrainStep(run: run, step: step, epoch: epoch, samples: batchSize, loss: value.total,
                                                          mse: value.mse, infoNCE: value.infoNCE, learningRate: rate, gradNorm: norm))
            let epochEnds = step % stepsPerEpoch == 0
            if step == first + 1 || epochEnds || step == settings.steps || step % 10 == 0 || Date().timeIntervalSince(lastLine) >= rhythm {
                lastLine = Date()
                log(String(format: "step %d/%d epoch %d: loss %.6f (mse %.6f, infonce %.4f) lr %.3g |g| %.4f",
                           step, settings.steps, epoch, value.total, value.mse, value.infoNCE, rate, norm))
            }
            // Evaluation before the checkpoint, so a kill between them repeats both. Retrieval pools are
            // the batches, as training sees them.
            if val.count > 0 && (epochEnds || step == settings.steps || (settings.evalEvery > 0 && step % settings.evalEvery == 0)) {
                lastEval = try evaluate(model, on: val, run: run, step: step, epoch: epoch, batchSize: batchSize)
            }
            if step % settings.checkpointEvery == 0 || step == settings.steps {
                try checkpoint(model, optimiser: optimiser, run: run, step: step)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        return Summary(run: run, firstStep: first, lastStep: step, resumedFrom: resumedFrom, trainRows: train.count, valRows: val.count,
                       finalLoss: finalLoss, lastEval: lastEval, samplesPerSecond: seconds > 0 ? Double(samples) / seconds : 0,
                       parameters: model.layout.count)
    }

    /// Scores the prior on the validation split and records it. Retrieval pools are the batches.
    func evaluate(_ model: PriorTransformer, on val: ShardBatches, run: String, step: Int, epoch: Int,
                  batchSize: Int) throws -> PriorEvaluation {
        let metrics = try PriorEvaluation.run(model, on: val, batchSize: batchSize, pool: batchSize, prior: "run \(run) step \(step)")
        try catalog.recordTrainEval(run: run, step: step, epoch: epoch, split: "val", samples: metrics.rows, mse: metrics.mse,
                                    cosine: metrics.cosine, top1: metrics.top1)
        log(String(format: "epoch %d (step %d) val: mse %.6f, cosine %.4f, top-1 %.3f over %d rows (batches of %d)",
                   epoch, step, metrics.mse, metrics.cosine, metrics.top1, metrics.rows, batchSize))
        return metrics
    }

    /// Forward and backward over a batch, in micro-batches when `microBatch` is smaller than it:
    /// a first pass predicts every row (keeping nothing) so the loss sees the whole batch, then
    /// each micro-batch runs again keeping activations and back-propagates its share.
    /// - Parameter workspaces: the training workspaces of earlier steps, reused (one per row count).
    public static func accumulate(_ model: PriorTransformer, batch: ShardBatches.Batch, loss: PriorLoss, microBatch: Int,
                                  workspaces: WorkspacePool = WorkspacePool(), into gradients: inout [Float]) throws -> PriorLoss.Value {
        let n = batch.inputs.size, c = model.config.outputDim
        if microBatch <= 0 || microBatch >= n {
            let workspace = workspaces.workspace(model.config, rows: n)
            let prediction = try model.forward(batch.inputs, into: workspace)
            let value = loss.evaluate(prediction: prediction, target: batch.target, text: batch.inputs.pooled, batch: n)
            model.backward(workspace, outputGradient: value.gradient, into: &gradients)
            return value
        }
        let chunks = stride(from: 0, to: n, by: microBatch).map { $0..<min(n, $0 + microBatch) }
        var prediction: [Float] = []
        for range in chunks { prediction += try model.predict(batch.inputs.slice(range, model.config)) }
        let value = loss.evaluate(prediction: prediction, target: batch.target, text: batch.inputs.pooled, batch: n)
        for range in chunks {
            let workspace = workspaces.workspace(model.config, rows: range.count)
            _ = try model.forward(batch.inputs.slice(range, model.config), into: workspace)
            model.backward(workspace, outputGradient: Array(value.gradient[(range.lowerBound * c)..<(range.upperBound * c)]),
                           into: &gradients)
        }
        return value
    }

    /// Training workspaces by row count (the batch, a micro-batch, a last shorter one), each
    /// allocated on first use and kept, so a step allocates nothing large.
    public final class WorkspacePool {
        private var byRows: [Int: PriorWorkspace] = [:]

        public init() {}

        func workspace(_ config: PriorConfig, rows: Int) -> PriorWorkspace {
            if let kept = byRows[rows] { return kept }
            let made = PriorWorkspace(config: config, batchSize: rows, training: true)
            byRows[rows] = made
            return made
        }
    }
}
