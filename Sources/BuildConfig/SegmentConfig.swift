import BuildSupport

/// Settings of the segment stage: masks from CLIPSeg for the nouns the tag stage found, made by
/// the recipe Kosmos-G used for its subject data (`convert_openimage.py`): one pass per (image,
/// noun), logits resized to the image, sigmoid, threshold, grey dilation by a hundredth of each
/// side, the largest connected component.
public struct SegmentConfig: Codable, Sendable, Equatable {
    /// Run the stage (and make crop read its masks). Off: crop reads the input's masks alone.
    public var enabled: Bool = false
    /// The CLIPSeg directory (Hugging Face `config.json` + `model.safetensors`; `make models`
    /// fetches CIDAS/clipseg-rd64-refined). Relative to the pipeline file.
    public var model: String = ""
    /// Also segment samples that came with masks, recording the CLIPSeg masks beside theirs.
    public var withInputMasks: Bool = false
    /// Distinct nouns segmented per image, in caption order.
    public var maxNouns: Int = 8
    /// The text prompt for a noun; `{noun}` is replaced by the noun as the caption writes it.
    public var prompt: String = "{noun}"
    /// The side the image is resized to (CLIPSegProcessor: 352).
    public var imageSize: Int = 352
    /// A pixel is in the mask when its probability exceeds this.
    public var threshold: Double = 0.3
    /// The dilation's side is each axis's length divided by this; 0: no dilation.
    public var dilationDivisor: Int = 100
    /// Keep only the largest 4-connected component.
    public var largestComponent: Bool = true
    /// Images per vision pass.
    public var batch: Int = 8
    /// OpenBLAS threads for the model (0: every core).
    public var threads: Int = 0
    /// Decoding cap in pixels.
    public var maxPixels: Int = 178_956_970
    /// How CLIPSeg holds and multiplies its transformer matrices: `f32`, or `bf16` (as
    /// `embed.precision`: oneDNN's bf16 engine where it pays on this CPU).
    public var precision: String = "f32"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, model, withInputMasks = "with_input_masks", maxNouns = "max_nouns", prompt, imageSize = "image_size"
        case threshold, dilationDivisor = "dilation_divisor", largestComponent = "largest_component", batch, threads
        case maxPixels = "max_pixels", precision
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(SegmentConfig(), CodingKeys.self, [
            .field(.enabled, \.enabled), .field(.model, \.model), .field(.withInputMasks, \.withInputMasks),
            .field(.maxNouns, \.maxNouns), .field(.prompt, \.prompt), .field(.imageSize, \.imageSize),
            .field(.threshold, \.threshold), .field(.dilationDivisor, \.dilationDivisor),
            .field(.largestComponent, \.largestComponent), .field(.batch, \.batch), .field(.threads, \.threads),
            .field(.maxPixels, \.maxPixels), .field(.precision, \.precision),
        ])
    }

    /// Every setting; `precision` only when it is not `f32` (the canonical JSON, and so segment's
    /// key, of every config written before the setting existed is unchanged).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(model, forKey: .model)
        try c.encode(withInputMasks, forKey: .withInputMasks)
        try c.encode(maxNouns, forKey: .maxNouns)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(dilationDivisor, forKey: .dilationDivisor)
        try c.encode(largestComponent, forKey: .largestComponent)
        try c.encode(batch, forKey: .batch)
        try c.encode(threads, forKey: .threads)
        try c.encode(maxPixels, forKey: .maxPixels)
        if precision != "f32" { try c.encode(precision, forKey: .precision) }
    }

    func validate() throws {
        guard maxNouns >= 1 else { throw PipelineError(.config, "must be at least 1", key: "segment.max_nouns") }
        guard prompt.contains("{noun}") else { throw PipelineError(.config, "must contain {noun}", key: "segment.prompt") }
        guard imageSize >= 16 else { throw PipelineError(.config, "must be at least 16", key: "segment.image_size") }
        guard (0..<1).contains(threshold) else { throw PipelineError(.config, "must be within 0 ..< 1", key: "segment.threshold") }
        guard dilationDivisor >= 0 else { throw PipelineError(.config, "must be 0 or more", key: "segment.dilation_divisor") }
        guard ["f32", "bf16"].contains(precision) else {
            throw PipelineError(.config, "must be f32 or bf16, not '\(precision)'", key: "segment.precision")
        }
        guard batch >= 1, threads >= 0, maxPixels >= 1 else {
            throw PipelineError(.config, "batch and max_pixels must be at least 1, threads 0 or more", key: "segment.batch")
        }
    }
}
