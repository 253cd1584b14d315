/// Where each of the prior's tensors lives in one flat float buffer, under diffusers'
/// `PriorTransformer` state-dict names (the one mapping table between checkpoint keys and code).
///
/// Parameters, gradients and both AdamW moments share this layout, so an optimiser step and a
/// checkpoint are loops over one buffer.
public struct PriorLayout: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        public var shape: [Int]
        public var offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// Updated by the optimiser (`clip_mean` / `clip_std` are unused by the forward pass and stay).
        public var isTrainable: Bool
        /// Weight decay applies (2-D weight matrices only).
        public var isDecayed: Bool
    }

    /// Offsets of one transformer block's tensors.
    public struct Block: Sendable {
        public var norm1Weight = 0, norm1Bias = 0
        public var toQWeight = 0, toQBias = 0, toKWeight = 0, toKBias = 0, toVWeight = 0, toVBias = 0
        public var toOutWeight = 0, toOutBias = 0
        public var norm3Weight = 0, norm3Bias = 0
        public var ff1Weight = 0, ff1Bias = 0, ff2Weight = 0, ff2Bias = 0
    }

    public private(set) var tensors: [Tensor] = []
    public private(set) var count = 0
    private var index: [String: Int] = [:]

    // Offsets the forward and backward passes use.
    public private(set) var positional = 0, prd = 0
    public private(set) var projInWeight = 0, projInBias = 0
    public private(set) var embeddingProjWeight = 0, embeddingProjBias = 0
    public private(set) var controlWeight = 0, controlBias = 0
    public private(set) var encoderProjWeight = 0, encoderProjBias = 0
    public private(set) var blocks: [Block] = []
    public private(set) var normOutWeight = 0, normOutBias = 0
    public private(set) var outWeight = 0, outBias = 0

    public init(_ config: PriorConfig) {
        let d = config.innerDim, e = config.embeddingDim, p = config.projDim, c = config.outputDim, f = 4 * d
        func add(_ name: String, _ shape: [Int], trainable: Bool = true) -> Int {
            let offset = count
            index[name] = tensors.count
            tensors.append(Tensor(name: name, shape: shape, offset: offset, isTrainable: trainable,
                                  isDecayed: trainable && shape.count == 2 && name.hasSuffix(".weight")))
            count += shape.reduce(1, *)
            return offset
        }
        positional = add("positional_embedding", [1, config.tokens, d])
        prd = add("prd_embedding", [1, 1, d])
        projInWeight = add("proj_in.weight", [d, e]); projInBias = add("proj_in.bias", [d])
        embeddingProjWeight = add("embedding_proj.weight", [d, p]); embeddingProjBias = add("embedding_proj.bias", [d])
        if config.hasControl {
            controlWeight = add("embedding_control.weight", [d, p]); controlBias = add("embedding_control.bias", [d])
        }
        encoderProjWeight = add("encoder_hidden_states_proj.weight", [d, e])
        encoderProjBias = add("encoder_hidden_states_proj.bias", [d])
        for l in 0..<config.numLayers {
            let n = "transformer_blocks.\(l)."
            var b = Block()
            b.norm1Weight = add(n + "norm1.weight", [d]); b.norm1Bias = add(n + "norm1.bias", [d])
            b.toQWeight = add(n + "attn1.to_q.weight", [d, d]); b.toQBias = add(n + "attn1.to_q.bias", [d])
            b.toKWeight = add(n + "attn1.to_k.weight", [d, d]); b.toKBias = add(n + "attn1.to_k.bias", [d])
            b.toVWeight = add(n + "attn1.to_v.weight", [d, d]); b.toVBias = add(n + "attn1.to_v.bias", [d])
            b.toOutWeight = add(n + "attn1.to_out.0.weight", [d, d]); b.toOutBias = add(n + "attn1.to_out.0.bias", [d])
            b.norm3Weight = add(n + "norm3.weight", [d]); b.norm3Bias = add(n + "norm3.bias", [d])
            b.ff1Weight = add(n + "ff.net.0.proj.weight", [f, d]); b.ff1Bias = add(n + "ff.net.0.proj.bias", [f])
            b.ff2Weight = add(n + "ff.net.2.weight", [d, f]); b.ff2Bias = add(n + "ff.net.2.bias", [d])
            blocks.append(b)
        }
        normOutWeight = add("norm_out.weight", [d]); normOutBias = add("norm_out.bias", [d])
        outWeight = add("proj_to_clip_embeddings.weight", [c, d]); outBias = add("proj_to_clip_embeddings.bias", [c])
        _ = add("clip_mean", [1, c], trainable: false)
        _ = add("clip_std", [1, c], trainable: false)
    }

    public subscript(name: String) -> Tensor? { index[name].map { tensors[$0] } }

    /// Parameters the optimiser updates.
    public var trainableCount: Int { tensors.filter(\.isTrainable).reduce(0) { $0 + $1.count } }
}
