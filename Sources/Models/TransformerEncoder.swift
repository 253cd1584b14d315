import Formats
import Tensor

/// A pre-norm transformer encoder (CLIP's and ViT's): per layer
/// `x += attn(norm1(x)); x += mlp(norm2(x))`, with the checkpoint names of each family in one
/// table.
struct TransformerEncoder: Sendable {
    let config: TowerConfig
    let layers: [Layer]
    /// Norms after each residual sum instead of before each block (CLIPSeg's decoder layers).
    let postNorm: Bool

    struct Layer: Sendable {
        var norm1: (Weight, Weight), norm2: (Weight, Weight)
        var q: (MatrixWeight, Weight?), k: (MatrixWeight, Weight?), v: (MatrixWeight, Weight?), out: (MatrixWeight, Weight)
        var fc1: (MatrixWeight, Weight), fc2: (MatrixWeight, Weight)
        /// q, k, v, out, fc1, fc2 when all six are bfloat16 on oneDNN's engine (found once at load).
        var engine: [EngineWeights]? = nil
    }

    /// Checkpoint names of one layer's parts, relative to the layer prefix.
    struct Names {
        var prefix: (Int) -> String
        var norm1, norm2, q, k, v, out, fc1, fc2: String

        /// transformers' CLIPEncoderLayer under `<tower>.encoder.layers.<i>.`.
        static func clip(_ tower: String) -> Names {
            Names(prefix: { "\(tower).encoder.layers.\($0)." }, norm1: "layer_norm1", norm2: "layer_norm2",
                  q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", out: "self_attn.out_proj",
                  fc1: "mlp.fc1", fc2: "mlp.fc2")
        }

        /// transformers' ViTLayer under `[vit.]encoder.layer.<i>.`.
        static func vit(_ root: String) -> Names {
            Names(prefix: { "\(root)encoder.layer.\($0)." }, norm1: "layernorm_before", norm2: "layernorm_after",
                  q: "attention.attention.query", k: "attention.attention.key", v: "attention.attention.value",
                  out: "attention.output.dense", fc1: "intermediate.dense", fc2: "output.dense")
        }
    }

    init(config: TowerConfig, names: Names, weights: WeightSet, postNorm: Bool = false) throws {
        self.config = config
        self.postNorm = postNorm
        let d = config.hiddenSize, f = config.intermediateSize
        func norm(_ p: String) throws -> (Weight, Weight) { (try weights.take(p + ".weight", [d]), try weights.take(p + ".bias", [d])) }
        func linear(_ p: String, _ o: Int, _ i: Int) throws -> (MatrixWeight, Weight) {
            (try weights.takeMatrix(p + ".weight", [o, i]), try weights.take(p + ".bias", [o]))
        }
        func projection(_ p: String) throws -> (MatrixWeight, Weight?) {
            (try weights.takeMatrix(p + ".weight", [d, d]), config.qkvBias ? try weights.take(p + ".bias", [d]) : nil)
        }
        layers = try (0..<config.layers).map { i in
            let p = names.prefix(i)
            var layer = Layer(norm1: try norm(p + names.norm1), norm2: try norm(p + names.norm2),
                              q: try projection(p + names.q), k: try projection(p + names.k), v: try projection(p + names.v),
                              out: try linear(p + names.out, d, d), fc1: try linear(p + names.fc1, f, d), fc2: try linear(p + names.fc2, d, f))
            layer.engine = Self.engineMatrices(layer)
            return layer
        }
    }

    /// Runs every layer over `x` [batch·tokens, hidden].
    func forward(_ x: [Float], batch: Int, tokens: Int, causal: Bool, keyMask: [Bool]?) -> [Float] {
        var x = x
        for layer in layers { run(layer, on: &x, batch: batch, tokens: tokens, causal: causal, keyMask: keyMask) }
        return x
    }

    /// Runs layers 0...max(`outputs`) without masks and returns the output of each layer in
    /// `outputs` (transformers' `hidden_states[i + 1]`), in the order given; later layers are
    /// not run.
    func forward(_ x: [Float], batch: Int, tokens: Int, outputs: [Int]) -> [[Float]] {
        var x = x
        var kept: [Int: [Float]] = [:]
        for (i, layer) in layers.enumerated().prefix((outputs.max() ?? -1) + 1) {
            run(layer, on: &x, batch: batch, tokens: tokens, causal: false, keyMask: nil)
            if outputs.contains(i) { kept[i] = x }
        }
        return outputs.map { kept[$0]! }
    }

