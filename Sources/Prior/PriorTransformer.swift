import Foundation
import Tensor

/// The λ-ECLIPSE prior (diffusers' `PriorTransformer` without the time embedding), with its
/// forward pass and its backward pass written out.
///
/// One pass: the text states, control, pooled text and noise are projected to the inner width, the
/// prd token is appended, the learned positional embedding added, then `numLayers` pre-norm blocks
/// (self-attention with the causal plus key-padding mask, GELU feed-forward) run; the prediction is
/// `proj_to_clip_embeddings(norm_out(prd token))`. `clip_mean`/`clip_std` are kept but not applied,
/// as in the λ-ECLIPSE pipeline.
public final class PriorTransformer: @unchecked Sendable {
    // @unchecked: `parameters` is only mutated by the owner between passes.
    public let config: PriorConfig
    public let layout: PriorLayout
    /// Every tensor, flat, in `layout` order.
    public var parameters: [Float]
    /// Buffers kept between training steps (activations handed back with `recycle`, and the
    /// backward pass's scratch), so a step allocates nothing large.
    private var spare: Activations?
    private var scratch: [[Float]] = []

    static let eps: Float = 1e-5

    public init(config: PriorConfig, parameters: [Float]) throws {
        try config.validate()
        self.config = config
        layout = PriorLayout(config)
        guard parameters.count == layout.count else {
            throw PriorError(.badCheckpoint, "\(parameters.count) parameter values; this config has \(layout.count)")
        }
        self.parameters = parameters
    }

    /// A freshly initialised prior: PyTorch's default `Linear` init (uniform ±1/√fan-in for weight
    /// and bias), LayerNorm ones and zeros, and zero positional / prd embeddings, as diffusers
    /// creates them; drawn from `seed`.
    public convenience init(config: PriorConfig, seed: UInt64) throws {
        let layout = PriorLayout(config)
        var values = [Float](repeating: 0, count: layout.count)
        var rng = SplitMix64(seed: seed)
        for tensor in layout.tensors {
            let range = tensor.offset..<(tensor.offset + tensor.count)
            if tensor.name.contains("norm") && tensor.name.hasSuffix(".weight") {
                for i in range { values[i] = 1 }
            } else if tensor.name.contains("norm") || tensor.name == "positional_embedding" || tensor.name == "prd_embedding"
                        || tensor.name.hasPrefix("clip_") {
                continue
            } else {
                // The fan-in of a Linear's weight and bias is the weight's second dimension.
                let base = tensor.name.hasSuffix(".bias") ? String(tensor.name.dropLast(5)) + ".weight" : tensor.name
                let fanIn = layout[base]?.shape.last ?? tensor.shape.last ?? 1
                let bound = 1 / Float(fanIn).squareRoot()
                for i in range { values[i] = (rng.nextUnit() * 2 - 1) * bound }
            }
        }
        try self.init(config: config, parameters: values)
    }

    // MARK: Activations kept for the backward pass

    struct LayerCache {
        var x: [Float] = [], xhat1: [Float] = [], rstd1: [Float] = [], h1: [Float] = []
        var q: [Float] = [], k: [Float] = [], v: [Float] = [], probs: [Float] = [], attn: [Float] = []
        var x1: [Float] = [], xhat3: [Float] = [], rstd3: [Float] = [], h3: [Float] = [], u: [Float] = [], g: [Float] = []
    }

    /// What `forward(_:keep:)` keeps for `backward`.
    public struct Activations {
        var layers: [LayerCache] = []
        var xhatOut: [Float] = [], rstdOut: [Float] = [], yOut: [Float] = []
        var batch: PriorBatch
        /// Backward-pass buffers, kept for the next step.
        var scratch: [[Float]] = []

        public init(batch: PriorBatch) { self.batch = batch }
    }

    /// Makes `buffer` hold `count` values, reallocating only when its size differs (contents are
    /// left as they are: every user overwrites the whole buffer).
    static func ensure(_ buffer: inout [Float], _ count: Int) {
        if buffer.count != count { buffer = [Float](repeating: 0, count: count) }
    }

