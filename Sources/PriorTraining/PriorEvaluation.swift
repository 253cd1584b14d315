import Foundation
public import Prior
import Tensor

/// Prior-only evaluation on a split: the predicted image embeddings against their targets (MSE,
/// cosine, retrieval of the target among a pool of the split's targets, top-1 and top-5) and CLIP-T
/// in latent space (cosine between the prediction and the caption's pooled text embedding, beside
/// the same for the true image embedding, its ceiling).
public struct PriorEvaluation: Codable, Sendable {
    public var split: String
    public var rows: Int
    /// Retrieval runs among consecutive pools of this many rows (the last may be smaller).
    public var pool: Int
    public var mse: Double
    public var cosine: Double
    public var top1: Double
    public var top5: Double
    /// Mean cosine(prediction, pooled text) and cosine(target, pooled text).
    public var latentCLIPT: Double
    public var latentCLIPTOfTargets: Double
    public var prior: String
    public var randomTargetCosine: Double

    enum CodingKeys: String, CodingKey {
        case split, rows, pool, mse, cosine, top1 = "top1", top5 = "top5", latentCLIPT = "latent_clip_t"
        case latentCLIPTOfTargets = "latent_clip_t_of_targets", prior, randomTargetCosine = "cosine_to_a_random_target"
    }

    /// Runs the prior over every row of `rows` in batches and scores it.
    public static func run(_ model: PriorTransformer, on rows: ShardBatches, batchSize: Int, pool: Int, prior: String) throws -> PriorEvaluation {
        let order = try rows.rows(epoch: 0)
        let c = model.config.outputDim
        var predictions: [Float] = [], targets: [Float] = [], texts: [Float] = []
        for start in stride(from: 0, to: order.count, by: max(1, batchSize)) {
            let chunk = Array(order[start..<min(order.count, start + batchSize)])
            let batch = try rows.batch(chunk, noiseStream: "eval", controlDropout: 0, noiseWidth: model.config.embeddingDim)
            predictions += try model.predict(batch.inputs)
            targets += batch.target
            texts += batch.inputs.pooled
        }
        let n = order.count
        func unit(_ a: [Float]) -> [Float] {
            var out = a
            for r in 0..<n {
                var s: Float = 0
                for i in 0..<c { s += a[r * c + i] * a[r * c + i] }
                let inv = 1 / max(s.squareRoot(), 1e-12)
                for i in 0..<c { out[r * c + i] *= inv }
            }
            return out
        }
        let p = unit(predictions), t = unit(targets), q = texts.count == predictions.count ? unit(texts) : []
        var mse: Double = 0
        for i in 0..<(n * c) { let d = Double(predictions[i]) - Double(targets[i]); mse += d * d }
        var cosine: Double = 0, clipT: Double = 0, clipTTargets: Double = 0, random: Double = 0
        var top1 = 0, top5 = 0
        let poolSize = max(1, min(pool, n))
        for start in stride(from: 0, to: n, by: poolSize) {
            let m = min(poolSize, n - start)
            var sims = [Float](repeating: 0, count: m * m)
            p.withUnsafeBufferPointer { pb in
                t.withUnsafeBufferPointer { tb in
                    BLAS.gemm(m: m, n: m, k: c, a: pb.baseAddress! + start * c, lda: c, transposeA: false,
                              b: tb.baseAddress! + start * c, ldb: c, transposeB: true, beta: 0, c: &sims, ldc: m)
                }
            }
            for i in 0..<m {
                let own = sims[i * m + i]
                cosine += Double(own)
                random += m > 1 ? Double(sims[i * m + (i + 1) % m]) : Double(own)
                var better = 0
                for j in 0..<m where j != i && sims[i * m + j] > own { better += 1 }
                if better == 0 { top1 += 1 }
                if better < 5 { top5 += 1 }
            }
        }
        if !q.isEmpty {
            for r in 0..<n {
                var a: Float = 0, b: Float = 0
                for i in 0..<c { a += p[r * c + i] * q[r * c + i]; b += t[r * c + i] * q[r * c + i] }
                clipT += Double(a)
                clipTTargets += Double(b)
            }
        }
        let count = Double(max(n, 1))
        return PriorEvaluation(split: rows.split, rows: n, pool: poolSize, mse: mse / (count * Double(c)), cosine: cosine / count,
                               top1: Double(top1) / count, top5: Double(top5) / count, latentCLIPT: clipT / count,
                               latentCLIPTOfTargets: clipTTargets / count, prior: prior, randomTargetCosine: random / count)
    }

    public var markdown: String {
        """
        # Prior-only evaluation (\(split) split, \(rows) rows)

        Prior: `\(prior)`

        | metric | value |
        |---|---|
        | MSE to the target image embedding | \(String(format: "%.6f", mse)) |
        | cosine to the target | \(String(format: "%.4f", cosine)) |
        | cosine to another row's target (chance level) | \(String(format: "%.4f", randomTargetCosine)) |
        | top-1 retrieval of the target among \(pool) | \(String(format: "%.3f", top1)) |
        | top-5 retrieval of the target among \(pool) | \(String(format: "%.3f", top5)) |
        | CLIP-T in latent space: cosine(prediction, caption text embedding) | \(String(format: "%.4f", latentCLIPT)) |
        | the same for the true image embedding (ceiling) | \(String(format: "%.4f", latentCLIPTOfTargets)) |

        Noise inputs are drawn per row from the training seed ("eval" stream); control embeddings are the
        shards' own (no dropout).

        """
    }
}
