/// One manifest entry as the ingest stage records it.
public struct EntryRecord: Sendable, Equatable {
    public var position: Int
    public var unit: Int
    public var source: String
    public var sourceKey: String
    public var sampleID: String?
    public var outcome: Outcome
    public var caption: String?
    public var width: Int?
    public var height: Int?
    public var format: String?
    /// JSON: `{"path": …}` or `{"tar": …, "member": …, "offset": …, "size": …}`.
    public var imageRef: String?
    public var imageBytes: Int?
    public var metadataJSON: String?
    public var masks: [MaskRecord]

    public init(position: Int, unit: Int, source: String, sourceKey: String, sampleID: String? = nil,
                outcome: Outcome = .ok, caption: String? = nil,
                width: Int? = nil, height: Int? = nil, format: String? = nil, imageRef: String? = nil,
                imageBytes: Int? = nil, metadataJSON: String? = nil, masks: [MaskRecord] = []) {
        (self.position, self.unit, self.source, self.sourceKey, self.sampleID) = (position, unit, source, sourceKey, sampleID)
        (self.outcome, self.caption, self.width, self.height, self.format) = (outcome, caption, width, height, format)
        (self.imageRef, self.imageBytes, self.metadataJSON, self.masks) = (imageRef, imageBytes, metadataJSON, masks)
    }
}

/// A mask reference of an entry: an instance value in a PNG map, a binary PNG, COCO RLE or polygons.
public struct MaskRecord: Sendable, Equatable {
    public var k: Int
    /// `instance_map`, `binary_png`, `coco_rle` or `coco_polygon`.
    public var kind: String
    public var ref: String?
    public var value: Int?
    public var label: String?
    public var score: Double?
    public var boxJSON: String?
    public var dataJSON: String?

    public init(k: Int, kind: String, ref: String? = nil, value: Int? = nil, label: String? = nil,
                score: Double? = nil, boxJSON: String? = nil, dataJSON: String? = nil) {
        self.k = k
        self.kind = kind
        self.ref = ref
        self.value = value
        self.label = label
        self.score = score
        self.boxJSON = boxJSON
        self.dataJSON = dataJSON
    }
}

extension MaskRecord {
    /// From a `masks` row, columns by name.
    init(row: Row, in catalog: Catalog) throws {
        self.init(k: try catalog.int(row, "k", of: "masks"), kind: row["kind"].string ?? "", ref: row["ref"].string,
                  value: row["value"].int, label: row["label"].string, score: row["score"].double,
                  boxJSON: row["box_json"].string, dataJSON: row["data_json"].string)
    }
}

/// The messages the catalog gives the duplicates it resolves.
enum DuplicateMessage {
    static let key = "the same key appeared earlier in this source"
    static let content = "same image bytes and caption as an earlier entry"
}

extension Catalog {
    /// Replaces the entries of one unit, resolving duplicates in manifest order: an intrinsically
    /// good entry is `skipped(duplicate_key)` when an earlier entry of the same source had the same
    /// key, else `skipped(duplicate_content)` when an earlier accepted entry has the same sample id.
    /// Call inside ``write(_:)``.
    /// - Returns: the entries with their final statuses.
    public func replaceEntries(unit: Int, _ entries: [EntryRecord], in db: Database) throws -> [EntryRecord] {
        try db.run("DELETE FROM masks WHERE position IN (SELECT position FROM entries WHERE unit = ?)", [unit])
        try db.run("DELETE FROM entries WHERE unit = ?", [unit])
        let sorted = entries.sorted(by: { $0.position < $1.position })
        let later = try db.scalar("SELECT 1 FROM entries WHERE position > ? LIMIT 1", [sorted.last?.position ?? Int.max])
        if later != .null {
            // Redone out of order: park accepted entries as duplicates (so the unique index holds),
            // then recompute every verdict in manifest order.
            for var entry in sorted {
                if entry.outcome.isOK { entry.outcome = .skipped(.duplicateContent, DuplicateMessage.content) }
                try insert(entry, in: db)
            }
            try resolveDuplicates(in: db)
            var verdicts: [Int: Outcome] = [:]
            try db.forEach("SELECT position, status, reason, message FROM entries WHERE unit = ?", [unit]) { row in
                let status = row["status"].string ?? "", reason = row["reason"].string
                guard let position = row["position"].int,
                      let outcome = Outcome(status: status, reason: reason, message: row["message"].string) else {
                    throw CatalogError(.corrupt, "entries.reason: unknown verdict \(status) \(reason ?? "")", path: path)
                }
                verdicts[position] = outcome
            }
            return sorted.map { entry in
                var e = entry
                if let v = verdicts[e.position] { e.outcome = v }
                return e
            }
        }
        var resolved: [EntryRecord] = []
        for var entry in sorted {
            if entry.outcome.isOK {
                let earlierKey = try db.scalar("""
                    SELECT 1 FROM entries WHERE source = ? AND source_key = ? AND position < ? LIMIT 1
                    """, [entry.source, entry.sourceKey, entry.position])
                let earlierSample = try db.scalar("""
                    SELECT 1 FROM entries WHERE sample_id = ? AND status = 'ok' AND position < ? LIMIT 1
                    """, [entry.sampleID, entry.position])
                if earlierKey != .null {
                    entry.outcome = .skipped(.duplicateKey, DuplicateMessage.key)
                } else if earlierSample != .null {
                    entry.outcome = .skipped(.duplicateContent, DuplicateMessage.content)
                }
            }
            try insert(entry, in: db)
            resolved.append(entry)
        }
        return resolved
    }

