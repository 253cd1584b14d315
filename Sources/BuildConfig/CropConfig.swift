import BuildSupport
/// Settings of the crop stage: λ-ECLIPSE's filters (paper App. B wording) with its defaults.
/// Where Subject-Diffusion's code differs (fill 0.6 instead of 0.4, a width/height ratio of
/// 0.3-3), set the values here.
public struct CropConfig: Codable, Sendable, Equatable {
    /// Skip images whose shorter side is below this (the paper kept 1024 px and up).
    public var minImageSide: Int = 1024
    /// Which size `min_image_side` checks: `decoded`, the image as stored, or `original`, the
    /// size before a downloader resized it (img2dataset's `original_width` / `original_height`
    /// in the sample's JSON, where recorded; else the decoded size). img2dataset enlarges small
    /// photos to its output size, so only `original` keeps them out.
    public var minImageSideOf: String = "decoded"
    /// Keep images with this many subjects after the subject filters...
    public var minSubjects: Int = 1
    /// ...and at most this many.
    public var maxSubjects: Int = 4
    /// Skip images with more than this fraction of white pixels (all channels >= 230).
    public var maxWhiteFraction: Double = 0.1
    /// Keep subjects whose box covers more than this fraction of the image...
    public var minBoxArea: Double = 0.08
    /// ...and less than this fraction.
    public var maxBoxArea: Double = 0.7
    /// Keep subjects whose mask fills at least this fraction of their box.
    public var minFill: Double = 0.4
    /// Keep subjects whose detection score (logit) is at least this, where there is one.
    public var minScore: Double = 0.3
    /// Also write the Canny edge image of each kept sample (the edge-control input).
    public var canny: Bool = false
    public var cannyLow: Double = 100
    public var cannyHigh: Double = 200
    /// Decoding cap in pixels.
    public var maxPixels: Int = 178_956_970

    enum CodingKeys: String, CodingKey, CaseIterable {
        case minImageSide = "min_image_side", minImageSideOf = "min_image_side_of", minSubjects = "min_subjects", maxSubjects = "max_subjects"
        case maxWhiteFraction = "max_white_fraction", minBoxArea = "min_box_area", maxBoxArea = "max_box_area"
        case minFill = "min_fill", minScore = "min_score", canny, cannyLow = "canny_low", cannyHigh = "canny_high"
        case maxPixels = "max_pixels"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(CropConfig(), CodingKeys.self, [
            .field(.minImageSide, \.minImageSide), .field(.minImageSideOf, \.minImageSideOf),
            .field(.minSubjects, \.minSubjects), .field(.maxSubjects, \.maxSubjects),
            .field(.maxWhiteFraction, \.maxWhiteFraction), .field(.minBoxArea, \.minBoxArea),
            .field(.maxBoxArea, \.maxBoxArea), .field(.minFill, \.minFill), .field(.minScore, \.minScore),
            .field(.canny, \.canny), .field(.cannyLow, \.cannyLow), .field(.cannyHigh, \.cannyHigh),
            .field(.maxPixels, \.maxPixels),
        ])
    }

    func validate() throws {
        guard ["decoded", "original"].contains(minImageSideOf) else {
            throw PipelineError(.config, "must be 'decoded' or 'original', not '\(minImageSideOf)'", key: "crop.min_image_side_of")
        }
        guard minSubjects >= 0, maxSubjects >= max(1, minSubjects) else {
            throw PipelineError(.config, "need 0 <= min_subjects <= max_subjects and max_subjects >= 1", key: "crop.max_subjects")
        }
        for (key, value) in [("max_white_fraction", maxWhiteFraction), ("min_box_area", minBoxArea),
                             ("max_box_area", maxBoxArea), ("min_fill", minFill)] where !(0...1).contains(value) {
            throw PipelineError(.config, "must be within 0...1", key: "crop.\(key)")
        }
        guard minBoxArea < maxBoxArea else { throw PipelineError(.config, "must exceed min_box_area", key: "crop.max_box_area") }
        guard maxPixels >= 1, minImageSide >= 0 else { throw PipelineError(.config, "must be positive", key: "crop.max_pixels") }
    }
}
