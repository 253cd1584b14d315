import Foundation

/// Folding worker catalogs into the build catalog, and a canonical text dump for comparing two
/// catalogs.
extension Catalog {
    /// Tables copied by ``merge(workerCatalog:)`` with their key columns, in dependency order.
    static let mergedTables: [(name: String, order: String)] = [
        ("sources", "name"),
        ("units", "stage, unit, config_hash"),
        ("unit_files", "stage, unit, config_hash, path"),
        ("entries", "position"),
        ("masks", "position, k"),
        ("added_masks", "sample_id, k"),
        ("mask_imports", "id"),
        ("mask_import_records", "import, record"),
        ("sample_status", "stage, sample_id"),
        ("nouns", "sample_id, idx"),
        ("noun_labels", "sample_id, k"),
        ("subjects", "sample_id, k"),
        ("sample_objects", "sample_id, kind"),
        ("features", "sample_id"),
        ("shards", "id"),
        ("shard_rows", "sample_id"),
    ]

    /// Columns left out of ``canonicalDump()`` because they say when, where or by whom, not what.
    static let volatileColumns: [String: Set<String>] = [
        "units": ["host", "worker", "run_id", "started", "finished"],
        "mask_imports": ["imported"],
    ]

    /// The rows each stage replaces per sample when it records one (its `record…` call), with
    /// the condition that tells them from other stages' rows in the same table. A merge deletes
    /// them for every sample the worker gave that stage's verdict on before copying the worker's,
    /// so a sample redone with fewer rows (fewer nouns, fewer masks) keeps none of its old ones.
    static let stageOwnedRows: [(stage: String, table: String, condition: String)] = [
        ("tag", "nouns", ""),
        ("tag", "noun_labels", "AND NOT (k >= \(AddedMask.segmentBase) AND k < \(AddedMask.importBase))"),
        ("segment", "noun_labels", "AND k >= \(AddedMask.segmentBase) AND k < \(AddedMask.importBase)"),
        ("segment", "added_masks", "AND origin = '\(AddedMask.segmentOrigin)'"),
        ("crop", "subjects", ""),
        ("crop", "sample_objects", "AND stage = 'crop'"),
        ("embed", "features", ""),
    ]

    /// Folds a worker's catalog into this one: every unit, file and row it recorded is copied
    /// (replacing rows with the same key), its runs are appended, and duplicate verdicts are
    /// recomputed over the union so that the result equals a one-worker run.
    /// - Throws: ``CatalogError`` for a file that is not a catalog or has a newer schema.
    public func merge(workerCatalog other: String) throws {
        let probe = try Database(path: other, readOnly: true)
        let version = try probe.scalar("PRAGMA user_version").int ?? 0
        guard version > 0 else { throw CatalogError(.notACatalog, "not a catalog (schema version 0)", path: other) }
        guard version <= Schema.version else {
            throw CatalogError(.schemaTooNew, "worker catalog schema \(version) is newer than \(Schema.version)", path: other)
        }
        try database.run("ATTACH DATABASE ? AS worker", [other])
        defer { try? database.execute("DETACH DATABASE worker") }
        try write { db in
            // A unit the worker recorded supersedes this catalog's record of it under another config.
            for table in ["units", "unit_files"] {
                try db.execute("""
                    DELETE FROM main.\(table) WHERE EXISTS (SELECT 1 FROM worker.units w
                        WHERE w.stage = main.\(table).stage AND w.unit = main.\(table).unit AND w.config_hash <> main.\(table).config_hash)
                    """)
            }
            // The rows a stage owns for the samples the worker judged, and for every sample this
            // catalog holds a verdict on in a unit the worker recorded (a unit redone with fewer
            // samples keeps none of the others' old rows), then those verdicts themselves.
            for (stage, table, condition) in Self.stageOwnedRows {
                try db.execute("""
                    DELETE FROM main.\(table) WHERE (sample_id IN (SELECT sample_id FROM worker.sample_status WHERE stage = '\(stage)')
                        OR sample_id IN (SELECT s.sample_id FROM main.sample_status s JOIN worker.units w
                                         ON w.stage = s.stage AND w.unit = s.unit WHERE s.stage = '\(stage)')) \(condition)
                    """)
            }
            try db.execute("""
                DELETE FROM main.sample_status WHERE EXISTS (SELECT 1 FROM worker.units w WHERE w.stage = main.sample_status.stage
                    AND w.unit = main.sample_status.unit)
                """)
            for (table, _) in Self.mergedTables where table != "entries" && table != "masks" {
                try db.execute("INSERT OR REPLACE INTO main.\(table) SELECT * FROM worker.\(table)")
            }
            // An accepted sample another worker also accepted is parked as a duplicate; the
            // verdicts are recomputed below.
            try db.execute("""
                INSERT OR REPLACE INTO main.entries
                SELECT w.position, w.unit, w.source, w.source_key, w.sample_id,
                       CASE WHEN w.status = 'ok' AND EXISTS (SELECT 1 FROM main.entries m WHERE m.sample_id = w.sample_id
                            AND m.status = 'ok' AND m.position <> w.position) THEN 'skipped' ELSE w.status END,
                       CASE WHEN w.status = 'ok' AND EXISTS (SELECT 1 FROM main.entries m WHERE m.sample_id = w.sample_id
                            AND m.status = 'ok' AND m.position <> w.position) THEN '\(Reason.duplicateContent)' ELSE w.reason END,
                       w.message, w.caption, w.width, w.height, w.format, w.image_ref, w.image_bytes, w.metadata_json
                FROM worker.entries w;
                INSERT OR REPLACE INTO main.masks SELECT * FROM worker.masks;
                """)
            let columns = "stage, worker, workers, host, pid, started, finished, status, config_hash, config_json, summary_json"
            try db.execute("INSERT INTO main.runs (\(columns)) SELECT \(columns) FROM worker.runs ORDER BY id")
            try resolveDuplicates(in: db)
        }
    }

