/// Masks added to accepted samples after ingest (`added_masks`): the segment stage's, and those
/// an import brings. Each is a COCO RLE (`{"size": [h, w], "counts": "…"}`) in `data_json`, so
/// the catalog alone holds it.
public enum AddedMask {
    /// Segment masks take k = `segmentBase` + the noun's index; imported ones k from
    /// `importBase` on; input masks stay below `segmentBase`. Shards let later subjects win a
    /// token position, so k order is input < segment < imported.
    public static let segmentBase = 1_000_000
    public static let importBase = 2_000_000
    /// The origin of the segment stage's masks; an import's is its id.
    public static let segmentOrigin = "segment"
    /// The kinds an added mask is recorded with: `clipseg` (the segment stage), and one per
    /// import format.
    public static let kinds: Set<String> = ["clipseg", "jsonl_rle", "jsonl_polygon", "jsonl_png", "grounded_sam"]
}

extension Catalog {
    /// An added mask as recorded.
    public struct AddedMaskRow: Sendable, Equatable, Codable {
        public var k: Int
        public var kind: String
        public var label: String?
        public var score: Double?
        /// `[x0, y0, x1, y1)` in pixels.
        public var box: [Int]?
        /// COCO RLE JSON.
        public var rle: String

        public init(k: Int, kind: String, label: String?, score: Double?, box: [Int]?, rle: String) {
            (self.k, self.kind, self.label, self.score, self.box, self.rle) = (k, kind, label, score, box, rle)
        }
    }

    /// A sample the tag stage kept, as the segment stage reads it: its caption's nouns, and
    /// whether it has masks already (from its input or an import).
    public struct SegmentSample: Sendable {
        public var sampleID: String
        public var source: String
        public var imageRef: String
        public var caption: String
        public var hasMasks: Bool
        /// (noun index, noun as the caption writes it, lemma), in caption order.
        public var nouns: [(index: Int, text: String, lemma: String)]

        public init(sampleID: String, source: String, imageRef: String, caption: String, hasMasks: Bool,
                    nouns: [(index: Int, text: String, lemma: String)]) {
            (self.sampleID, self.source, self.imageRef, self.caption, self.hasMasks, self.nouns) = (sampleID, source, imageRef, caption, hasMasks, nouns)
        }
    }

    /// The samples of one unit that the tag stage kept, in manifest order, with their nouns.
    public func segmentSamples(unit: Int) throws -> [SegmentSample] {
        let kept = StageInput.keptByTag.condition
        var items: [SegmentSample] = []
        var bySample: [String: Int] = [:]
        try database.forEach("""
            SELECT e.sample_id, e.source, e.image_ref, e.caption,
                   EXISTS (SELECT 1 FROM masks m WHERE m.position = e.position)
                   OR EXISTS (SELECT 1 FROM added_masks a WHERE a.sample_id = e.sample_id AND a.origin <> ?) AS has_masks
            FROM entries e WHERE e.unit = ? AND \(kept) ORDER BY e.position
            """, [AddedMask.segmentOrigin, unit]) { r in
            bySample[r["sample_id"].string ?? ""] = items.count
            items.append(SegmentSample(sampleID: r["sample_id"].string ?? "", source: r["source"].string ?? "", imageRef: r["image_ref"].string ?? "",
                                       caption: r["caption"].string ?? "", hasMasks: (r["has_masks"].int ?? 0) != 0, nouns: []))
        }
        try database.forEach("""
            SELECT n.sample_id, n.idx, n.text, n.lemma FROM nouns n JOIN entries e ON e.sample_id = n.sample_id
            WHERE e.unit = ? AND \(kept) ORDER BY n.sample_id, n.idx
            """, [unit]) { r in
            guard let i = bySample[r["sample_id"].string ?? ""] else { return }
            items[i].nouns.append((try self.int(r, "idx", of: "nouns"), r["text"].string ?? "", r["lemma"].string ?? ""))
        }
        return items
    }

    /// The segment stage's verdict on one sample: its masks and their links to the caption's nouns.
    public struct SegmentRecord: Sendable {
        public var sampleID: String
        public var outcome: Outcome
        public var masks: [AddedMaskRow]
        public var labels: [NounLabelRow]

        public init(sampleID: String, outcome: Outcome, masks: [AddedMaskRow], labels: [NounLabelRow]) {
            (self.sampleID, self.outcome, self.masks, self.labels) = (sampleID, outcome, masks, labels)
        }
    }

    /// Replaces each sample's segment masks and their noun links.
    public func recordSegment(unit: Int, _ records: [SegmentRecord], in db: Database) throws {
        for r in records {
            try db.run("DELETE FROM added_masks WHERE sample_id = ? AND origin = ?", [r.sampleID, AddedMask.segmentOrigin])
            try db.run("DELETE FROM noun_labels WHERE sample_id = ? AND k >= ? AND k < ?", [r.sampleID, AddedMask.segmentBase, AddedMask.importBase])
            try recordStatus("segment", sampleID: r.sampleID, unit: unit, r.outcome, in: db)
            for m in r.masks {
                try insert(m, sampleID: r.sampleID, origin: AddedMask.segmentOrigin, in: db)
            }
            try insert(r.labels, sampleID: r.sampleID, in: db)
        }
    }

    func insert(_ m: AddedMaskRow, sampleID: String, origin: String, in db: Database) throws {
        try db.run("""
            INSERT OR REPLACE INTO added_masks (sample_id, k, origin, kind, label, score, box_json, data_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [sampleID, m.k, origin, m.kind, m.label, m.score, m.box.map(IntegerLists.render), m.rle])
    }

    func insert(_ labels: [NounLabelRow], sampleID: String, in db: Database) throws {
        for label in labels {
            try db.run("""
                INSERT OR REPLACE INTO noun_labels (sample_id, k, label, noun_idx, token_positions_json, span_positions_json, positions_rule)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, [sampleID, label.k, label.label, label.nounIndex, IntegerLists.render(label.tokenPositions),
                      IntegerLists.render(label.spanPositions), label.rule])
        }
    }

    /// Each sample's added masks in one unit, as mask records; segment masks only when asked.
    func addedMasks(unit: Int, condition: String, segment: Bool) throws -> [String: [MaskRecord]] {
        var masks: [String: [MaskRecord]] = [:]
        try database.forEach("""
            SELECT a.sample_id, a.k, a.kind, a.label, a.score, a.box_json, a.data_json FROM added_masks a
            JOIN entries e ON e.sample_id = a.sample_id WHERE e.unit = ? AND \(condition) AND (? OR a.origin <> ?) ORDER BY a.sample_id, a.k
            """, [unit, segment ? 1 : 0, AddedMask.segmentOrigin]) { r in
            masks[r["sample_id"].string ?? "", default: []].append(try MaskRecord(addedRow: r, in: self))
        }
        return masks
    }
}

extension MaskRecord {
    /// From an `added_masks` row, columns by name.
    init(addedRow r: Row, in catalog: Catalog) throws {
        self.init(k: try catalog.int(r, "k", of: "added_masks"), kind: r["kind"].string ?? "", label: r["label"].string,
                  score: r["score"].double, boxJSON: r["box_json"].string, dataJSON: r["data_json"].string)
    }
}
