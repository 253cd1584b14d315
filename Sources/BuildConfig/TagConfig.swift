import Foundation

/// Settings of the tag stage: which samples to keep after finding the caption's nouns, and
/// where the token positions come from.
public struct TagConfig: Codable, Sendable, Equatable {
    /// Skip samples with a labelled mask whose label matches no noun of the caption (the
    /// substitution needs every subject's label in the caption).
    public var requireLabelMatch: Bool = true
    /// Skip samples whose caption has no object noun.
    public var requireNoun: Bool = true
    /// Write per-unit JSONL files of each sample's nouns as a Grounding-DINO text prompt
    /// (`exports/grounding/unit-NNNNN.jsonl`).
    public var groundingPrompts: Bool = true
    /// A model's tokenizer files (Hugging Face directory or `bpe_simple_vocab_16e6.txt[.gz]`);
    /// empty: the built-in OpenAI CLIP vocabulary. Relative to the pipeline file.
    public var tokenizer: String = ""
    /// Where none of a mask label's token ids occurs in the caption's ("box" against "three
    /// brown boxes"), substitute at the matched noun's own tokens, so the subject is not lost to
    /// `no_subject_tokens` at shard; false keeps λ-ECLIPSE's rule alone. `noun_labels.positions_rule`
    /// records which rule gave each label's positions.
    public var substituteAtNoun: Bool = true

    enum CodingKeys: String, CodingKey, CaseIterable {
        case requireLabelMatch = "require_label_match", requireNoun = "require_noun"
        case groundingPrompts = "grounding_prompts", tokenizer, substituteAtNoun = "substitute_at_noun"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(TagConfig(), CodingKeys.self, [
            .field(.requireLabelMatch, \.requireLabelMatch), .field(.requireNoun, \.requireNoun),
            .field(.groundingPrompts, \.groundingPrompts), .field(.tokenizer, \.tokenizer),
            .field(.substituteAtNoun, \.substituteAtNoun),
        ])
    }
}
