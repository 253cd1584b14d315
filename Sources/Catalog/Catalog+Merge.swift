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
                            AND m.status = 'ok' AND m.position <> w.position) THEN '\(DuplicateReason.content)' ELSE w.reason END,
                       w.message, w.caption, w.width, w.height, w.format, w.image_ref, w.image_bytes, w.metadata_json
                FROM worker.entries w;
                INSERT OR REPLACE INTO main.masks SELECT * FROM worker.masks;
                """)
            let columns = "stage, worker, workers, host, pid, started, finished, status, config_hash, config_json, summary_json"
            try db.execute("INSERT INTO main.runs (\(columns)) SELECT \(columns) FROM worker.runs ORDER BY id")
            try resolveDuplicates(in: db)
        }
    }

    /// A deterministic text rendering of everything the catalog records about the data (every
    /// table in ``mergedTables`` minus ``volatileColumns``; the `runs` log is left out). Two builds
    /// that did the same work have equal dumps whatever their timing, host or worker count.
    public func canonicalDump() throws -> String {
        var out = ""
        for (table, order) in Self.mergedTables {
            let columns = try database.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])
                .compactMap { $0[0].string }
                .filter { !(Self.volatileColumns[table]?.contains($0) ?? false) }
            out += "## \(table) (\(columns.joined(separator: ", ")))\n"
            try database.forEach("SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY \(order)") { row in
                out += row.values.map { $0.description }.joined(separator: "\t") + "\n"
            }
        }
        return out
    }
}
