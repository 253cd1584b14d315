public import Catalog
import Foundation

/// Integrity checks, lineage and epoch order over a build's catalog.
public enum CatalogInspection {
    /// One file whose bytes differ from what the catalog recorded.
    public struct Mismatch: Sendable, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// Rechecks every file the catalog records (each stage's unit files and every shard): present,
    /// of the recorded size, with the recorded SHA-256; and that no unit is recorded as done
    /// under two configs (its rows and files can be only one config's).
    /// - Returns: the files checked and the mismatches.
    public static func verify(_ catalog: Catalog, root: String) throws -> (checked: Int, mismatches: [Mismatch]) {
        let several = try catalog.unitsUnderSeveralConfigs().map { Mismatch(path: $0, problem: "done under more than one config") }
        var expected: [String: (Int, String)] = [:]
        try catalog.database.forEach("SELECT path, bytes, sha256 FROM unit_files") { expected[$0[0].string ?? ""] = ($0[1].int ?? -1, $0[2].string ?? "") }
        try catalog.database.forEach("SELECT path, bytes, sha256 FROM shards") { expected[$0[0].string ?? ""] = ($0[1].int ?? -1, $0[2].string ?? "") }
        var mismatches = several
        for (path, (bytes, digest)) in expected.sorted(by: { $0.key < $1.key }) {
            let full = root + "/" + path
            guard let handle = FileHandle(forReadingAtPath: full) else {
                mismatches.append(Mismatch(path: path, problem: "missing"))
                continue
            }
            try? handle.close()
            let size = (try? FileManager.default.attributesOfItem(atPath: full)[.size] as? Int) ?? -1
            if size != bytes {
                mismatches.append(Mismatch(path: path, problem: "\(size) bytes, the catalog recorded \(bytes)"))
            } else if try SHA256.hex(file: full) != digest {
                mismatches.append(Mismatch(path: path, problem: "SHA-256 differs from the catalog's"))
            }
        }
        return (expected.count, mismatches)
    }

    /// Everything the catalog knows about one sample, from its source to its shard row.
    public static func lineage(_ catalog: Catalog, sampleID: String) throws -> String {
        let db = catalog.database
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
            throw PipelineError(.usage, "no sample with id \(sampleID)")
        }
        try section("entries", "SELECT e.source, s.root, e.source_key, e.position, e.unit, e.status, e.reason, e.width, e.height, e.image_ref, e.caption FROM entries e LEFT JOIN sources s ON s.name = e.source WHERE e.sample_id = ?",
                    ["source", "root", "key", "position", "unit", "status", "reason", "width", "height", "image", "caption"])
        try section("masks", "SELECT m.k, m.kind, m.label, m.value, m.ref FROM masks m JOIN entries e ON e.position = m.position WHERE e.sample_id = ? ORDER BY m.k",
                    ["k", "kind", "label", "value", "ref"])
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

    /// A seeded shuffled epoch order of one split: (shard path, row, sample id), sorted by
    /// SHA-256("<seed>:<epoch>:<sample id>"), so any reader (this, the Python reader) computes
    /// the same order from the index alone.
    public static func epochOrder(_ catalog: Catalog, split: String, seed: Int, epoch: Int) throws -> [(path: String, row: Int, sampleID: String)] {
        var rows: [(key: String, path: String, row: Int, sampleID: String)] = []
        try catalog.database.forEach("""
            SELECT s.path, r.row, r.sample_id FROM shard_rows r JOIN shards s ON s.id = r.shard WHERE r.split = ?
            """, [split]) { r in
            let id = r[2].string ?? ""
            rows.append((SHA256.hex(Array("\(seed):\(epoch):\(id)".utf8)), r[0].string ?? "", r[1].int ?? 0, id))
        }
        return rows.sorted { $0.key < $1.key }.map { ($0.path, $0.row, $0.sampleID) }
    }
}