    /// The single-token inputs after the text: (sequence position, input of the batch, its width,
    /// the Linear's weight and bias offsets) for control (λ-ECLIPSE only), pooled text and noise.
    func tokenInputs(_ batch: PriorBatch) -> [(token: Int, input: [Float], width: Int, weight: Int, bias: Int)] {
        let L = layout
        var inputs: [(token: Int, input: [Float], width: Int, weight: Int, bias: Int)] = []
        if config.hasControl { inputs.append((0, batch.control, config.projDim, L.controlWeight, L.controlBias)) }
        inputs.append((0, batch.pooled, config.projDim, L.embeddingProjWeight, L.embeddingProjBias))
        inputs.append((0, batch.noise, config.embeddingDim, L.projInWeight, L.projInBias))
        for k in inputs.indices { inputs[k].token = config.numEmbeddings + k }
        return inputs
    }

    /// Predicted image embeddings [batch, outputDim].
    public func predict(_ batch: PriorBatch) throws -> [Float] {
        try batch.validate(config)
        return forward(batch, keep: nil)
    }

    /// The forward pass; with `keep`, the activations the backward pass needs are stored there.
    func forward(_ batch: PriorBatch, keep: UnsafeMutablePointer<Activations>?) -> [Float] {
        let n = batch.size, t = config.tokens, d = config.innerDim, e = config.embeddingDim
        let nE = config.numEmbeddings, f = 4 * d, h = config.numAttentionHeads, rows = n * t, c = config.outputDim
        let L = layout
        return parameters.withUnsafeBufferPointer { pb in
            let w = pb.baseAddress!
            // Input sequence.
            var x = [Float](repeating: 0, count: rows * d)
            x.withUnsafeMutableBufferPointer { xb in
                let xp = xb.baseAddress!
                batch.text.withUnsafeBufferPointer { tb in
                    for b in 0..<n {
                        PriorKernels.linear(tb.baseAddress! + b * nE * e, rows: nE, inputs: e, ldx: e, weight: w + L.encoderProjWeight,
                                            bias: w + L.encoderProjBias, outputs: d, into: xp + b * t * d, ldy: d)
                    }
                }
                for item in tokenInputs(batch) {
                    item.input.withUnsafeBufferPointer {
                        PriorKernels.linear($0.baseAddress!, rows: n, inputs: item.width, ldx: item.width, weight: w + item.weight,
                                            bias: w + item.bias, outputs: d, into: xp + item.token * d, ldy: t * d)
                    }
                }
                for b in 0..<n {
                    (xp + (b * t + t - 1) * d).update(from: w + L.prd, count: d)
                    let seq = xp + b * t * d
                    for i in 0..<(t * d) { seq[i] += w[L.positional + i] }
                }
            }
            // Buffers are reused: a training step's activations from the previous step (when the
            // caller passes them back), or one set shared by every layer when nothing is kept.
            var shared = LayerCache()
            for (l, block) in L.blocks.enumerated() {
                var cache: LayerCache
                if let keep, l < keep.pointee.layers.count {
                    cache = keep.pointee.layers[l]
                    keep.pointee.layers[l] = LayerCache()       // drop the second reference: no copy on write
                } else if keep != nil {
                    cache = LayerCache()
                } else {
                    cache = shared
                    shared = LayerCache()
                }
                Self.ensure(&cache.x, rows * d)
                cache.x.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: x, count: rows * d) }
                Self.ensure(&cache.xhat1, rows * d)
                Self.ensure(&cache.rstd1, rows)
                Self.ensure(&cache.h1, rows * d)
                PriorKernels.layerNorm(cache.x, rows: rows, width: d, weight: w + block.norm1Weight, bias: w + block.norm1Bias,
                                       eps: Self.eps, xhat: &cache.xhat1, rstd: &cache.rstd1, y: &cache.h1)
                Self.ensure(&cache.q, rows * d)
                Self.ensure(&cache.k, rows * d)
                Self.ensure(&cache.v, rows * d)
                PriorKernels.linear(cache.h1, rows: rows, inputs: d, ldx: d, weight: w + block.toQWeight, bias: w + block.toQBias,
                                    outputs: d, into: &cache.q, ldy: d)
                PriorKernels.linear(cache.h1, rows: rows, inputs: d, ldx: d, weight: w + block.toKWeight, bias: w + block.toKBias,
                                    outputs: d, into: &cache.k, ldy: d)
                PriorKernels.linear(cache.h1, rows: rows, inputs: d, ldx: d, weight: w + block.toVWeight, bias: w + block.toVBias,
                                    outputs: d, into: &cache.v, ldy: d)
                Self.ensure(&cache.probs, n * h * t * t)
                Self.ensure(&cache.attn, rows * d)
                batch.textMask.withUnsafeBufferPointer { mb in
                    PriorKernels.attention(q: cache.q, k: cache.k, v: cache.v, batch: n, tokens: t, heads: h,
                                           headDim: config.attentionHeadDim, textTokens: nE, textMask: mb.baseAddress!,
                                           probs: &cache.probs, out: &cache.attn)
                }
                // x1 = x + to_out(attn)
                Self.ensure(&cache.x1, rows * d)
                PriorKernels.linear(cache.attn, rows: rows, inputs: d, ldx: d, weight: w + block.toOutWeight,
                                    bias: w + block.toOutBias, outputs: d, into: &cache.x1, ldy: d)
                PriorKernels.add(cache.x, into: &cache.x1, count: rows * d)
                Self.ensure(&cache.xhat3, rows * d)
                Self.ensure(&cache.rstd3, rows)
                Self.ensure(&cache.h3, rows * d)
                PriorKernels.layerNorm(cache.x1, rows: rows, width: d, weight: w + block.norm3Weight, bias: w + block.norm3Bias,
                                       eps: Self.eps, xhat: &cache.xhat3, rstd: &cache.rstd3, y: &cache.h3)
                Self.ensure(&cache.u, rows * f)
                PriorKernels.linear(cache.h3, rows: rows, inputs: d, ldx: d, weight: w + block.ff1Weight, bias: w + block.ff1Bias,
                                    outputs: f, into: &cache.u, ldy: f)
                Self.ensure(&cache.g, rows * f)
                PriorKernels.gelu(cache.u, count: rows * f, into: &cache.g)
                // x = x1 + ff(g)
                PriorKernels.linear(cache.g, rows: rows, inputs: f, ldx: f, weight: w + block.ff2Weight, bias: w + block.ff2Bias,
                                    outputs: d, into: &x, ldy: d)
                PriorKernels.add(cache.x1, into: &x, count: rows * d)
                if let keep {
                    if l < keep.pointee.layers.count { keep.pointee.layers[l] = cache } else { keep.pointee.layers.append(cache) }
                } else {
                    shared = cache
                }
            }
            // Output: norm_out and the projection of the prd (last) token.
            var last = [Float](repeating: 0, count: n * d)
            for b in 0..<n { for i in 0..<d { last[b * d + i] = x[(b * t + t - 1) * d + i] } }
            var xhat = [Float](repeating: 0, count: n * d), rstd = [Float](repeating: 0, count: n), y = [Float](repeating: 0, count: n * d)
            PriorKernels.layerNorm(last, rows: n, width: d, weight: w + L.normOutWeight, bias: w + L.normOutBias, eps: Self.eps,
                                   xhat: &xhat, rstd: &rstd, y: &y)
            var out = [Float](repeating: 0, count: n * c)
            PriorKernels.linear(y, rows: n, inputs: d, ldx: d, weight: w + L.outWeight, bias: w + L.outBias, outputs: c,
                                into: &out, ldy: c)
            if keep != nil {
                keep!.pointee.xhatOut = xhat
                keep!.pointee.rstdOut = rstd
                keep!.pointee.yOut = y
            }
            return out
        }
    }

    /// The forward pass keeping what `backward` needs.
    public func forwardForTraining(_ batch: PriorBatch) throws -> (prediction: [Float], activations: Activations) {
        var activations = spare ?? Activations(batch: batch)
        spare = nil
        let prediction = try forwardForTraining(batch, reusing: &activations)
        return (prediction, activations)
    }

    /// Hands activations back after `backward` so the next `forwardForTraining` reuses their buffers.
    public func recycle(_ activations: consuming Activations) {
        spare = activations
    }

    /// The forward pass keeping what `backward` needs in `activations`, whose buffers (from an
    /// earlier step of the same shape) are reused rather than allocated again.
    public func forwardForTraining(_ batch: PriorBatch, reusing activations: inout Activations) throws -> [Float] {
        try batch.validate(config)
        activations.batch = batch
        return withUnsafeMutablePointer(to: &activations) { forward(batch, keep: $0) }
    }

    /// Adds d(loss)/d(parameters) to `gradients` (same layout as `parameters`) given
    /// d(loss)/d(prediction) [batch, outputDim].
    public func backward(_ activations: Activations, outputGradient: [Float], into gradients: inout [Float]) {
        precondition(gradients.count == parameters.count, "gradient buffer size")
        let batch = activations.batch
        let n = batch.size, t = config.tokens, d = config.innerDim, e = config.embeddingDim
        let nE = config.numEmbeddings, f = 4 * d, h = config.numAttentionHeads, rows = n * t, c = config.outputDim
        let L = layout
        precondition(outputGradient.count == n * c, "output gradient shape")
        parameters.withUnsafeBufferPointer { pb in
            gradients.withUnsafeMutableBufferPointer { gb in
                let w = pb.baseAddress!, g = gb.baseAddress!
                // Output projection and norm_out on the prd rows.
                var dy = [Float](repeating: 0, count: n * d)
                PriorKernels.linearBackward(outputGradient, rows: n, outputs: c, ldy: c, x: activations.yOut, inputs: d, ldx: d,
                                            weight: w + L.outWeight, dWeight: g + L.outWeight, dBias: g + L.outBias,
                                            dx: &dy, ldDx: d, accumulate: false)
                var dLast = [Float](repeating: 0, count: n * d)
                PriorKernels.layerNormBackward(dy, rows: n, width: d, xhat: activations.xhatOut, rstd: activations.rstdOut,
                                               weight: w + L.normOutWeight, dWeight: g + L.normOutWeight,
                                               dBias: g + L.normOutBias, dx: &dLast)
                var dx = [Float](repeating: 0, count: rows * d)
                for b in 0..<n { for i in 0..<d { dx[(b * t + t - 1) * d + i] = dLast[b * d + i] } }

                var buffers = scratch
                scratch = []
                if buffers.count != 6 || buffers[0].count != rows * f || buffers[1].count != rows * d {
                    buffers = [[Float](repeating: 0, count: rows * f)] + (0..<5).map { _ in [Float](repeating: 0, count: rows * d) }
                }
                defer { scratch = buffers }
                var dTmp = buffers[0], dh = buffers[1], dq = buffers[2], dk = buffers[3], dv = buffers[4], dAttn = buffers[5]
                buffers = []
                defer { buffers = [dTmp, dh, dq, dk, dv, dAttn] }
                for (l, block) in L.blocks.enumerated().reversed() {
                    let cache = activations.layers[l]
                    // Feed-forward: x2 = x1 + W2·gelu(W1·LN3(x1)).
                    PriorKernels.linearBackward(dx, rows: rows, outputs: d, ldy: d, x: cache.g, inputs: f, ldx: f,
                                                weight: w + block.ff2Weight, dWeight: g + block.ff2Weight, dBias: g + block.ff2Bias,
                                                dx: &dTmp, ldDx: f, accumulate: false)
                    PriorKernels.geluBackward(cache.u, count: rows * f, gradient: &dTmp)
                    PriorKernels.linearBackward(dTmp, rows: rows, outputs: f, ldy: f, x: cache.h3, inputs: d, ldx: d,
                                                weight: w + block.ff1Weight, dWeight: g + block.ff1Weight, dBias: g + block.ff1Bias,
                                                dx: &dh, ldDx: d, accumulate: false)
                    // dx now holds d/dx1 from the residual; add the LN3 path.
                    PriorKernels.layerNormBackward(dh, rows: rows, width: d, xhat: cache.xhat3, rstd: cache.rstd3,
                                                   weight: w + block.norm3Weight, dWeight: g + block.norm3Weight,
                                                   dBias: g + block.norm3Bias, dx: &dx)
                    // Attention: x1 = x + Wo·attn(LN1(x)).
                    PriorKernels.linearBackward(dx, rows: rows, outputs: d, ldy: d, x: cache.attn, inputs: d, ldx: d,
                                                weight: w + block.toOutWeight, dWeight: g + block.toOutWeight,
                                                dBias: g + block.toOutBias, dx: &dAttn, ldDx: d, accumulate: false)
                    PriorKernels.attentionBackward(dOut: dAttn, q: cache.q, k: cache.k, v: cache.v, probs: cache.probs, batch: n,
                                                   tokens: t, heads: h, headDim: config.attentionHeadDim, dq: &dq, dk: &dk, dv: &dv)
                    PriorKernels.linearBackward(dq, rows: rows, outputs: d, ldy: d, x: cache.h1, inputs: d, ldx: d,
                                                weight: w + block.toQWeight, dWeight: g + block.toQWeight, dBias: g + block.toQBias,
                                                dx: &dh, ldDx: d, accumulate: false)
                    PriorKernels.linearBackward(dk, rows: rows, outputs: d, ldy: d, x: cache.h1, inputs: d, ldx: d,
                                                weight: w + block.toKWeight, dWeight: g + block.toKWeight, dBias: g + block.toKBias,
                                                dx: &dh, ldDx: d, accumulate: true)
                    PriorKernels.linearBackward(dv, rows: rows, outputs: d, ldy: d, x: cache.h1, inputs: d, ldx: d,
                                                weight: w + block.toVWeight, dWeight: g + block.toVWeight, dBias: g + block.toVBias,
                                                dx: &dh, ldDx: d, accumulate: true)
                    PriorKernels.layerNormBackward(dh, rows: rows, width: d, xhat: cache.xhat1, rstd: cache.rstd1,
                                                   weight: w + block.norm1Weight, dWeight: g + block.norm1Weight,
                                                   dBias: g + block.norm1Bias, dx: &dx)
                }
                // Inputs: positional and prd embeddings, then the four projections.
                dx.withUnsafeBufferPointer { db in
                    let dp = db.baseAddress!
                    for b in 0..<n {
                        let seq = dp + b * t * d
                        for i in 0..<(t * d) { g[L.positional + i] += seq[i] }
                        for i in 0..<d { g[L.prd + i] += seq[(t - 1) * d + i] }
                    }
                    batch.text.withUnsafeBufferPointer { tb in
                        for b in 0..<n {
                            PriorKernels.linearBackward(dp + b * t * d, rows: nE, outputs: d, ldy: d, x: tb.baseAddress! + b * nE * e,
                                                        inputs: e, ldx: e, weight: w + L.encoderProjWeight,
                                                        dWeight: g + L.encoderProjWeight, dBias: g + L.encoderProjBias,
                                                        dx: nil, ldDx: 0, accumulate: false)
                        }
                    }
                    for item in tokenInputs(batch) {
                        item.input.withUnsafeBufferPointer {
                            PriorKernels.linearBackward(dp + item.token * d, rows: n, outputs: d, ldy: t * d, x: $0.baseAddress!,
                                                        inputs: item.width, ldx: item.width, weight: w + item.weight,
                                                        dWeight: g + item.weight, dBias: g + item.bias, dx: nil, ldDx: 0, accumulate: false)
                        }
                    }
                }
            }
        }
    }
}
