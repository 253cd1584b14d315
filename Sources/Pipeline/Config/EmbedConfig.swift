import Foundation

/// Settings of the embed stage: which CLIP computes the features and how they are stored.
public struct EmbedConfig: Codable, Sendable, Equatable {
    /// A Hugging Face CLIP directory with both towers (relative to the pipeline file).
    public var model: String = ""
    /// Rows per forward pass.
    public var batch: Int = 32
    /// On-disk precision of the features: `f16` or `f32`.
    public var dtype: String = "f16"
    /// Also embed each sample's Canny edge image, where the crop stage wrote one.
    public var canny: Bool = true
    /// Keep the text encoder's last hidden state [77, D] (the interleaving needs it).
    public var textHiddenStates: Bool = true
    /// OpenBLAS threads (0: every core).
    public var threads: Int = 0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, batch, dtype, canny, textHiddenStates = "text_hidden_states", threads
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EmbedConfig()
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? d.model
        batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? d.batch
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype) ?? d.dtype
        canny = try c.decodeIfPresent(Bool.self, forKey: .canny) ?? d.canny
        textHiddenStates = try c.decodeIfPresent(Bool.self, forKey: .textHiddenStates) ?? d.textHiddenStates
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
    }

    func validate() throws {
        guard ["f16", "f32"].contains(dtype) else { throw PipelineError(.config, "must be f16 or f32, not '\(dtype)'", key: "embed.dtype") }
        guard batch >= 1 else { throw PipelineError(.config, "must be at least 1", key: "embed.batch") }
        guard threads >= 0 else { throw PipelineError(.config, "must be 0 (every core) or more", key: "embed.threads") }
    }
}
