import Formats
import Tensor

/// A ViT as transformers' ViTModel computes it (facebook/dino-vits16 and the DINO ViTs): the
/// [CLS] output after the final layer norm is what facebookresearch/dino's ViT returns.
public final class ViTModel: Sendable {
    public let config: TowerConfig
    let classToken: Weight, kernel: Weight, kernelBias: Weight, positions: Weight, finalNorm: (Weight, Weight)
    let encoder: TransformerEncoder

    init(config: TowerConfig, weights: WeightSet) throws {
        self.config = config
        let root = weights.names.contains { $0.hasPrefix("vit.") } ? "vit." : ""
        let d = config.hiddenSize, p = config.patchSize, n = config.patchesPerSide * config.patchesPerSide
        classToken = try weights.take(root + "embeddings.cls_token", [1, 1, d])
        positions = try weights.take(root + "embeddings.position_embeddings", [1, n + 1, d])
        kernel = try weights.take(root + "embeddings.patch_embeddings.projection.weight", [d, config.channels, p, p])
        kernelBias = try weights.take(root + "embeddings.patch_embeddings.projection.bias", [d])
        encoder = try TransformerEncoder(config: config, names: .vit(root), weights: weights)
        finalNorm = (try weights.take(root + "layernorm.weight", [d]), try weights.take(root + "layernorm.bias", [d]))
        // The pooler (a Linear + tanh some checkpoints carry) is not part of the DINO output.
        _ = try weights.takeIfPresent(root + "pooler.dense.weight", [d, d])
        _ = try weights.takeIfPresent(root + "pooler.dense.bias", [d])
        try weights.finish { $0.hasPrefix("classifier.") || $0.hasSuffix("mask_token") }
    }

    /// Encodes preprocessed pixel values [batch, channels, size, size].
    /// - Returns: `lastHiddenState` [batch, 1 + patches, hidden] after the final norm, and
    ///   `cls` [batch, hidden] (its first token).
    public func encode(pixelValues: [Float], batch: Int) throws -> (lastHiddenState: [Float], cls: [Float]) {
        try PatchEmbedding.check(pixelValues, batch: batch, config: config)
        return try PatchEmbedding.grouped(pixelValues, batch: batch) { encodeChecked(pixelValues: $0, batch: $1) }
    }

    /// ``encode(pixelValues:batch:)`` on checked inputs, in one pass.
    private func encodeChecked(pixelValues: [Float], batch: Int) -> (lastHiddenState: [Float], cls: [Float]) {
        let d = config.hiddenSize, t = config.patchesPerSide * config.patchesPerSide + 1
        let x = PatchEmbedding.embed(pixelValues, batch: batch, config: config, kernel: kernel, bias: kernelBias,
                                     classToken: classToken, positions: positions)
        var hidden = encoder.forward(x, batch: batch, tokens: t, causal: false, keyMask: nil)
        LayerOps.layerNorm(&hidden, width: d, weight: finalNorm.0.pointer, bias: finalNorm.1.pointer, eps: config.layerNormEps)
        var cls = [Float](repeating: 0, count: batch * d)
        for b in 0..<batch { for i in 0..<d { cls[b * d + i] = hidden[b * t * d + i] } }
        return (hidden, cls)
    }
}

/// A model directory loaded by its config's family.
public enum LoadedModel: Sendable {
    case clip(CLIPModel)
    case vit(ViTModel)
    case clipseg(CLIPSegModel)

    /// The weight files of a model directory, in a fixed order (for hashing what a stage used).
    public static func weightFiles(directory: String) throws -> [String] {
        try WeightSet.load(directory: directory).files.map(\.path)
    }

    /// Loads `directory/config.json` and `directory/model.safetensors` (or the shards of
    /// `model.safetensors.index.json`).
    /// - Throws: ``ModelError`` for a missing or malformed file, unsupported config, or missing
    ///   / unexpected / misshapen tensors (named in the message).
    /// - Parameters:
    ///   - precision: how the transformer layers hold and multiply their matrices.
    ///   - bf16Engine: with `bf16`, whether the products run on oneDNN or on the float32
    ///     fallback (nil: this CPU's measured choice, `MatrixEngines.bf16`).
    ///   - f32Engine: with `f32`, whether the layer products run on oneDNN's f32 matmul or on
    ///     OpenBLAS (nil: this CPU's measured choice, `MatrixEngines.f32`).
    public static func load(directory: String, precision: Precision = .f32, bf16Engine: Bool? = nil,
                            f32Engine: Bool? = nil) throws -> LoadedModel {
        let config = try ModelConfig.load(directory: directory)
        let weights = try WeightSet.load(directory: directory)
        weights.precision = precision
        weights.bf16Engine = bf16Engine ?? MatrixEngines.bf16.usesOneDNN
        weights.f32Engine = f32Engine ?? MatrixEngines.f32.usesOneDNN
        switch config {
        case let .clip(text, vision, projection):
            return .clip(try CLIPModel(text: text, vision: vision, projection: projection, weights: weights))
        case let .vit(tower):
            return .vit(try ViTModel(config: tower, weights: weights))
        case let .clipseg(config):
            return .clipseg(try CLIPSegModel(config: config, weights: weights))
        }
    }
}
