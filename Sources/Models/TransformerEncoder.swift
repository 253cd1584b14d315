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
            return Layer(norm1: try norm(p + names.norm1), norm2: try norm(p + names.norm2),
                         q: try projection(p + names.q), k: try projection(p + names.k), v: try projection(p + names.v),
                         out: try linear(p + names.out, d, d), fc1: try linear(p + names.fc1, f, d), fc2: try linear(p + names.fc2, d, f))
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
        let d = config.hiddenSize, rows = batch * tokens, eps = config.layerNormEps
        var h = postNorm ? x : LayerOps.layerNormed(x, width: d, weight: layer.norm1.0.pointer, bias: layer.norm1.1.pointer, eps: eps)
        let q = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.q.0.matrix, bias: layer.q.1?.pointer, outputs: d)
        let k = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.k.0.matrix, bias: layer.k.1?.pointer, outputs: d)
        let v = LayerOps.linear(h, rows: rows, inputs: d, weight: layer.v.0.matrix, bias: layer.v.1?.pointer, outputs: d)
        let a = LayerOps.attention(q: q, k: k, v: v, batch: batch, tokens: tokens, heads: config.heads,
                                   headDim: config.headDim, causal: causal, keyMask: keyMask, bf16: layer.q.0.matrix.isEngine)
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
}