    /// One layer in place: pre-norm `x += attn(norm1(x)); x += mlp(norm2(x))`, or post-norm
    /// (CLIPSeg's decoder) `x = norm1(x + attn(x)); x = norm2(x + mlp(x))`.
    func run(_ layer: Layer, on x: inout [Float], batch: Int, tokens: Int, causal: Bool, keyMask: [Bool]?) {
        if !postNorm, let matrices = layer.engine {
            return runOnEngine(layer, matrices, on: &x, batch: batch, tokens: tokens, causal: causal, keyMask: keyMask)
        }
        let d = config.hiddenSize, rows = batch * tokens, eps = config.layerNormEps
        var h = postNorm ? x : LayerOps.layerNormed(x, width: d, weight: layer.norm1.0.pointer, bias: layer.norm1.1.pointer, eps: eps)
        let q = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.q.0.matrix, bias: layer.q.1?.pointer, outputs: d)
        let k = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.k.0.matrix, bias: layer.k.1?.pointer, outputs: d)
        let v = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.v.0.matrix, bias: layer.v.1?.pointer, outputs: d)
        let a = LayerOps.attention(q: q, k: k, v: v, batch: batch, tokens: tokens, heads: config.heads,
                                   headDim: config.headDim, causal: causal, keyMask: keyMask, bf16: layer.q.0.matrix.isBF16Engine)
        LayerOps.addLinear(a, rows: rows, inputs: d, weight: layer.out.0.matrix, bias: layer.out.1.pointer, outputs: d, into: &x)
        if postNorm {
            LayerOps.layerNorm(&x, width: d, weight: layer.norm1.0.pointer, bias: layer.norm1.1.pointer, eps: eps)
            h = x
        } else {
            h = LayerOps.layerNormed(x, width: d, weight: layer.norm2.0.pointer, bias: layer.norm2.1.pointer, eps: eps)
        }
        var m = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.fc1.0.matrix, bias: layer.fc1.1.pointer,
                                outputs: config.intermediateSize)
        config.activation.apply(&m)
        LayerOps.addLinear(m, rows: rows, inputs: config.intermediateSize, weight: layer.fc2.0.matrix,
                           bias: layer.fc2.1.pointer, outputs: d, into: &x)
        if postNorm { LayerOps.layerNorm(&x, width: d, weight: layer.norm2.0.pointer, bias: layer.norm2.1.pointer, eps: eps) }
    }

    /// The layer's six matrices when all are bfloat16 on oneDNN's engine.
    static func engineMatrices(_ layer: Layer) -> [EngineWeights]? {
        let matrices = [layer.q.0, layer.k.0, layer.v.0, layer.out.0, layer.fc1.0, layer.fc2.0].compactMap { weight -> EngineWeights? in
            if case .engine(let w) = weight.matrix, !w.float32 { return w }
            return nil
        }
        return matrices.count == 6 ? matrices : nil
    }

    /// A pre-norm layer on the bf16 engine: each norm's output rounded to bfloat16 once for the
    /// products that read it, q, k and v stored in bfloat16 by their products, the bias and
    /// residual sums fused into the products, the MLP's hidden layer activated and rounded in one pass.
    func runOnEngine(_ layer: Layer, _ m: [EngineWeights], on x: inout [Float], batch: Int, tokens: Int, causal: Bool,
                     keyMask: [Bool]?) {
        let d = config.hiddenSize, rows = batch * tokens, eps = config.layerNormEps
        let h = LayerOps.rounded(LayerOps.layerNormed(x, width: d, weight: layer.norm1.0.pointer, bias: layer.norm1.1.pointer, eps: eps),
                                 rows: rows, width: d)
        let (q, k, v) = (LayerOps.roundedLinear(h, weight: m[0], bias: layer.q.1?.pointer),
                         LayerOps.roundedLinear(h, weight: m[1], bias: layer.k.1?.pointer),
                         LayerOps.roundedLinear(h, weight: m[2], bias: layer.v.1?.pointer))
        let a = LayerOps.attention(q: q, k: k, v: v, batch: batch, tokens: tokens, heads: config.heads, headDim: config.headDim,
                                   causal: causal, keyMask: keyMask)
        LayerOps.addLinear(LayerOps.rounded(a, rows: rows, width: d), weight: m[3], bias: layer.out.1.pointer, into: &x)
        let h2 = LayerOps.rounded(LayerOps.layerNormed(x, width: d, weight: layer.norm2.0.pointer, bias: layer.norm2.1.pointer, eps: eps),
                                  rows: rows, width: d)
        let hidden = LayerOps.activated(h2, weight: m[4], bias: layer.fc1.1.pointer, activation: config.activation)
        LayerOps.addLinear(hidden, weight: m[5], bias: layer.fc2.1.pointer, into: &x)
    }
}
