/// The human-readable views of `catalog summary` and `catalog inspect`.
extension Catalog {
    /// Counts per stage and status, reasons with counts, and the last runs.
    public func summary() throws -> String {
        let db = database
        var lines = ["catalog \(path) (schema \(try schemaVersion()))"]
        lines.append("entries by status:")
        for row in try db.query("SELECT status, COUNT(*) FROM entries GROUP BY status ORDER BY status") {
            lines.append("  \(row[0]): \(row[1])")
        }
        let reasons = try db.query("""
            SELECT status, reason, COUNT(*) FROM entries WHERE status <> 'ok' GROUP BY status, reason ORDER BY 3 DESC, 2
            """)
        if !reasons.isEmpty {
            lines.append("reasons:")
            for row in reasons { lines.append("  \(row[0]):\(row[1]): \(row[2])") }
        }
        let staged = try db.query("""
            SELECT stage, status, COALESCE(reason, ''), COUNT(*) FROM sample_status GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC
            """)
        if !staged.isEmpty {
            lines.append("samples by stage:")
            for row in staged { lines.append("  \(row[0]) \(row[1])\(row[2].string!.isEmpty ? "" : ":" + row[2].string!): \(row[3])") }
        }
        let subjects = try db.query("SELECT status, COALESCE(reason, ''), COUNT(*) FROM subjects GROUP BY 1, 2 ORDER BY 3 DESC")
        if !subjects.isEmpty {
            lines.append("subjects:")
            for row in subjects { lines.append("  \(row[0])\(row[1].string!.isEmpty ? "" : ":" + row[1].string!): \(row[2])") }
        }
        lines.append("units by stage:")
        for row in try db.query("SELECT stage, config_hash, COUNT(*), SUM(items_in), SUM(items_failed) FROM units GROUP BY 1, 2") {
            lines.append("  \(row[0]) [\(row[1])]: \(row[2]) units, \(row[3]) items, \(row[4]) failed")
        }
        lines.append("recent runs:")
        for row in try db.query("""
            SELECT id, stage, worker, workers, status, datetime(started, 'unixepoch'), ROUND(finished - started, 2)
            FROM runs ORDER BY id DESC LIMIT 5
            """) {
            lines.append("  #\(row[0]) \(row[1]) worker \(row[2])/\(row[3]) \(row[4]) at \(row[5]) (\(row[6]) s)")
        }
        return lines.joined(separator: "\n")
    }

    /// Everything the catalog knows about one sample, from its source to its shard row.
    /// nil when no entry has the id.
    public func lineage(sampleID: String) throws -> String? {
        let db = database
        var out = ""
        func section(_ title: String, _ sql: String, _ columns: [String]) throws {
            let rows = try db.query(sql, [sampleID])
            out += "\(title):\n"
            if rows.isEmpty { out += "  (none)\n" }
            for row in rows {
                var fields: [String] = []
                for (index, name) in columns.enumerated() {
                    let value = row[index]
                    let text: String?
                    if let s = value.string { text = s } else if let i = value.int { text = String(i) } else { text = value.double.map { String($0) } }
                    if let text { fields.append("\(name)=\(text)") }
                }
                out += "  " + fields.joined(separator: "  ") + "\n"
            }
        }
        guard try db.scalar("SELECT COUNT(*) FROM entries WHERE sample_id = ?", [sampleID]).int ?? 0 > 0 else {
            return nil
        }
        try section("entries", "SELECT e.source, s.root, e.source_key, e.position, e.unit, e.status, e.reason, e.width, e.height, e.image_ref, e.caption FROM entries e LEFT JOIN sources s ON s.name = e.source WHERE e.sample_id = ?",
                    ["source", "root", "key", "position", "unit", "status", "reason", "width", "height", "image", "caption"])
        try section("masks", "SELECT m.k, m.kind, m.label, m.value, m.ref FROM masks m JOIN entries e ON e.position = m.position WHERE e.sample_id = ? ORDER BY m.k",
                    ["k", "kind", "label", "value", "ref"])
        try section("added masks", "SELECT k, origin, kind, label, score, box_json FROM added_masks WHERE sample_id = ? ORDER BY k",
                    ["k", "origin", "kind", "label", "score", "box"])
        try section("stages", "SELECT stage, status, reason, message FROM sample_status WHERE sample_id = ? ORDER BY stage", ["stage", "status", "reason", "message"])
        try section("nouns", "SELECT idx, text, lemma, char_start, char_end, token_positions_json FROM nouns WHERE sample_id = ? ORDER BY idx",
                    ["idx", "text", "lemma", "start", "end", "tokens"])
        try section("label matches", "SELECT k, label, noun_idx, token_positions_json, positions_rule, span_positions_json FROM noun_labels WHERE sample_id = ? ORDER BY k",
                    ["k", "label", "noun", "tokens", "rule", "span_tokens"])
        try section("subjects", "SELECT k, label, noun_idx, box_json, fill_ratio, box_area_ratio, status, reason, crop_object FROM subjects WHERE sample_id = ? ORDER BY k",
                    ["k", "label", "noun", "box", "fill", "box_area", "status", "reason", "crop"])
        try section("derived images", "SELECT kind, object FROM sample_objects WHERE sample_id = ?", ["kind", "object"])
        try section("features", "SELECT path, row, subject_rows_json, canny_row FROM features WHERE sample_id = ?", ["path", "row", "subject_rows", "canny_row"])
        try section("shard row", "SELECT r.shard, s.path, r.row, r.split FROM shard_rows r JOIN shards s ON s.id = r.shard WHERE r.sample_id = ?",
                    ["shard", "path", "row", "split"])
        return out
    }

    /// Every file a unit or shard row records: (path relative to the build, bytes, SHA-256).
    public func recordedFiles() throws -> [(path: String, bytes: Int, sha256: String)] {
        try (database.query("SELECT path, bytes, sha256 FROM unit_files") + database.query("SELECT path, bytes, sha256 FROM shards"))
            .map { ($0["path"].string ?? "", $0["bytes"].int ?? -1, $0["sha256"].string ?? "") }
    }

    /// The rows of one split: (shard path, row, sample id).
    public func shardRows(split: String) throws -> [(path: String, row: Int, sampleID: String)] {
        try database.query("SELECT s.path AS path, r.row AS row, r.sample_id AS sample_id FROM shard_rows r JOIN shards s ON s.id = r.shard "
                           + "WHERE r.split = ?", [split])
            .map { ($0["path"].string ?? "", $0["row"].int ?? 0, $0["sample_id"].string ?? "") }
    }

    /// Units recorded, whatever their stage and config.
    public func unitCount() throws -> Int {
        try database.scalar("SELECT COUNT(*) FROM units").int ?? 0
    }
}
