import Foundation
import Models

/// The λ-ECLIPSE prior's configuration: diffusers' `PriorTransformer` without the time embedding
/// (eclipse.md §1.4), read from and written to the same `config.json` keys.
///
/// The token sequence is `[numEmbeddings projected text states] + [control] + [projected pooled
/// text] + [noise] + [prd]` when `additionalEmbeddings` is 4 (λ-ECLIPSE), or the same without the
/// control token when it is 3 (ECLIPSE).
public struct PriorConfig: Codable, Equatable, Sendable {
    public var numAttentionHeads = 16
    public var attentionHeadDim = 32
    public var numLayers = 10
    /// Width of the text hidden states and of the noise input.
    public var embeddingDim = 1280
    /// Text positions (the tokenizer's 77).
    public var numEmbeddings = 77
    public var additionalEmbeddings = 4
    public var dropout: Double = 0
    public var normInType: String?
    public var embeddingProjNormType: String?
    public var encoderHidProjType: String? = "linear"
    public var addedEmbType: String? = "prd"
    /// Width of the pooled text embedding and the control embedding (nil: `embeddingDim`).
    public var embeddingProjDim: Int?
    /// Width of the predicted image embedding (nil: `embeddingDim`).
    public var clipEmbedDim: Int?

    enum CodingKeys: String, CodingKey {
        case numAttentionHeads = "num_attention_heads", attentionHeadDim = "attention_head_dim", numLayers = "num_layers"
        case embeddingDim = "embedding_dim", numEmbeddings = "num_embeddings", additionalEmbeddings = "additional_embeddings"
        case dropout, normInType = "norm_in_type", embeddingProjNormType = "embedding_proj_norm_type"
        case encoderHidProjType = "encoder_hid_proj_type", addedEmbType = "added_emb_type"
        case embeddingProjDim = "embedding_proj_dim", clipEmbedDim = "clip_embed_dim"
    }

    public init() {}

    /// The paper's size: 16 heads x 32, 10 layers, 1280-wide CLIP bigG features (34,849,536 parameters).
    public static let paper = PriorConfig()

    public init(heads: Int, headDim: Int, layers: Int, embeddingDim: Int, numEmbeddings: Int = 77, additionalEmbeddings: Int = 4) {
        numAttentionHeads = heads
        attentionHeadDim = headDim
        numLayers = layers
        self.embeddingDim = embeddingDim
        self.numEmbeddings = numEmbeddings
        self.additionalEmbeddings = additionalEmbeddings
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PriorConfig()
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        attentionHeadDim = try c.decodeIfPresent(Int.self, forKey: .attentionHeadDim) ?? d.attentionHeadDim
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers) ?? d.numLayers
        embeddingDim = try c.decodeIfPresent(Int.self, forKey: .embeddingDim) ?? d.embeddingDim
        numEmbeddings = try c.decodeIfPresent(Int.self, forKey: .numEmbeddings) ?? d.numEmbeddings
        additionalEmbeddings = try c.decodeIfPresent(Int.self, forKey: .additionalEmbeddings) ?? d.additionalEmbeddings
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        normInType = try c.decodeIfPresent(String.self, forKey: .normInType)
        embeddingProjNormType = try c.decodeIfPresent(String.self, forKey: .embeddingProjNormType)
        encoderHidProjType = c.contains(.encoderHidProjType) ? try c.decodeIfPresent(String.self, forKey: .encoderHidProjType) : "linear"
        addedEmbType = c.contains(.addedEmbType) ? try c.decodeIfPresent(String.self, forKey: .addedEmbType) : "prd"
        embeddingProjDim = try c.decodeIfPresent(Int.self, forKey: .embeddingProjDim)
        clipEmbedDim = try c.decodeIfPresent(Int.self, forKey: .clipEmbedDim)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(attentionHeadDim, forKey: .attentionHeadDim)
        try c.encode(numLayers, forKey: .numLayers)
        try c.encode(embeddingDim, forKey: .embeddingDim)
        try c.encode(numEmbeddings, forKey: .numEmbeddings)
        try c.encode(additionalEmbeddings, forKey: .additionalEmbeddings)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(normInType, forKey: .normInType)
        try c.encode(embeddingProjNormType, forKey: .embeddingProjNormType)
        try c.encode(encoderHidProjType, forKey: .encoderHidProjType)
        try c.encode(addedEmbType, forKey: .addedEmbType)
        try c.encode(embeddingProjDim, forKey: .embeddingProjDim)
        try c.encode(clipEmbedDim, forKey: .clipEmbedDim)
    }

    // MARK: Derived sizes

    /// The transformer width (heads x head size).
    public var innerDim: Int { numAttentionHeads * attentionHeadDim }
    public var projDim: Int { embeddingProjDim ?? embeddingDim }
    public var outputDim: Int { clipEmbedDim ?? embeddingDim }
    /// Sequence length: text positions plus the additional tokens.
    public var tokens: Int { numEmbeddings + additionalEmbeddings }
    /// Whether the sequence carries the λ-ECLIPSE control (Canny) token.
    public var hasControl: Bool { additionalEmbeddings == 4 }

    /// Refuses what this implementation does not compute, naming the key.
    public func validate() throws {
        func refuse(_ key: String, _ why: String) -> ModelError { ModelError(.badConfig, "\(key): \(why)") }
        guard numAttentionHeads > 0, attentionHeadDim > 0, numLayers > 0, embeddingDim > 0, numEmbeddings > 0 else {
            throw refuse("num_attention_heads/attention_head_dim/num_layers/embedding_dim/num_embeddings", "must be positive")
        }
        guard additionalEmbeddings == 3 || additionalEmbeddings == 4 else {
            throw refuse("additional_embeddings", "\(additionalEmbeddings) is neither 4 (λ-ECLIPSE: control, pooled text, noise, prd) nor 3 (ECLIPSE)")
        }
        guard dropout == 0 else { throw refuse("dropout", "only 0 is supported (the published prior uses none)") }
        guard normInType == nil else { throw refuse("norm_in_type", "only null is supported (the λ-ECLIPSE prior has no norm_in)") }
        guard embeddingProjNormType == nil else { throw refuse("embedding_proj_norm_type", "only null is supported") }
        guard encoderHidProjType == "linear" else { throw refuse("encoder_hid_proj_type", "only \"linear\" is supported") }
        guard addedEmbType == "prd" else { throw refuse("added_emb_type", "only \"prd\" is supported: the output is read from the prd token") }
    }

    /// Reads `config.json` (diffusers' keys; unknown keys such as `_class_name` are ignored).
    public static func load(path: String) throws -> PriorConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(.missingFile, "cannot read the prior's config.json", path: path)
        }
        let config: PriorConfig
        do { config = try JSONDecoder().decode(PriorConfig.self, from: data) } catch {
            throw ModelError(.badConfig, "not a prior config: \(error)", path: path)
        }
        try config.validate()
        return config
    }

    /// The `config.json` text, with the class name and the diffusers version the layout follows.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var object = try JSONSerialization.jsonObject(with: encoder.encode(self)) as? [String: Any] ?? [:]
        object["_class_name"] = "PriorTransformer"
        object["_diffusers_version"] = "0.20.2"
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
