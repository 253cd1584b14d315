import BuildSupport
import Foundation

/// Settings of prior training (`prior train`), the `train:` section of a pipeline file.
///
/// The paper (eclipse.md §1.6) gives batch 2 x 512, peak rate 5e-5 and about 100,000 steps, but no
/// optimiser, schedule, warm-up or τ; the defaults below fill those in and docs/PRIOR.md says why.
public struct TrainConfig: Codable, Sendable, Equatable {
    /// A prior folder (config.json + weights) to start from; empty: a fresh prior of the sizes below.
    public var prior: String = ""
    /// Sizes of a fresh prior (the paper's: 16 heads x 32, 10 layers); its widths come from the shards.
    public var heads: Int = 16
    public var headDim: Int = 32
    public var layers: Int = 10
    /// Samples per optimiser step, and per forward/backward pass (0: the whole batch at once). The
    /// InfoNCE negatives are always the whole batch.
    public var batchSize: Int = 32
    public var microBatch: Int = 0
    /// Optimiser steps in all, and the linear warm-up at their start.
    public var steps: Int = 1000
    public var warmupSteps: Int = 100
    /// Peak and final learning rate (cosine decay between them after warm-up).
    public var learningRate: Double = 5e-5
    public var minLearningRate: Double = 0
    /// AdamW.
    public var weightDecay: Double = 0.01
    public var adamBeta1: Double = 0.9
    public var adamBeta2: Double = 0.999
    public var adamEpsilon: Double = 1e-8
    /// Global gradient-norm clip (0: none).
    public var maxGradNorm: Double = 1.0
    /// Loss = MSE + lambda · InfoNCE(τ = temperature).
    public var lambda: Double = 0.2
    public var temperature: Double = 0.07
    /// Fraction of samples whose control (Canny) embedding is replaced by the zero-image one.
    public var controlDropout: Double = 0.01
    /// Seed of the initial weights, the epoch order, the noise and the control dropout.
    public var seed: Int = 0
    /// Write a checkpoint every this many steps (and at the last step); keep the newest this many.
    public var checkpointEvery: Int = 100
    public var keepCheckpoints: Int = 3
    /// Evaluate on the val split at each epoch's end and every this many steps (0: epoch ends only).
    public var evalEvery: Int = 0
    /// Where checkpoints go, relative to the build directory.
    public var output: String = "checkpoints/prior"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prior, heads, headDim = "head_dim", layers, batchSize = "batch_size", microBatch = "micro_batch", steps
        case warmupSteps = "warmup_steps", learningRate = "learning_rate", minLearningRate = "min_learning_rate"
        case weightDecay = "weight_decay", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", adamEpsilon = "adam_epsilon"
        case maxGradNorm = "max_grad_norm", lambda, temperature, controlDropout = "control_dropout", seed
        case checkpointEvery = "checkpoint_every", keepCheckpoints = "keep_checkpoints", evalEvery = "eval_every", output
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(TrainConfig(), CodingKeys.self, [
            .field(.prior, \.prior), .field(.heads, \.heads), .field(.headDim, \.headDim),
            .field(.layers, \.layers), .field(.batchSize, \.batchSize), .field(.microBatch, \.microBatch),
            .field(.steps, \.steps), .field(.warmupSteps, \.warmupSteps), .field(.learningRate, \.learningRate),
            .field(.minLearningRate, \.minLearningRate), .field(.weightDecay, \.weightDecay),
            .field(.adamBeta1, \.adamBeta1), .field(.adamBeta2, \.adamBeta2),
            .field(.adamEpsilon, \.adamEpsilon), .field(.maxGradNorm, \.maxGradNorm), .field(.lambda, \.lambda),
            .field(.temperature, \.temperature), .field(.controlDropout, \.controlDropout),
            .field(.seed, \.seed), .field(.checkpointEvery, \.checkpointEvery),
            .field(.keepCheckpoints, \.keepCheckpoints), .field(.evalEvery, \.evalEvery),
            .field(.output, \.output),
        ])
    }

    /// The settings as canonical JSON (sorted keys): part of a training run's identity.
    public func canonicalJSON() -> String { ConfigLoader.canonicalJSON(self) }

    func validate() throws {
        func bad(_ key: String, _ why: String) -> PipelineError { PipelineError(.config, why, key: "train." + key) }
        guard heads >= 1, headDim >= 1, layers >= 1 else { throw bad("heads", "heads, head_dim and layers must be at least 1") }
        guard batchSize >= 1 else { throw bad("batch_size", "must be at least 1") }
        guard microBatch >= 0 else { throw bad("micro_batch", "must be 0 (whole batch) or more") }
        guard steps >= 1 else { throw bad("steps", "must be at least 1") }
        guard warmupSteps >= 0 else { throw bad("warmup_steps", "must be 0 or more") }
        guard learningRate > 0, minLearningRate >= 0, minLearningRate <= learningRate else {
            throw bad("learning_rate", "needs learning_rate > 0 and 0 <= min_learning_rate <= learning_rate")
        }
        guard (0..<1).contains(adamBeta1), (0..<1).contains(adamBeta2), adamEpsilon > 0, weightDecay >= 0 else {
            throw bad("adam_beta1", "betas must be in [0, 1), epsilon > 0 and weight_decay >= 0")
        }
        guard maxGradNorm >= 0 else { throw bad("max_grad_norm", "must be 0 (off) or more") }
        guard lambda >= 0, temperature > 0 else { throw bad("temperature", "needs lambda >= 0 and temperature > 0") }
        guard (0...1).contains(controlDropout) else { throw bad("control_dropout", "must be in [0, 1]") }
        guard checkpointEvery >= 1, keepCheckpoints >= 1 else { throw bad("checkpoint_every", "checkpoint_every and keep_checkpoints must be at least 1") }
        guard evalEvery >= 0 else { throw bad("eval_every", "must be 0 (epoch ends) or more") }
        guard !output.isEmpty, !output.hasPrefix("/"), !output.split(separator: "/").contains("..") else {
            throw bad("output", "must be a relative path inside the build directory")
        }
    }
}
