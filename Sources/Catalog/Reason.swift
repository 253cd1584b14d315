/// Why a stage left an item out: every reason the stages record, as stored in the `reason`
/// columns of `entries`, `sample_status` and `subjects`. A closed set, so a report or a test can
/// list them and a typo cannot invent a new one; the raw values are the stored text.
public enum Reason: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    // Ingest: the entry's files and record.
    case missingImage = "missing_image", missingFile = "missing_file", missingCaption = "missing_caption"
    case missingMask = "missing_mask", pathEscape = "path_escape", symlink, unreadable, fileTooLarge = "file_too_large"
    case truncatedFile = "truncated_file", unknownSource = "unknown_source", badReference = "bad_reference"
    case badRecord = "bad_record", badJSON = "bad_json", remoteURL = "remote_url", nonUTF8Caption = "non_utf8_caption"
    case nonUTF8Text = "non_utf8_text", captionTooLong = "caption_too_long", tooManyMasks = "too_many_masks"
    case corruptArchive = "corrupt_archive"
    /// The same source key appeared earlier in the same source (resolved by the catalog in manifest order).
    case duplicateKey = "duplicate_key"
    /// The same image bytes and caption (the same sample id) were accepted earlier.
    case duplicateContent = "duplicate_content"
    // Image codecs (the raw values of `ImagingError.Code`).
    case notAnImage = "not_an_image", corruptImage = "corrupt_image", truncatedImage = "truncated_image"
    case imageTooLarge = "image_too_large", encodeFailed = "encode_failed"
    // Tag.
    case noNouns = "no_nouns", labelNotInCaption = "label_not_in_caption"
    // Segment: a sample left to its own masks; one whose nouns all gave empty masks.
    case hasMasks = "has_masks", noMaskAboveThreshold = "no_mask_above_threshold"
    // Mask import: a record naming no accepted sample, or a mask of another size than its image.
    case unknownSample = "unknown_sample", maskSizeMismatch = "mask_size_mismatch"
    // Crop: the sample, then one subject (the first filter it fails).
    case noMasks = "no_masks", badMask = "bad_mask", imageTooSmall = "image_too_small", tooWhite = "too_white"
    case noSubjects = "no_subjects", tooManySubjects = "too_many_subjects"
    case emptyMask = "empty_mask", lowScore = "low_score", boxTooSmall = "box_too_small", boxTooLarge = "box_too_large"
    case lowFill = "low_fill"
    /// A subject that passed while its sample did not (too many subjects, too white, …).
    case sampleSkipped = "sample_skipped"
    // Embed.
    case missingCrop = "missing_crop", missingCanny = "missing_canny"
    // Shard.
    case noSubjectTokens = "no_subject_tokens"

    /// The stored text, so that a reason reads the same in a summary line as in the catalog.
    public var description: String { rawValue }
}
