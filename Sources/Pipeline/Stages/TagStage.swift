public import Catalog
import Foundation
import Text

/// One accepted sample as the tag stage reads it: its caption and mask labels.
public struct TagItem: Sendable {
    public var sampleID: String
    public var source: String
    public var imageRef: String
    public var caption: String
    /// (mask k, label) for each mask; the label is nil where the manifest gave none.
    public var labels: [(k: Int, label: String?)]
}

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
        do {
            tokenizer = config.tokenizer.isEmpty ? try CLIPTokenizer() : try CLIPTokenizer(directory: config.tokenizer)
            finder = NounFinder(tagger: try .bundled(), tokenizer: tokenizer)
        } catch {
            throw PipelineError(.config, "cannot load the tokenizer: \(error)", key: "tag.tokenizer")
        }
        configHash = try StageKeys(pipeline: pipeline).tag()
        configJSON = ConfigLoader.canonicalJSON(pipeline)
    }

    /// The ingest stage's units with accepted samples, each loaded lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<TagItem>>, samples: Int) {
        try WorkUnit.fromCatalog(input.database, countSQL: "SELECT unit, COUNT(*) FROM entries WHERE status = 'ok' GROUP BY unit ORDER BY unit",
                                 load: { try Self.load(unit: $0, from: $1) })
    }

    static func load(unit: Int, from db: Database) throws -> [TagItem] {
        var items: [TagItem] = []
        var byPosition: [Int: Int] = [:]
        try db.forEach("""
            SELECT position, sample_id, source, image_ref, caption FROM entries WHERE unit = ? AND status = 'ok' ORDER BY position
            """, [unit]) { row in
            byPosition[row[0].int!] = items.count
            items.append(TagItem(sampleID: row[1].string ?? "", source: row[2].string ?? "", imageRef: row[3].string ?? "",
                                 caption: row[4].string ?? "", labels: []))
        }
        try db.forEach("""
            SELECT m.position, m.k, m.label FROM masks m JOIN entries e ON e.position = m.position
            WHERE e.unit = ? AND e.status = 'ok' ORDER BY m.position, m.k
            """, [unit]) { r in
            guard let i = byPosition[r[0].int!] else { return }
            items[i].labels.append((r[1].int!, r[2].string))
        }
        return items
    }

    /// What the stage found in one sample.
    struct Result: Sendable {
        var item: TagItem
        var status = "ok"
        var reason: String?
        var message: String?
        var nouns: [NounFinder.Noun] = []
        var nounPositions: [[Int]] = []
        var matches: [(k: Int, match: NounFinder.Match)] = []
    }

    public func process(unit: Int, firstPosition: Int, items: [TagItem]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    public func process(unit: Int, firstPosition: Int, items: [TagItem], progress: ItemProgress) throws -> UnitOutput {
        var results = [Result?](repeating: nil, count: items.count)
        nonisolated(unsafe) let stage = self
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: items.count) { i in
                out[i] = stage.tag(items[i])
                progress.advance()
            }
        }
        let done = results.map { $0! }
        var files: [(String, [UInt8])] = []
        if config.groundingPrompts {
            let lines = done.filter { $0.status == "ok" }.map { Self.promptLine($0) }
            if !lines.isEmpty {
                files.append((String(format: "exports/grounding/unit-%05d.jsonl", unit), Array(lines.joined().utf8)))
            }
        }
        let substituteAtNoun = config.substituteAtNoun
        return UnitOutput(files: files) { _, db in
            for r in done {
                let id = r.item.sampleID
                try db.run("DELETE FROM nouns WHERE sample_id = ?", [id])
                try db.run("DELETE FROM noun_labels WHERE sample_id = ?", [id])
                try db.run("""
                    INSERT OR REPLACE INTO sample_status (stage, sample_id, unit, status, reason, message)
                    VALUES ('tag', ?, ?, ?, ?, ?)
                    """, [id, unit, r.status, r.reason, r.message])
                for (i, noun) in r.nouns.enumerated() {
                    try db.run("""
                        INSERT INTO nouns (sample_id, idx, text, lemma, char_start, char_end, token_positions_json)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, [id, i, noun.text, noun.lemma, noun.characters.lowerBound, noun.characters.upperBound,
                              Self.json(r.nounPositions[i])])
                }
                for (k, match) in r.matches {
                    let rule = match.rule(substituteAtNoun: substituteAtNoun)
                    try db.run("""
                        INSERT INTO noun_labels (sample_id, k, label, noun_idx, token_positions_json, span_positions_json, positions_rule)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, [id, k, match.label, match.noun, Self.json(match.positions(substituteAtNoun: substituteAtNoun)),
                              Self.json(match.spanPositions), rule.rawValue])
                }
            }
            return done.map { ItemOutcome(status: $0.status, reason: $0.reason) }
        }
    }

    static func json(_ positions: [Int]) -> String { JSONText.render(.array(positions.map { .int($0) })) }

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
            result.status = "skipped"
            result.reason = "no_nouns"
            result.message = "the caption has no object noun"
        } else if config.requireLabelMatch, let missing = result.matches.first(where: { $0.match.noun == nil }) {
            result.status = "skipped"
            result.reason = "label_not_in_caption"
            result.message = "mask \(missing.k) label '\(missing.match.label)' matches no noun of the caption"
        }
        return result
    }
}
