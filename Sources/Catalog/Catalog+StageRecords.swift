/// What each stage records per unit. Each `record…` call replaces the rows of the samples it is
/// given; call it inside ``Catalog/write(_:)`` with the unit's record (the runner does).
extension Catalog {
    // MARK: - Tag

    /// A caption noun with its `Character` span and CLIP token positions.
    public struct NounRow: Sendable, Equatable {
        public var text: String, lemma: String
        public var charStart: Int, charEnd: Int
        public var tokenPositions: [Int]

        public init(text: String, lemma: String, charStart: Int, charEnd: Int, tokenPositions: [Int]) {
            (self.text, self.lemma, self.charStart, self.charEnd, self.tokenPositions) = (text, lemma, charStart, charEnd, tokenPositions)
        }
    }

    /// A mask label matched to a caption noun: the token positions its features replace.
    public struct NounLabelRow: Sendable, Equatable {
        public var k: Int
        public var label: String
        public var nounIndex: Int?
        public var tokenPositions: [Int], spanPositions: [Int]
        /// `label_ids` or `noun_span`.
        public var rule: String

        public init(k: Int, label: String, nounIndex: Int?, tokenPositions: [Int], spanPositions: [Int], rule: String) {
            (self.k, self.label, self.nounIndex, self.tokenPositions, self.spanPositions, self.rule) = (k, label, nounIndex, tokenPositions, spanPositions, rule)
        }
    }

    /// The tag stage's verdict on one sample.
    public struct TagRecord: Sendable {
        public var sampleID: String
        public var outcome: Outcome
        public var nouns: [NounRow]
        public var labels: [NounLabelRow]

        public init(sampleID: String, outcome: Outcome, nouns: [NounRow], labels: [NounLabelRow]) {
            (self.sampleID, self.outcome, self.nouns, self.labels) = (sampleID, outcome, nouns, labels)
        }
    }