    private func insert(_ e: EntryRecord, in db: Database) throws {
        try db.run("""
            INSERT INTO entries (position, unit, source, source_key, sample_id, status, reason, message, caption,
                width, height, format, image_ref, image_bytes, metadata_json)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [e.position, e.unit, e.source, e.sourceKey, e.sampleID, e.outcome.status, e.outcome.reason?.rawValue, e.outcome.message, e.caption,
                  e.width, e.height, e.format, e.imageRef, e.imageBytes, e.metadataJSON])
        for m in e.masks {
            try db.run("""
                INSERT INTO masks (position, k, kind, ref, value, label, score, box_json, data_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [e.position, m.k, m.kind, m.ref, m.value, m.label, m.score, m.boxJSON, m.dataJSON])
        }
    }

    /// Recomputes every duplicate verdict over the whole `entries` table in manifest order, with
    /// the same rules as ``replaceEntries(unit:_:in:)``. Used after a merge, and after a unit was
    /// redone while later units already existed. Call inside ``write(_:)``.
    public func resolveDuplicates(in db: Database) throws {
        try db.execute("""
            DROP TABLE IF EXISTS temp.verdicts;
            CREATE TEMP TABLE verdicts AS
            WITH base AS (
                SELECT position, source, source_key, sample_id,
                       CASE WHEN reason IN ('\(Reason.duplicateKey)', '\(Reason.duplicateContent)') THEN 'ok'
                            ELSE status END AS intrinsic
                FROM entries),
            keyed AS (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY source, source_key ORDER BY position) AS key_rank
                FROM base),
            candidates AS (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY sample_id ORDER BY position) AS sample_rank
                FROM keyed WHERE intrinsic = 'ok' AND key_rank = 1)
            SELECT k.position,
                   CASE WHEN k.intrinsic <> 'ok' THEN NULL
                        WHEN k.key_rank > 1 THEN '\(Reason.duplicateKey)'
                        WHEN c.sample_rank > 1 THEN '\(Reason.duplicateContent)'
                        ELSE 'ok' END AS verdict
            FROM keyed k LEFT JOIN candidates c ON c.position = k.position;
            """)
        // Demote first, then promote, so that at most one entry per sample is ever 'ok'.
        try db.run("""
            UPDATE entries SET status = 'skipped',
                reason = (SELECT verdict FROM temp.verdicts v WHERE v.position = entries.position),
                message = CASE (SELECT verdict FROM temp.verdicts v WHERE v.position = entries.position)
                          WHEN '\(Reason.duplicateKey)' THEN '\(DuplicateMessage.key)'
                          ELSE '\(DuplicateMessage.content)' END
            WHERE position IN (SELECT position FROM temp.verdicts WHERE verdict IN ('\(Reason.duplicateKey)', '\(Reason.duplicateContent)'))
            """)
        try db.run("""
            UPDATE entries SET status = 'ok', reason = NULL, message = NULL
            WHERE position IN (SELECT position FROM temp.verdicts WHERE verdict = 'ok') AND status <> 'ok'
            """)
        try db.execute("DROP TABLE temp.verdicts")
        // Verdicts may have moved between units: the ingest units' counts follow the entries.
        try db.run("""
            UPDATE units SET
                items_ok = (SELECT COUNT(*) FROM entries e WHERE e.unit = units.unit AND e.status = 'ok'),
                items_skipped = (SELECT COUNT(*) FROM entries e WHERE e.unit = units.unit AND e.status = 'skipped'),
                items_failed = (SELECT COUNT(*) FROM entries e WHERE e.unit = units.unit AND e.status = 'failed')
            WHERE stage = 'ingest' AND EXISTS (SELECT 1 FROM entries e WHERE e.unit = units.unit)
            """)
    }
}
