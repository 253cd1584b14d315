/// What each stage reads from the catalog: which samples it takes, grouped by the ingest
/// stage's units, and each unit's samples as typed records.
extension Catalog {
    /// The samples a stage takes.
    public enum StageInput: Sendable {
        /// Entries the ingest stage accepted (tag's input).
        case accepted
        /// Accepted samples the tag stage did not skip (crop's input).
        case keptByTag
        /// Accepted samples the crop stage kept (embed's input).
        case keptByCrop
        /// Accepted samples with features (shard's input).
        case embedded

        /// The condition over `entries e`.
        var condition: String {
            switch self {
            case .accepted: "e.status = 'ok'"
            case .keptByTag:
                "e.status = 'ok' AND NOT EXISTS (SELECT 1 FROM sample_status t WHERE t.stage = 'tag' AND t.sample_id = e.sample_id AND t.status <> 'ok')"
            case .keptByCrop:
                "e.status = 'ok' AND EXISTS (SELECT 1 FROM sample_status c WHERE c.stage = 'crop' AND c.sample_id = e.sample_id AND c.status = 'ok')"
            case .embedded: "e.status = 'ok' AND EXISTS (SELECT 1 FROM features f WHERE f.sample_id = e.sample_id)"
            }
        }
    }

    /// (unit, samples) of every unit holding some of `input`, in unit order.
    public func unitCounts(_ input: StageInput) throws -> [(unit: Int, count: Int)] {
        try database.query("SELECT e.unit AS unit, COUNT(*) AS count FROM entries e WHERE \(input.condition) GROUP BY e.unit ORDER BY e.unit")
            .map { ($0["unit"].int ?? 0, $0["count"].int ?? 0) }
    }

    /// The units holding some of `input`.
    public func units(holding input: StageInput) throws -> Set<Int> {
        Set(try unitCounts(input).map(\.unit))
    }

    /// Source name -> root folder.
    public func sourceRoots() throws -> [String: String] {
        var roots: [String: String] = [:]
        try database.forEach("SELECT name, root FROM sources") { roots[$0["name"].string ?? ""] = $0["root"].string }
        return roots
    }

    // MARK: - Per-unit samples

    /// An accepted sample with its caption and mask labels (the tag stage's item).
    public struct CaptionedSample: Sendable {
        public var sampleID: String
        public var source: String
        public var imageRef: String
        public var caption: String
        /// (mask k, label) for each mask; the label is nil where the manifest gave none.
        public var labels: [(k: Int, label: String?)]

        public init(sampleID: String, source: String, imageRef: String, caption: String, labels: [(k: Int, label: String?)]) {
            (self.sampleID, self.source, self.imageRef, self.caption, self.labels) = (sampleID, source, imageRef, caption, labels)
        }
    }

    /// The accepted samples of one unit in manifest order.
    public func captionedSamples(unit: Int) throws -> [CaptionedSample] {
        var items: [CaptionedSample] = []
        var byPosition: [Int: Int] = [:]
        try database.forEach("""
            SELECT position, sample_id, source, image_ref, caption FROM entries WHERE unit = ? AND status = 'ok' ORDER BY position
            """, [unit]) { row in
            byPosition[try self.int(row, "position", of: "entries")] = items.count
            items.append(CaptionedSample(sampleID: row["sample_id"].string ?? "", source: row["source"].string ?? "",
                                         imageRef: row["image_ref"].string ?? "", caption: row["caption"].string ?? "", labels: []))
        }
        try database.forEach("""
            SELECT m.position, m.k, m.label FROM masks m JOIN entries e ON e.position = m.position
            WHERE e.unit = ? AND e.status = 'ok' ORDER BY m.position, m.k
            """, [unit]) { r in
            guard let i = byPosition[try self.int(r, "position", of: "masks")] else { return }
            items[i].labels.append((try self.int(r, "k", of: "masks"), r["label"].string))
        }
        // Imported masks are linked to nouns like input masks; the segment stage links its own.
        let bySample = Dictionary(items.indices.map { (items[$0].sampleID, $0) }, uniquingKeysWith: { first, _ in first })
        for (sampleID, masks) in try addedMasks(unit: unit, condition: "e.status = 'ok'", segment: false) {
            guard let i = bySample[sampleID] else { continue }
            items[i].labels += masks.map { ($0.k, $0.label) }
        }
        return items
    }

