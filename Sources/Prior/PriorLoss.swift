import Foundation

/// The λ-ECLIPSE training loss (eclipse.md §1.5): projection MSE plus λ times an InfoNCE term over
/// the batch that matches each predicted image embedding to its own pooled text embedding, the
/// other texts of the batch being the negatives.
///
/// Choices the paper leaves open, documented here and in docs/PRIOR.md:
/// - MSE is the mean over batch and width (PyTorch's `F.mse_loss`, as diffusers' prior training
///   script uses).
/// - InfoNCE compares L2-normalised vectors (cosine similarity) divided by τ, default τ = 0.07
///   (the usual InfoNCE / CLIP initial temperature); one direction, image to text, as the
///   paper's equation is written.
public struct PriorLoss: Sendable {
    public var lambda: Double
    public var temperature: Double

    public init(lambda: Double = 0.2, temperature: Double = 0.07) {
        self.lambda = lambda
        self.temperature = temperature
    }

    public struct Value: Sendable {
        public var total: Double
        public var mse: Double
        public var infoNCE: Double
        /// d(total)/d(prediction) [batch, width].
        public var gradient: [Float]
    }

    /// The loss of `prediction` against `target` with `text` as the contrastive partners (all [n, width]).
    public func evaluate(prediction: [Float], target: [Float], text: [Float], batch n: Int) -> Value {
        let width = prediction.count / max(n, 1)
        precondition(prediction.count == n * width && target.count == n * width && text.count == n * width, "loss shapes")
        var gradient = [Float](repeating: 0, count: n * width)
        // MSE.
        var mse: Double = 0
        let scale = 2 / Double(n * width)
        for i in 0..<(n * width) {
            let diff = Double(prediction[i]) - Double(target[i])
            mse += diff * diff
            gradient[i] = Float(scale * diff)
        }
        mse /= Double(n * width)
        guard lambda != 0 else { return Value(total: mse, mse: mse, infoNCE: 0, gradient: gradient) }
        // InfoNCE on cosine similarities, in double precision.
        func normalised(_ a: [Float]) -> (unit: [Double], norms: [Double]) {
            var unit = [Double](repeating: 0, count: a.count), norms = [Double](repeating: 0, count: n)
            for r in 0..<n {
                var s: Double = 0
                for i in 0..<width { s += Double(a[r * width + i]) * Double(a[r * width + i]) }
                let norm = max(s.squareRoot(), 1e-12)
                norms[r] = norm
                for i in 0..<width { unit[r * width + i] = Double(a[r * width + i]) / norm }
            }
            return (unit, norms)
        }
        let (p, pNorm) = normalised(prediction), (q, _) = normalised(text)
        var nce: Double = 0
        var dp = [Double](repeating: 0, count: n * width)
        for i in 0..<n {
            var logits = [Double](repeating: 0, count: n)
            for j in 0..<n {
                var s: Double = 0
                for k in 0..<width { s += p[i * width + k] * q[j * width + k] }
                logits[j] = s / temperature
            }
            let m = logits.max() ?? 0
            let sum = logits.reduce(0) { $0 + exp($1 - m) }
            nce += (m + log(sum)) - logits[i]
            // d/dlogits = (softmax − onehot)/n; d/dp_i = Σ_j that · q_j / τ.
            for j in 0..<n {
                let coefficient = (exp(logits[j] - m) / sum - (i == j ? 1 : 0)) / Double(n) / temperature
                for k in 0..<width { dp[i * width + k] += coefficient * q[j * width + k] }
            }
        }
        nce /= Double(n)
        // Through the normalisation: d/dx = (dp − p·(p·dp)) / |x|.
        for i in 0..<n {
            var dot: Double = 0
            for k in 0..<width { dot += p[i * width + k] * dp[i * width + k] }
            for k in 0..<width {
                gradient[i * width + k] += Float(lambda * (dp[i * width + k] - p[i * width + k] * dot) / pNorm[i])
            }
        }
        return Value(total: mse + lambda * nce, mse: mse, infoNCE: nce, gradient: gradient)
    }
}
