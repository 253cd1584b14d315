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

    // MARK: Forward

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
        try forward(batch, into: PriorWorkspace(config: config, batchSize: batch.size, training: false))
    }

    /// The forward pass in `workspace` (a training workspace keeps what `backward` needs).
    /// - Returns: the predicted image embeddings [batch, outputDim].
    /// - Throws: ``PriorError`` for a batch whose shapes do not fit the config or the workspace.
    public func forward(_ batch: PriorBatch, into workspace: PriorWorkspace) throws -> [Float] {
        try batch.validate(config)
        guard batch.size == workspace.batchSize else {
            throw PriorError(.badInput, "a batch of \(batch.size) in a workspace for \(workspace.batchSize)")
        }
        workspace.batch = batch
        return parameters.withUnsafeBufferPointer { pb in
            let w = pb.baseAddress!
            embedInputs(batch, weights: w, into: workspace.stream)
            for l in layout.blocks.indices { runBlock(l, batch: batch, weights: w, workspace: workspace) }
            return output(batch.size, weights: w, workspace: workspace)
        }
    }

    /// The input sequence: projected text states, the single-token inputs, the prd token, plus
    /// the positional embedding.
    func embedInputs(_ batch: PriorBatch, weights w: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        let n = batch.size, t = config.tokens, d = config.innerDim, e = config.embeddingDim, nE = config.numEmbeddings
        let L = layout
        x.update(repeating: 0, count: n * t * d)
        batch.text.withUnsafeBufferPointer { tb in
            for b in 0..<n {
                PriorKernels.linear(tb.baseAddress! + b * nE * e, rows: nE, inputs: e, ldx: e, weight: w + L.encoderProjWeight,
                                    bias: w + L.encoderProjBias, outputs: d, into: x + b * t * d, ldy: d)
            }
        }
        for item in tokenInputs(batch) {
            item.input.withUnsafeBufferPointer {
                PriorKernels.linear($0.baseAddress!, rows: n, inputs: item.width, ldx: item.width, weight: w + item.weight,
                                    bias: w + item.bias, outputs: d, into: x + item.token * d, ldy: t * d)
            }
        }
        for b in 0..<n {
            (x + (b * t + t - 1) * d).update(from: w + L.prd, count: d)
            let seq = x + b * t * d
            for i in 0..<(t * d) { seq[i] += w[L.positional + i] }
        }
    }

    /// Block `l` on the residual stream: x1 = x + to_out(attn(norm1(x))), x = x1 + ff(norm3(x1)).
    func runBlock(_ l: Int, batch: PriorBatch, weights w: UnsafePointer<Float>, workspace: PriorWorkspace) {
        let n = batch.size, t = config.tokens, d = config.innerDim, f = 4 * d, rows = n * t
        let block = layout.blocks[l], a = workspace.block(l), x = workspace.stream
        a.x.update(from: x, count: rows * d)
        PriorKernels.layerNorm(a.x, rows: rows, width: d, weight: w + block.norm1Weight, bias: w + block.norm1Bias,
                               eps: Self.eps, xhat: a.xhat1, rstd: a.rstd1, y: a.h1)
        for (weight, bias, into) in [(block.toQWeight, block.toQBias, a.q), (block.toKWeight, block.toKBias, a.k),
                                     (block.toVWeight, block.toVBias, a.v)] {
            PriorKernels.linear(a.h1, rows: rows, inputs: d, ldx: d, weight: w + weight, bias: w + bias, outputs: d, into: into, ldy: d)
        }
        batch.textMask.withUnsafeBufferPointer { mb in
            PriorKernels.attention(q: a.q, k: a.k, v: a.v, batch: n, tokens: t, heads: config.numAttentionHeads,
                                   headDim: config.attentionHeadDim, textTokens: config.numEmbeddings, textMask: mb.baseAddress!,
                                   probs: a.probs, out: a.attn)
        }
        PriorKernels.linear(a.attn, rows: rows, inputs: d, ldx: d, weight: w + block.toOutWeight, bias: w + block.toOutBias,
                            outputs: d, into: a.x1, ldy: d)
        PriorKernels.add(a.x, into: a.x1, count: rows * d)
        PriorKernels.layerNorm(a.x1, rows: rows, width: d, weight: w + block.norm3Weight, bias: w + block.norm3Bias,
                               eps: Self.eps, xhat: a.xhat3, rstd: a.rstd3, y: a.h3)
        PriorKernels.linear(a.h3, rows: rows, inputs: d, ldx: d, weight: w + block.ff1Weight, bias: w + block.ff1Bias,
                            outputs: f, into: a.u, ldy: f)
        PriorKernels.gelu(a.u, count: rows * f, into: a.g)
        PriorKernels.linear(a.g, rows: rows, inputs: f, ldx: f, weight: w + block.ff2Weight, bias: w + block.ff2Bias,
                            outputs: d, into: x, ldy: d)
        PriorKernels.add(a.x1, into: x, count: rows * d)
    }

    /// `proj_to_clip_embeddings(norm_out(prd token))`.
    func output(_ n: Int, weights w: UnsafePointer<Float>, workspace s: PriorWorkspace) -> [Float] {
        let t = config.tokens, d = config.innerDim, c = config.outputDim, L = layout
        for b in 0..<n { (s.last + b * d).update(from: s.stream + (b * t + t - 1) * d, count: d) }
        PriorKernels.layerNorm(s.last, rows: n, width: d, weight: w + L.normOutWeight, bias: w + L.normOutBias, eps: Self.eps,
                               xhat: s.xhatOut, rstd: s.rstdOut, y: s.yOut)
        var out = [Float](repeating: 0, count: n * c)
        out.withUnsafeMutableBufferPointer {
            PriorKernels.linear(s.yOut, rows: n, inputs: d, ldx: d, weight: w + L.outWeight, bias: w + L.outBias, outputs: c,
                                into: $0.baseAddress!, ldy: c)
        }
        return out
    }

    // MARK: Backward

    /// Adds d(loss)/d(parameters) to `gradients` (same layout as `parameters`) given
    /// d(loss)/d(prediction) [batch, outputDim] of the last `forward` through `workspace`.
    public func backward(_ workspace: PriorWorkspace, outputGradient: [Float], into gradients: inout [Float]) {
        precondition(workspace.isTraining, "backward needs a training workspace")
        guard let batch = workspace.batch else { preconditionFailure("backward before forward") }
        precondition(gradients.count == parameters.count, "gradient buffer size")
        let n = batch.size, t = config.tokens, d = config.innerDim, c = config.outputDim, L = layout, s = workspace
        precondition(outputGradient.count == n * c, "output gradient shape")
        parameters.withUnsafeBufferPointer { pb in
            gradients.withUnsafeMutableBufferPointer { gb in
                let w = pb.baseAddress!, g = gb.baseAddress!
                // Output projection and norm_out on the prd rows.
                outputGradient.withUnsafeBufferPointer {
                    PriorKernels.linearBackward($0.baseAddress!, rows: n, outputs: c, ldy: c, x: s.yOut, inputs: d, ldx: d,
                                                weight: w + L.outWeight, dWeight: g + L.outWeight, dBias: g + L.outBias,
                                                dx: s.dy, ldDx: d, accumulate: false)
                }
                s.dLast.update(repeating: 0, count: n * d)      // layerNormBackward adds into dx
                PriorKernels.layerNormBackward(s.dy, rows: n, width: d, xhat: s.xhatOut, rstd: s.rstdOut,
                                               weight: w + L.normOutWeight, dWeight: g + L.normOutWeight,
                                               dBias: g + L.normOutBias, dx: s.dLast)
                s.dStream.update(repeating: 0, count: n * t * d)
                for b in 0..<n { (s.dStream + (b * t + t - 1) * d).update(from: s.dLast + b * d, count: d) }
                for l in layout.blocks.indices.reversed() { backwardBlock(l, batch: batch, weights: w, gradients: g, workspace: s) }
                backwardInputs(batch, weights: w, gradients: g, dx: s.dStream)
            }
        }
    }

    /// Block `l` backwards: `workspace.dStream` holds d/d(block output) and becomes d/d(block input).
    func backwardBlock(_ l: Int, batch: PriorBatch, weights w: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
                       workspace s: PriorWorkspace) {
        let n = batch.size, t = config.tokens, d = config.innerDim, f = 4 * d, rows = n * t
        let block = layout.blocks[l], a = s.block(l), dx = s.dStream
        // Feed-forward: x2 = x1 + W2·gelu(W1·LN3(x1)).
        PriorKernels.linearBackward(dx, rows: rows, outputs: d, ldy: d, x: a.g, inputs: f, ldx: f, weight: w + block.ff2Weight,
                                    dWeight: g + block.ff2Weight, dBias: g + block.ff2Bias, dx: s.dWide, ldDx: f, accumulate: false)
        PriorKernels.geluBackward(a.u, count: rows * f, gradient: s.dWide)
        PriorKernels.linearBackward(s.dWide, rows: rows, outputs: f, ldy: f, x: a.h3, inputs: d, ldx: d, weight: w + block.ff1Weight,
                                    dWeight: g + block.ff1Weight, dBias: g + block.ff1Bias, dx: s.dh, ldDx: d, accumulate: false)
        // dx holds d/dx1 from the residual; add the LN3 path.
        PriorKernels.layerNormBackward(s.dh, rows: rows, width: d, xhat: a.xhat3, rstd: a.rstd3, weight: w + block.norm3Weight,
                                       dWeight: g + block.norm3Weight, dBias: g + block.norm3Bias, dx: dx)
        // Attention: x1 = x + Wo·attn(LN1(x)).
        PriorKernels.linearBackward(dx, rows: rows, outputs: d, ldy: d, x: a.attn, inputs: d, ldx: d, weight: w + block.toOutWeight,
                                    dWeight: g + block.toOutWeight, dBias: g + block.toOutBias, dx: s.dAttn, ldDx: d, accumulate: false)
        PriorKernels.attentionBackward(dOut: s.dAttn, q: a.q, k: a.k, v: a.v, probs: a.probs, batch: n, tokens: t,
                                       heads: config.numAttentionHeads, headDim: config.attentionHeadDim, dq: s.dq, dk: s.dk, dv: s.dv)
        for (i, (dOut, weight, bias)) in [(s.dq, block.toQWeight, block.toQBias), (s.dk, block.toKWeight, block.toKBias),
                                         (s.dv, block.toVWeight, block.toVBias)].enumerated() {
            PriorKernels.linearBackward(dOut, rows: rows, outputs: d, ldy: d, x: a.h1, inputs: d, ldx: d, weight: w + weight,
                                        dWeight: g + weight, dBias: g + bias, dx: s.dh, ldDx: d, accumulate: i > 0)
        }
        PriorKernels.layerNormBackward(s.dh, rows: rows, width: d, xhat: a.xhat1, rstd: a.rstd1, weight: w + block.norm1Weight,
                                       dWeight: g + block.norm1Weight, dBias: g + block.norm1Bias, dx: dx)
    }

    /// The inputs backwards: positional and prd embeddings, then the four projections.
    func backwardInputs(_ batch: PriorBatch, weights w: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
                        dx: UnsafeMutablePointer<Float>) {
        let n = batch.size, t = config.tokens, d = config.innerDim, e = config.embeddingDim, nE = config.numEmbeddings
        let L = layout
        for b in 0..<n {
            let seq = dx + b * t * d
            for i in 0..<(t * d) { g[L.positional + i] += seq[i] }
            for i in 0..<d { g[L.prd + i] += seq[(t - 1) * d + i] }
        }
        batch.text.withUnsafeBufferPointer { tb in
            for b in 0..<n {
                PriorKernels.linearBackward(dx + b * t * d, rows: nE, outputs: d, ldy: d, x: tb.baseAddress! + b * nE * e,
                                            inputs: e, ldx: e, weight: w + L.encoderProjWeight, dWeight: g + L.encoderProjWeight,
                                            dBias: g + L.encoderProjBias, dx: nil, ldDx: 0, accumulate: false)
            }
        }
        for item in tokenInputs(batch) {
            item.input.withUnsafeBufferPointer {
                PriorKernels.linearBackward(dx + item.token * d, rows: n, outputs: d, ldy: t * d, x: $0.baseAddress!,
                                            inputs: item.width, ldx: item.width, weight: w + item.weight,
                                            dWeight: g + item.weight, dBias: g + item.bias, dx: nil, ldDx: 0, accumulate: false)
            }
        }
    }
}