    public func recordTag(unit: Int, _ records: [TagRecord], in db: Database) throws {
        for r in records {
            try db.run("DELETE FROM nouns WHERE sample_id = ?", [r.sampleID])
            // The segment stage's links are its own (it runs after tag, under a key that includes tag's).
            try db.run("DELETE FROM noun_labels WHERE sample_id = ? AND NOT (k >= ? AND k < ?)",
                       [r.sampleID, AddedMask.segmentBase, AddedMask.importBase])
            try recordStatus("tag", sampleID: r.sampleID, unit: unit, r.outcome, in: db)
            for (i, noun) in r.nouns.enumerated() {
                try db.run("""
                    INSERT INTO nouns (sample_id, idx, text, lemma, char_start, char_end, token_positions_json)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [r.sampleID, i, noun.text, noun.lemma, noun.charStart, noun.charEnd, IntegerLists.render(noun.tokenPositions)])
            }
            try insert(r.labels, sampleID: r.sampleID, in: db)
        }
    }

    /// One stage's verdict on one sample (`sample_status`).
    func recordStatus(_ stage: String, sampleID: String, unit: Int, _ outcome: Outcome, in db: Database) throws {
        try db.run("""
            INSERT OR REPLACE INTO sample_status (stage, sample_id, unit, status, reason, message) VALUES (?, ?, ?, ?, ?, ?)
            """, [stage, sampleID, unit, outcome.status, outcome.reason?.rawValue, outcome.message])
    }

    // MARK: - Crop

    /// One mask's subject as the crop stage judged it.
    public struct SubjectRow: Sendable, Codable, Equatable {
        public var k: Int
        public var label: String
        public var nounIndex: Int?
        /// `[x0, y0, x1, y1)` in pixels, when the mask has one.
        public var box: [Int]?
        public var area: Int
        public var fill: Double
        public var boxAreaRatio: Double
        public var score: Double?
        /// The crop PNG (relative to the build) of a kept subject.
        public var object: String?
        /// `ok` (kept) or `skipped` with the first filter it failed.
        public var outcome: Outcome

        public init(k: Int, label: String, nounIndex: Int?, box: [Int]?, area: Int, fill: Double, boxAreaRatio: Double,
                    score: Double?, object: String?, outcome: Outcome) {
            (self.k, self.label, self.nounIndex, self.box, self.area, self.fill) = (k, label, nounIndex, box, area, fill)
            (self.boxAreaRatio, self.score, self.object, self.outcome) = (boxAreaRatio, score, object, outcome)
        }
    }

    /// The crop stage's verdict on one sample: its subjects and its Canny image.
    public struct CropRecord: Sendable {
        public var sampleID: String
        public var outcome: Outcome
        public var subjects: [SubjectRow]
        public var canny: String?

        public init(sampleID: String, outcome: Outcome, subjects: [SubjectRow], canny: String?) {
            (self.sampleID, self.outcome, self.subjects, self.canny) = (sampleID, outcome, subjects, canny)
        }
    }

    /// Fill and box-area ratios are stored to 1e-6.
    public func recordCrop(unit: Int, _ records: [CropRecord], in db: Database) throws {
        for r in records {
            try db.run("DELETE FROM subjects WHERE sample_id = ?", [r.sampleID])
            try db.run("DELETE FROM sample_objects WHERE sample_id = ? AND stage = 'crop'", [r.sampleID])
            try recordStatus("crop", sampleID: r.sampleID, unit: unit, r.outcome, in: db)
            for s in r.subjects {
                try db.run("""
                    INSERT INTO subjects (sample_id, k, label, noun_idx, box_json, mask_area, fill_ratio, box_area_ratio,
                        score, crop_object, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [r.sampleID, s.k, s.label, s.nounIndex, s.box.map(IntegerLists.render), s.area,
                          (s.fill * 1e6).rounded() / 1e6, (s.boxAreaRatio * 1e6).rounded() / 1e6, s.score, s.object, s.outcome.status, s.outcome.reason?.rawValue])
            }
            if let canny = r.canny {
                try db.run("INSERT INTO sample_objects (sample_id, stage, kind, object) VALUES (?, 'crop', 'canny', ?)", [r.sampleID, canny])
            }
        }
    }

    // MARK: - Embed

    /// Where a sample's features are: the unit file, its row, each subject's row, the Canny row.
    public struct FeatureRow: Sendable, Equatable {
        public var path: String
        public var row: Int
        /// (mask k, subject row), in k order.
        public var subjectRows: [(Int, Int)]
        public var cannyRow: Int?

        public init(path: String, row: Int, subjectRows: [(Int, Int)], cannyRow: Int?) {
            (self.path, self.row, self.subjectRows, self.cannyRow) = (path, row, subjectRows, cannyRow)
        }

        public static func == (a: FeatureRow, b: FeatureRow) -> Bool {
            a.path == b.path && a.row == b.row && a.cannyRow == b.cannyRow && a.subjectRows.elementsEqual(b.subjectRows, by: ==)
        }
    }

    /// The embed stage's verdict on each sample, with its feature rows when ok.
    public func recordEmbed(unit: Int, _ records: [(sampleID: String, outcome: Outcome, features: FeatureRow?)], in db: Database) throws {
        for r in records {
            try db.run("DELETE FROM features WHERE sample_id = ?", [r.sampleID])
            try recordStatus("embed", sampleID: r.sampleID, unit: unit, r.outcome, in: db)
            guard let f = r.features else { continue }
            try db.run("INSERT INTO features (sample_id, unit, path, row, subject_rows_json, canny_row) VALUES (?, ?, ?, ?, ?, ?)",
                       [r.sampleID, unit, f.path, f.row, IntegerLists.render(pairs: f.subjectRows), f.cannyRow])
        }
    }

    // MARK: - Shard

    /// A shard file as written.
    public struct ShardFile: Sendable, Equatable {
        public var id: String, path: String
        public var rows: Int, bytes: Int
        public var sha256: String
        public var schemaVersion: Int
        public var configHash: String

        public init(id: String, path: String, rows: Int, bytes: Int, sha256: String, schemaVersion: Int, configHash: String) {
            (self.id, self.path, self.rows, self.bytes, self.sha256, self.schemaVersion, self.configHash) = (id, path, rows, bytes, sha256, schemaVersion, configHash)
        }
    }

    /// One unit's shard `id`: the file (none when no sample was kept), each kept sample's row
    /// and split, and every sample's verdict.
    public func recordShard(unit: Int, id: String, file: ShardFile?, rows: [(sampleID: String, split: String)],
                            verdicts: [(sampleID: String, outcome: Outcome)], in db: Database) throws {
        try db.run("DELETE FROM shard_rows WHERE shard = ?", [id])
        try db.run("DELETE FROM shards WHERE id = ?", [id])
        if let f = file {
            try db.run("INSERT INTO shards (id, path, rows, bytes, sha256, schema_version, config_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [f.id, f.path, f.rows, f.bytes, f.sha256, f.schemaVersion, f.configHash])
        }
        for (row, entry) in rows.enumerated() {
            try db.run("INSERT OR REPLACE INTO shard_rows (sample_id, shard, row, split) VALUES (?, ?, ?, ?)", [entry.sampleID, id, row, entry.split])
        }
        for v in verdicts { try recordStatus("shard", sampleID: v.sampleID, unit: unit, v.outcome, in: db) }
    }
}
