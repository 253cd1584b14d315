import BuildSupport
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
    /// How the encoders hold and multiply their transformer matrices: `f32`, or `bf16` (held in
    /// bfloat16, half the memory; products on bfloat16-rounded inputs with float32 accumulation).
    public var precision: String = "f32"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, batch, dtype, canny, textHiddenStates = "text_hidden_states", threads, precision
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(EmbedConfig(), CodingKeys.self, [
            .field(.model, \.model), .field(.batch, \.batch), .field(.dtype, \.dtype), .field(.canny, \.canny),
            .field(.textHiddenStates, \.textHiddenStates), .field(.threads, \.threads), .field(.precision, \.precision),
        ])
    }

    /// Every setting; `precision` only when it is not `f32`, so the canonical JSON (and with it
    /// embed's key) of every config written before the setting existed is unchanged.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(batch, forKey: .batch)
        try c.encode(dtype, forKey: .dtype)
        try c.encode(canny, forKey: .canny)
        try c.encode(textHiddenStates, forKey: .textHiddenStates)
        try c.encode(threads, forKey: .threads)
        if precision != "f32" { try c.encode(precision, forKey: .precision) }
    }

    func validate() throws {
        guard ["f16", "f32"].contains(dtype) else { throw PipelineError(.config, "must be f16 or f32, not '\(dtype)'", key: "embed.dtype") }
        guard batch >= 1 else { throw PipelineError(.config, "must be at least 1", key: "embed.batch") }
        guard ["f32", "bf16"].contains(precision) else {
            throw PipelineError(.config, "must be f32 or bf16, not '\(precision)'", key: "embed.precision")
        }
        guard threads >= 0 else { throw PipelineError(.config, "must be 0 (every core) or more", key: "embed.threads") }
    }
}