    /// A sample the tag stage kept, with its masks and the caption noun each mask matched.
    public struct MaskedSample: Sendable {
        public var sampleID: String
        public var source: String
        public var imageRef: String
        /// The entry's JSON metadata (a downloader's original size, …).
        public var metadataJSON: String?
        public var masks: [MaskRecord] = []
        /// Mask k -> index of the caption noun its label matched.
        public var nounIndex: [Int: Int] = [:]
    }

    /// The samples of one unit that the tag stage kept, in manifest order, with their input and
    /// imported masks, and the segment stage's when `segmentMasks`.
    public func maskedSamples(unit: Int, segmentMasks: Bool = false) throws -> [MaskedSample] {
        let kept = StageInput.keptByTag.condition
        var items: [MaskedSample] = []
        var byPosition: [Int: Int] = [:], bySample: [String: Int] = [:]
        try database.forEach("""
            SELECT e.position, e.sample_id, e.source, e.image_ref, e.metadata_json FROM entries e WHERE e.unit = ? AND \(kept)
            ORDER BY e.position
            """, [unit]) { row in
            bySample[row["sample_id"].string ?? ""] = items.count
            byPosition[try self.int(row, "position", of: "entries")] = items.count
            items.append(MaskedSample(sampleID: row["sample_id"].string ?? "", source: row["source"].string ?? "",
                                      imageRef: row["image_ref"].string ?? "", metadataJSON: row["metadata_json"].string))
        }
        try database.forEach("""
            SELECT m.position, m.k, m.kind, m.ref, m.value, m.label, m.score, m.box_json, m.data_json
            FROM masks m JOIN entries e ON e.position = m.position
            WHERE e.unit = ? AND \(kept) ORDER BY m.position, m.k
            """, [unit]) { r in
            guard let i = byPosition[try self.int(r, "position", of: "masks")] else { return }
            items[i].masks.append(try MaskRecord(row: r, in: self))
        }
        for (sampleID, masks) in try addedMasks(unit: unit, condition: kept, segment: segmentMasks) {
            guard let i = bySample[sampleID] else { continue }
            items[i].masks += masks
        }
        try database.forEach("""
            SELECT l.sample_id, l.k, l.noun_idx FROM noun_labels l JOIN entries e ON e.sample_id = l.sample_id
            WHERE e.unit = ? AND \(kept) AND l.noun_idx IS NOT NULL
            """, [unit]) { r in
            guard let i = bySample[r["sample_id"].string ?? ""] else { return }
            items[i].nounIndex[try self.int(r, "k", of: "noun_labels")] = try self.int(r, "noun_idx", of: "noun_labels")
        }
        return items
    }

    /// A sample the crop stage kept, with its kept subjects' crops (the embed stage's item).
    public struct CroppedSample: Sendable {
        public var sampleID: String
        public var source: String
        public var imageRef: String
        public var caption: String
        /// (mask k, crop object path) of each kept subject, in k order.
        public var subjects: [(k: Int, object: String)]
        public var canny: String?

        public init(sampleID: String, source: String, imageRef: String, caption: String, subjects: [(k: Int, object: String)], canny: String?) {
            (self.sampleID, self.source, self.imageRef, self.caption, self.subjects, self.canny) = (sampleID, source, imageRef, caption, subjects, canny)
        }
    }

