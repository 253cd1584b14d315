import Foundation
import Tensor

/// The learning-rate schedule: linear warm-up from 0, then cosine decay to `minimum`
/// (diffusers' `get_cosine_schedule_with_warmup` with a floor). `rate(step:)` is the rate of the
/// optimiser update numbered `step` from 0, as PyTorch's LambdaLR gives it.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minimum: Double

    public init(peak: Double, warmupSteps: Int, totalSteps: Int, minimum: Double = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimum = minimum
    }

    public func rate(step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step) / Double(max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        let cosine = max(0, 0.5 * (1 + cos(Double.pi * min(progress, 1))))
        return minimum + (peak - minimum) * cosine
    }
}

/// AdamW (Loshchilov & Hutter) exactly as PyTorch's `torch.optim.AdamW` (non-fused, non-amsgrad):
/// decoupled decay `θ ← θ·(1 − lr·wd)`, then the bias-corrected Adam step. Decay applies only to
/// the tensors the layout marks (2-D weights); frozen tensors are left alone.
public struct AdamW: Sendable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 0.01
    /// First and second moments, in the parameters' layout.
    public var exponentialAverage: [Float]
    public var exponentialAverageSquared: [Float]
    /// Updates taken so far.
    public var step: Int = 0

    public init(parameterCount: Int, weightDecay: Double = 0.01, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        exponentialAverage = [Float](repeating: 0, count: parameterCount)
        exponentialAverageSquared = exponentialAverage
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// One update of `parameters` with `gradients` at learning rate `rate`.
    public mutating func update(_ parameters: inout [Float], gradients: [Float], rate: Double, layout: PriorLayout) {
        step += 1
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        let correction1 = 1 - pow(beta1, Double(step)), correction2 = 1 - pow(beta2, Double(step))
        let stepSize = Float(rate / correction1), root2 = Float(correction2.squareRoot())
        let decay = Float(1 - rate * weightDecay)
        let decayed = weightDecay != 0
        parameters.withUnsafeMutableBufferPointer { pb in
            gradients.withUnsafeBufferPointer { gb in
                exponentialAverage.withUnsafeMutableBufferPointer { mb in
                    exponentialAverageSquared.withUnsafeMutableBufferPointer { vb in
                        nonisolated(unsafe) let (p, g, m, v) = (pb.baseAddress!, gb.baseAddress!, mb.baseAddress!, vb.baseAddress!)
                        for tensor in layout.tensors where tensor.isTrainable {
                            let offset = tensor.offset, shrink = tensor.isDecayed && decayed
                            // Elementwise, so chunks on every core give the same result as one loop.
                            LayerOps.parallelChunks(tensor.count) { range in
                                for j in range {
                                    let i = offset + j
                                    if shrink { p[i] *= decay }
                                    let grad = g[i]
                                    m[i] += (grad - m[i]) * (1 - b1)          // PyTorch's lerp
                                    v[i] = v[i] * b2 + grad * grad * (1 - b2)
                                    let denominator = v[i].squareRoot() / root2 + eps
                                    p[i] -= stepSize * m[i] / denominator
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scales `gradients` so their global L2 norm is at most `maxNorm` (PyTorch's `clip_grad_norm_`:
/// factor `maxNorm / (norm + 1e-6)` clamped to 1). Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: inout [Float], maxNorm: Double) -> Double {
    var sum: Double = 0
    for g in gradients { sum += Double(g) * Double(g) }
    let norm = sum.squareRoot()
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 {
        let f = Float(factor)
        for i in gradients.indices { gradients[i] *= f }
    }
    return norm
}
