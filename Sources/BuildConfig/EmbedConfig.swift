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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, batch, dtype, canny, textHiddenStates = "text_hidden_states", threads
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(EmbedConfig(), CodingKeys.self, [
            .field(.model, \.model), .field(.batch, \.batch), .field(.dtype, \.dtype), .field(.canny, \.canny),
            .field(.textHiddenStates, \.textHiddenStates), .field(.threads, \.threads),
        ])
    }

    func validate() throws {
        guard ["f16", "f32"].contains(dtype) else { throw PipelineError(.config, "must be f16 or f32, not '\(dtype)'", key: "embed.dtype") }
        guard batch >= 1 else { throw PipelineError(.config, "must be at least 1", key: "embed.batch") }
        guard threads >= 0 else { throw PipelineError(.config, "must be 0 (every core) or more", key: "embed.threads") }
    }
}
