import BuildSupport
import Foundation

/// Settings of the shard stage.
public struct ShardConfig: Codable, Sendable, Equatable {
    /// Subjects per row (λ-ECLIPSE: at most 4).
    public var maxSubjects: Int = 4
    /// On-disk precision of the float tensors: `f16` or `f32`.
    public var dtype: String = "f16"
    /// Also store the caption's plain (not interleaved) last hidden state.
    public var plainText: Bool = false
    /// Percentage of samples in the validation split (by sample-id hash; the paper: 80:20).
    public var valPercent: Int = 20
    /// Salt of the split hash (change it for another split of the same data).
    public var splitSalt: String = "eclipse"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxSubjects = "max_subjects", dtype, plainText = "plain_text", valPercent = "val_percent", splitSalt = "split_salt"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(ShardConfig(), CodingKeys.self, [
            .field(.maxSubjects, \.maxSubjects), .field(.dtype, \.dtype), .field(.plainText, \.plainText),
            .field(.valPercent, \.valPercent), .field(.splitSalt, \.splitSalt),
        ])
    }

    func validate() throws {
        guard ["f16", "f32"].contains(dtype) else { throw PipelineError(.config, "must be f16 or f32, not '\(dtype)'", key: "shard.dtype") }
        guard maxSubjects >= 1 else { throw PipelineError(.config, "must be at least 1", key: "shard.max_subjects") }
        guard (0...100).contains(valPercent) else { throw PipelineError(.config, "must be 0-100", key: "shard.val_percent") }
    }

    /// The split of a sample: `val` for `valPercent` % of ids, by the first 8 hex digits of
    /// SHA-256(salt + id), else `train`.
    public func split(of sampleID: String) -> String {
        let digest = SHA256.hex(Array((splitSalt + sampleID).utf8))
        return (Int(digest.prefix(8), radix: 16)! % 100) < valPercent ? "val" : "train"
    }
}
