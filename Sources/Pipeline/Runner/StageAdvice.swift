public import BuildConfig
public import Catalog
import Foundation

/// Warnings a stage prints when the build gave it nothing to do, or nothing came through it:
/// which earlier verdict is why, and what to change. A source that yields no entries is named
/// by ingest. (A stage still exits 0: these are verdicts on the data, not errors.)
public enum StageAdvice {
    /// The stage each stage reads.
    static let upstream = ["tag": "ingest", "segment": "tag", "crop": "tag", "embed": "crop", "shard": "embed"]

    /// What to do about the most common reasons a whole stage yields nothing.
    static func hint(_ reason: String, pipeline: PipelineConfig) -> String? {
        switch reason {
        case "no_masks":
            return "no sample has masks: enable the segment stage (segment.enabled: true with a CLIPSeg model), give masks with the "
                + "input (Subject-Diffusion JSON with an instance map, COCO instances, PNG masks), or import a segmenter's masks "
                + "(import-masks, e.g. Grounded-SAM run on the exported Grounding-DINO prompts)"
        case "has_masks": return "every sample came with masks; segment.with_input_masks: true segments them too"
        case "no_mask_above_threshold":
            return "no noun's CLIPSeg mask passed segment.threshold (\(pipeline.segment.threshold)); random weights give such masks"
        case "no_nouns": return "no caption has an object noun"
        case "label_not_in_caption": return "mask labels are not in the captions; tag.require_label_match: false keeps such samples"
        case "image_too_small": return "the images are smaller than crop.min_image_side (\(pipeline.crop.minImageSide) px)"
        case "too_white": return "the images are mostly white (crop.max_white_fraction \(pipeline.crop.maxWhiteFraction))"
        case "no_subject_tokens": return "no kept subject is linked to a caption noun (unlabelled masks?)"
        default: return nil
        }
    }

    /// The reasons of a stage's state, most common first, as `skipped:no_masks: 60`.
    static func topReasons(_ state: StageState, count: Int = 3) -> [(reason: String, count: Int)] {
        state.reasons.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map { ($0.key, $0.value) }
    }

    /// `line (skipped:no_masks: 16, …)`, and what to do about the most common reason when known.
    static func explained(_ line: String, _ state: StageState, pipeline: PipelineConfig) -> String {
        let reasons = topReasons(state)
        let text = line + " (" + reasons.map { "\($0.reason): \($0.count)" }.joined(separator: ", ") + ")"
        guard let first = reasons.first, let hint = hint(String(first.reason.split(separator: ":").last ?? ""), pipeline: pipeline) else {
            return text
        }
        return text + ": " + hint
    }

    /// The warnings for `stage` after a run, from the catalog it wrote.
    public static func warnings(stage: String, pipeline: PipelineConfig, catalog: Catalog) throws -> [String] {
        if stage == "ingest" { return try emptySources(pipeline: pipeline, catalog: catalog) }
        guard let before = upstream[stage] else { return [] }
        let state = try catalog.stageState(stage: stage)
        if state.itemsIn == 0 {
            let earlier = try catalog.stageState(stage: before)
            guard earlier.itemsIn > 0 else { return ["nothing reached \(stage): \(before) has no samples"] }
            return [explained("nothing reached \(stage): \(before) kept none of its \(earlier.itemsIn) samples", earlier, pipeline: pipeline)]
        }
        guard state.itemsOK == 0 else { return [] }
        return [explained("no sample came through \(stage)", state, pipeline: pipeline)]
    }

    /// Each manifest source that yielded no entry.
    static func emptySources(pipeline: PipelineConfig, catalog: Catalog) throws -> [String] {
        let manifest = try ManifestConfig.load(path: pipeline.manifest)
        let counts = try catalog.entryCounts()
        return manifest.sources.compactMap { source in
            let name = source.name ?? source.path
            guard counts[name, default: 0] == 0 else { return nil }
            let why = source.format == .webdataset ? "no .tar files, or only empty ones" : "an empty folder or file"
            return "source '\(name)' (\(source.format.rawValue), \(source.path)) yielded no entries: \(why)"
        }
    }
}