    /// The folder source paths in a dump are relative to: the manifest's, as the last ingest run
    /// recorded it (the paths as the manifest gives them); else the build folder (a worker
    /// catalog's is the folder above `workers/`).
    func sourcesBase() throws -> String {
        if let json = try database.query("SELECT config_json FROM runs WHERE stage = 'ingest' ORDER BY id DESC LIMIT 1").first?[0].string,
           let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
           let manifest = (object["pipeline"] as? [String: Any])?["manifest"] as? String, manifest.hasPrefix("/") {
            return URL(fileURLWithPath: manifest).deletingLastPathComponent().path
        }
        let folder = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
        return (folder.lastPathComponent == "workers" ? folder.deletingLastPathComponent() : folder).path
    }

    /// `path` relative to `base` when both are absolute (`../sample-data/coco`), else unchanged.
    public static func relative(_ path: String, to base: String) -> String {
        guard path.hasPrefix("/"), base.hasPrefix("/") else { return path }
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let from = URL(fileURLWithPath: base).standardizedFileURL.pathComponents
        var common = 0
        while common < min(target.count, from.count) && target[common] == from[common] { common += 1 }
        let parts = Array(repeating: "..", count: from.count - common) + target[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// A source row's absolute paths (its root, and the path in its options) made relative to
    /// `base`, so that dumps of one build in two places are equal.
    func relativeSourceValue(column: String, _ value: String, base: String) -> String {
        if column == "root" { return Self.relative(value, to: base) }
        guard column == "options_json", let object = try? JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String: Any] else {
            return value
        }
        let relative = object.mapValues { ($0 as? String).map { Self.relative($0, to: base) } ?? $0 }
        guard let data = try? JSONSerialization.data(withJSONObject: relative, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return value
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A deterministic text rendering of everything the catalog records about the data (every
    /// table in ``mergedTables`` minus ``volatileColumns``; the `runs` log is left out; source
    /// paths relative to the manifest's folder). Two builds that did the same work have equal dumps
    /// whatever their timing, host, worker count or folder.
    public func canonicalDump() throws -> String {
        var out = ""
        let base = try sourcesBase()
        for (table, order) in Self.mergedTables {
            let columns = try database.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])
                .compactMap { $0[0].string }
                .filter { !(Self.volatileColumns[table]?.contains($0) ?? false) }
            out += "## \(table) (\(columns.joined(separator: ", ")))\n"
            try database.forEach("SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY \(order)") { row in
                let values = row.values.enumerated().map { index, value in
                    table == "sources" ? relativeSourceValue(column: columns[index], value.description, base: base) : value.description
                }
                out += values.joined(separator: "\t") + "\n"
            }
        }
        return out
    }
}