    /// The samples of one unit that the crop stage kept, in manifest order.
    public func croppedSamples(unit: Int) throws -> [CroppedSample] {
        let kept = StageInput.keptByCrop.condition
        var items: [CroppedSample] = []
        var bySample: [String: Int] = [:]
        try database.forEach("""
            SELECT e.sample_id, e.source, e.image_ref, e.caption FROM entries e WHERE e.unit = ? AND \(kept) ORDER BY e.position
            """, [unit]) { r in
            bySample[r["sample_id"].string ?? ""] = items.count
            items.append(CroppedSample(sampleID: r["sample_id"].string ?? "", source: r["source"].string ?? "",
                                       imageRef: r["image_ref"].string ?? "", caption: r["caption"].string ?? "", subjects: [], canny: nil))
        }
        try database.forEach("""
            SELECT s.sample_id, s.k, s.crop_object FROM subjects s JOIN entries e ON e.sample_id = s.sample_id
            WHERE e.unit = ? AND \(kept) AND s.status = 'ok' ORDER BY s.sample_id, s.k
            """, [unit]) { r in
            guard let i = bySample[r["sample_id"].string ?? ""], let object = r["crop_object"].string else { return }
            items[i].subjects.append((try self.int(r, "k", of: "subjects"), object))
        }
        try database.forEach("""
            SELECT o.sample_id, o.object FROM sample_objects o JOIN entries e ON e.sample_id = o.sample_id
            WHERE e.unit = ? AND \(kept) AND o.kind = 'canny'
            """, [unit]) { r in
            guard let i = bySample[r["sample_id"].string ?? ""] else { return }
            items[i].canny = r["object"].string
        }
        return items
    }

    /// A sample with features, and each kept subject's feature row and token positions (the shard
    /// stage's item).
    public struct EmbeddedSample: Sendable {
        public var sampleID: String
        public var caption: String
        public var featurePath: String
        public var featureRow: Int
        /// (mask k, subject feature row, reference token positions) of each kept subject with a
        /// caption noun, in k order.
        public var subjects: [(k: Int, row: Int, positions: [Int])]
        public var cannyRow: Int?

        public init(sampleID: String, caption: String, featurePath: String, featureRow: Int,
                    subjects: [(k: Int, row: Int, positions: [Int])], cannyRow: Int?) {
            (self.sampleID, self.caption, self.featurePath, self.featureRow, self.subjects, self.cannyRow)
                = (sampleID, caption, featurePath, featureRow, subjects, cannyRow)
        }
    }

    /// The samples of one unit with features, in manifest order.
    /// - Throws: ``CatalogError`` `.corrupt` for a JSON column that is not the list it should be.
    public func embeddedSamples(unit: Int) throws -> [EmbeddedSample] {
        var items: [EmbeddedSample] = []
        var bySample: [String: Int] = [:]
        var subjectRows: [Int: [Int: Int]] = [:]
        try database.forEach("""
            SELECT e.sample_id, e.caption, f.path, f.row, f.subject_rows_json, f.canny_row FROM entries e
            JOIN features f ON f.sample_id = e.sample_id WHERE e.unit = ? AND e.status = 'ok' ORDER BY e.position
            """, [unit]) { r in
            bySample[r["sample_id"].string ?? ""] = items.count
            var rows: [Int: Int] = [:]
            for pair in try IntegerLists.pairs(r["subject_rows_json"].string ?? "[]", column: "features.subject_rows_json", path: self.path) {
                rows[pair.0] = pair.1
            }
            subjectRows[items.count] = rows
            items.append(EmbeddedSample(sampleID: r["sample_id"].string ?? "", caption: r["caption"].string ?? "",
                                        featurePath: r["path"].string ?? "", featureRow: try self.int(r, "row", of: "features"),
                                        subjects: [], cannyRow: r["canny_row"].int))
        }
        try database.forEach("""
            SELECT s.sample_id, s.k, l.token_positions_json FROM subjects s
            JOIN noun_labels l ON l.sample_id = s.sample_id AND l.k = s.k
            JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE e.unit = ? AND s.status = 'ok' AND s.noun_idx IS NOT NULL ORDER BY s.sample_id, s.k
            """, [unit]) { r in
            guard let i = bySample[r["sample_id"].string ?? ""], let k = r["k"].int, let row = subjectRows[i]?[k] else { return }
            let positions = try IntegerLists.list(r["token_positions_json"].string ?? "[]", column: "noun_labels.token_positions_json", path: self.path)
            items[i].subjects.append((k, row, positions))
        }
        return items
    }

    /// An integer column that must hold one.
    func int(_ row: Row, _ column: String, of table: String) throws -> Int {
        guard let int = row[column].int else {
            throw CatalogError(.corrupt, "\(table).\(column) holds \(row[column]), not an integer", path: path)
        }
        return int
    }
}
