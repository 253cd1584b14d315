public import BuildConfig
import BuildSupport
public import Catalog
import Foundation
import Text

/// One accepted sample as the tag stage reads it: its caption and mask labels.
public typealias TagItem = Catalog.CaptionedSample

/// The tag stage: finds each caption's object nouns (rule-based tagger + noun finder), records
/// them with lemmas, character spans and CLIP token positions, matches each mask label to its
/// noun with the reference substitution's token positions, and skips samples whose caption has
/// no noun or a label it does not contain. Optionally exports each unit's noun lists as
/// Grounding-DINO text prompts. Units follow the ingest stage's.
public struct TagStage: UnitProcessor {
    public typealias Item = TagItem

    public let config: TagConfig
    public var stage: String { "tag" }
    public let configHash: String
    public let configJSON: String
    let finder: NounFinder
    let tokenizer: CLIPTokenizer
    let input: Catalog

    /// - Parameter input: the catalog holding the ingest stage's entries (the build's).
    public init(pipeline: PipelineConfig, input: Catalog) throws {
        config = pipeline.tag
        self.input = input
        finder = try config.nounFinder()
        tokenizer = finder.tokenizer
        configHash = try StageKeys(pipeline: pipeline).tag()
        configJSON = ConfigLoader.canonicalJSON(pipeline)
    }

    /// The ingest stage's units with accepted samples, each loaded lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<TagItem>>, samples: Int) {
        let input = self.input
        return try WorkUnit.units(input.unitCounts(.accepted)) { try input.captionedSamples(unit: $0) }
    }

    /// What the stage found in one sample.
    struct Result: Sendable {
        var item: TagItem
        var outcome = Outcome.ok
        var nouns: [NounFinder.Noun] = []
        var nounPositions: [[Int]] = []
        var matches: [(k: Int, match: NounFinder.Match)] = []
    }

    public func process(unit: Int, firstPosition: Int, items: [TagItem]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    public func process(unit: Int, firstPosition: Int, items: [TagItem], progress: ItemProgress) throws -> UnitOutput {
        let done = ParallelMap.map(items) { item in
            defer { progress.advance() }
            return tag(item)
        }
        var files: [(String, [UInt8])] = []
        if config.groundingPrompts {
            let lines = done.filter { $0.outcome.isOK }.map { Self.promptLine($0) }
            if !lines.isEmpty {
                files.append((String(format: "exports/grounding/unit-%05d.jsonl", unit), Array(lines.joined().utf8)))
            }
        }
        let substituteAtNoun = config.substituteAtNoun
        let records = done.map { r in
            Catalog.TagRecord(
                sampleID: r.item.sampleID, outcome: r.outcome,
                nouns: zip(r.nouns, r.nounPositions).map { noun, positions in
                    Catalog.NounRow(text: noun.text, lemma: noun.lemma, charStart: noun.characters.lowerBound,
                                    charEnd: noun.characters.upperBound, tokenPositions: positions)
                },
                labels: r.matches.map { k, match in
                    Catalog.NounLabelRow(k: k, label: match.label, nounIndex: match.noun, tokenPositions: match.positions(substituteAtNoun: substituteAtNoun),
                                         spanPositions: match.spanPositions, rule: match.rule(substituteAtNoun: substituteAtNoun).rawValue)
                })
        }
        return UnitOutput(files: files) { catalog, db in
            try catalog.recordTag(unit: unit, records, in: db)
            return records.map(\.outcome)
        }
    }

    /// One JSON line: the sample's nouns and the Grounding-DINO prompt ("dog . red couch .").
    static func promptLine(_ r: Result) -> String {
        var seen = Set<String>()
        let phrases = r.nouns.map { $0.text.lowercased() }.filter { seen.insert($0).inserted }
        return JSONText.object([
            "sample_id": .string(r.item.sampleID), "source": .string(r.item.source), "image": .string(r.item.imageRef),
            "caption": .string(r.item.caption), "nouns": .array(phrases.map { .string($0) }),
            "text_prompt": .string(phrases.map { $0 + " ." }.joined(separator: " ")),
        ]) + "\n"
    }

    /// Tags one sample. Never throws: problems become its status.
    func tag(_ item: TagItem) -> Result {
        var result = Result(item: item)
        result.nouns = finder.nouns(in: item.caption)
        result.nounPositions = result.nouns.map { finder.tokenPositions(of: $0, in: item.caption) }
        let labelled = item.labels.compactMap { entry in entry.label.map { (k: entry.k, label: $0) } }
        if !labelled.isEmpty {
            let matches = finder.match(labels: labelled.map(\.label), caption: item.caption)
            result.matches = zip(labelled, matches).map { ($0.k, $1) }
        }
        if config.requireNoun && result.nouns.isEmpty {
            result.outcome = .skipped(.noNouns, "the caption has no object noun")
        } else if config.requireLabelMatch, let missing = result.matches.first(where: { $0.match.noun == nil }) {
            result.outcome = .skipped(.labelNotInCaption, "mask \(missing.k) label '\(missing.match.label)' matches no noun of the caption")
        }
        return result
    }
}
