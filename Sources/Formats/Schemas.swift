/// CLIP's text context: a caption is 77 tokens (start, up to 75 tokens, end, padding).
public enum CLIPText {
    public static let contextLength = 77
}

/// The embed stage's unit file, `features/embed/unit-NNNNN.safetensors`: row-aligned with the
/// unit's embedded samples (N), their kept subjects (S) and Canny images (C); D is the text
/// width, P the projection width.
public enum FeatureSchema {
    /// `__metadata__["schema"]`.
    public static let name = "eclipse-embed-1"

    public enum Tensor: String, Sendable, CaseIterable {
        /// [N, 77, D] (when `embed.text_hidden_states`)
        case textLastHiddenState = "text_last_hidden_state"
        /// [N, P]
        case textEmbeds = "text_embeds"
        /// [N, P], the whole image's embedding (the target)
        case imageEmbeds = "image_embeds"
        /// [S, P]
        case subjectEmbeds = "subject_embeds"
        /// [C, P] (when some sample has a Canny image)
        case cannyEmbeds = "canny_embeds"
        /// [1, P], the all-zero image's embedding (the no-Canny control)
        case zeroImageEmbeds = "zero_image_embeds"
    }
}

/// A training shard, `shards/shard-NNNNN.safetensors` (schema 2): N rows, up to S subjects per
/// row, text width D, projection width P. Floats are F16 or F32 (`shard.dtype`).
public enum ShardSchema {
    /// `__metadata__["schema"]` and `["schema_version"]`.
    public static let name = "eclipse-shard"
    public static let version = 2

    public enum Tensor: String, Sendable, CaseIterable {
        case interleavedText = "interleaved_text"
        case textEmbeds = "text_embeds"
        case attentionMask = "attention_mask"
        case targetImageEmbeds = "target_image_embeds"
        case subjectEmbeds = "subject_embeds"
        case subjectCount = "subject_count"
        case subjectTokenMask = "subject_token_mask"
        case controlEmbeds = "control_embeds"
        case hasCanny = "has_canny"
        /// One per shard, not per row (schema 2).
        case zeroImageEmbeds = "zero_image_embeds"
        /// The unmodified caption's hidden state (when `shard.plain_text`).
        case textLastHiddenState = "text_last_hidden_state"
    }

    /// Tensors with one value per shard rather than one per row.
    public static let perShard: Set<Tensor> = [.zeroImageEmbeds]

    /// A tensor's shape in a shard of `rows` rows.
    public static func shape(_ tensor: Tensor, rows n: Int, maxSubjects s: Int, textWidth d: Int, projection p: Int) -> [Int] {
        let t = CLIPText.contextLength
        switch tensor {
        case .interleavedText, .textLastHiddenState: return [n, t, d]
        case .textEmbeds, .targetImageEmbeds, .controlEmbeds: return [n, p]
        case .attentionMask: return [n, t]
        case .subjectEmbeds: return [n, s, p]
        case .subjectCount, .hasCanny: return [n]
        case .subjectTokenMask: return [n, s, t]
        case .zeroImageEmbeds: return [1, p]
        }
    }

    /// A tensor's element type when floats are stored as `floats`.
    public static func dtype(_ tensor: Tensor, floats: DType) -> DType {
        switch tensor {
        case .attentionMask, .subjectTokenMask, .hasCanny: .u8
        case .subjectCount: .i64
        default: floats
        }
    }
}
