import Foundation

/// The build's SQLite catalog: what every stage did, per unit and per sample.
///
/// Owns one ``Database`` connection; use it from one context (the stage runner's).
public final class Catalog {
    /// The connection. Only this module writes SQL; tests of this package may read through it.
    package let database: Database
    /// The catalog file.
    public var path: String { database.path }

    /// Opens a catalog, creating it and applying pending migrations.
    /// - Throws: ``DatabaseError``, or ``CatalogError`` when the file was written by a newer version.
    public init(path: String, readOnly: Bool = false) throws {
        database = try Database(path: path, readOnly: readOnly)
        if !readOnly { try migrate() }
    }

    /// Test hook: opens (creating) a catalog migrated only up to schema `version`, as an older
    /// build of this code left it.
    package init(path: String, migratingTo version: Int) throws {
        database = try Database(path: path, readOnly: false)
        try migrate(to: version)
    }

    /// The schema version this code writes.
    public static var schemaVersion: Int { Schema.version }

    /// The file's schema version.
    public func schemaVersion() throws -> Int {
        try database.scalar("PRAGMA user_version").int ?? 0
    }

    private func migrate(to target: Int = Schema.version) throws {
        let current = try schemaVersion()
        guard current <= Schema.version else {
            throw CatalogError(.schemaTooNew, "catalog schema \(current) is newer than this build's \(Schema.version)", path: path)
        }
        for version in current..<max(current, target) {
            try database.transaction {
                try database.execute(Schema.migrations[version])
                try database.execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }

    /// Runs `body` in one transaction.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try database.transaction { try body(database) }
    }

    // MARK: - Runs

    /// Records the start of a stage run and returns its id.
    public func beginRun(stage: String, worker: Int, workers: Int, configHash: String, configJSON: String) throws -> Int {
        try write { db in
            try db.run("""
                INSERT INTO runs (stage, worker, workers, host, pid, started, config_hash, config_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [stage, worker, workers, ProcessInfo.processInfo.hostName,
                      Int(ProcessInfo.processInfo.processIdentifier), Date().timeIntervalSince1970,
                      configHash, configJSON])
            return try db.scalar("SELECT last_insert_rowid()").int ?? 0
        }
    }

    /// Records the end of a run with its summary.
    public func finishRun(id: Int, status: String, summaryJSON: String) throws {
        try write { db in
            try db.run("UPDATE runs SET finished = ?, status = ?, summary_json = ? WHERE id = ?",
                       [Date().timeIntervalSince1970, status, summaryJSON, id])
        }
    }

    // MARK: - Units

    /// Units recorded as done for a stage and config hash.
    public func doneUnits(stage: String, configHash: String) throws -> Set<Int> {
        var done = Set<Int>()
        try database.forEach("SELECT unit FROM units WHERE stage = ? AND config_hash = ? AND status = 'done'",
                             [stage, configHash]) { done.insert($0[0].int ?? -1) }
        return done
    }

    /// Done units that hold at least one failed item (what `--retry-failed` redoes).
    public func unitsWithFailures(stage: String, configHash: String) throws -> Set<Int> {
        var units = Set<Int>()
        try database.forEach("""
            SELECT unit FROM units WHERE stage = ? AND config_hash = ? AND status = 'done' AND items_failed > 0
            """, [stage, configHash]) { units.insert($0[0].int ?? -1) }
        return units
    }

    /// For each config hash that `stage` has done units under, one safetensors file such a unit
    /// wrote (by path order), as (config hash, path relative to the build).
    public func doneUnitFiles(stage: String) throws -> [(configHash: String, path: String)] {
        try database.query("""
            SELECT f.config_hash AS config_hash, MIN(f.path) AS path FROM unit_files f JOIN units u
              ON u.stage = f.stage AND u.unit = f.unit AND u.config_hash = f.config_hash AND u.status = 'done'
            WHERE f.stage = ? AND f.path LIKE '%.safetensors' GROUP BY f.config_hash ORDER BY f.config_hash
            """, [stage]).map { ($0["config_hash"].string ?? "", $0["path"].string ?? "") }
    }

    /// Units of `stage` recorded under any config hash.
    public func recordedUnits(stage: String) throws -> Set<Int> {
        var units = Set<Int>()
        try database.forEach("SELECT DISTINCT unit FROM units WHERE stage = ?", [stage]) { units.insert($0[0].int ?? -1) }
        return units
    }

    /// Forgets every record of `unit` by `stage`, under any config (its `units` and `unit_files`
    /// rows), in one transaction. The runner calls it before it overwrites a recorded unit's
    /// files, so that a run killed between writing them and committing leaves the unit not done
    /// for any config, never done for a config whose files it no longer has.
    public func forgetUnit(stage: String, unit: Int) throws {
        try write { db in try forgetUnit(stage: stage, unit: unit, in: db) }
    }

    /// The same inside a transaction already open.
    func forgetUnit(stage: String, unit: Int, in db: Database) throws {
        try db.run("DELETE FROM unit_files WHERE stage = ? AND unit = ?", [stage, unit])
        try db.run("DELETE FROM units WHERE stage = ? AND unit = ?", [stage, unit])
    }

    /// Forgets every row `stage` recorded for the samples it judged in `unit`: their verdicts
    /// (`sample_status`) and the rows the stage owns per sample (``stageOwnedRows``). The runner
    /// calls it in the transaction that records the unit again, before the new rows, so a sample
    /// that is no longer the stage's input (crop keeps fewer after a config change) keeps no
    /// verdict or feature row from the earlier run.
    public func forgetStageRows(stage: String, unit: Int, in db: Database) throws {
        for (owner, table, condition) in Self.stageOwnedRows where owner == stage {
            try db.run("""
                DELETE FROM \(table) WHERE sample_id IN (SELECT sample_id FROM sample_status WHERE stage = ? AND unit = ?) \(condition)
                """, [stage, unit])
        }
        try db.run("DELETE FROM sample_status WHERE stage = ? AND unit = ?", [stage, unit])
    }

    /// Where each sample's features and shard row are said to be: (sample id, file path relative
    /// to the build, row), from `features` and from `shard_rows` with its shard's path.
    public func rowLocations() throws -> (features: [(sampleID: String, path: String, row: Int)],
                                           shards: [(sampleID: String, path: String, row: Int)]) {
        func read(_ sql: String) throws -> [(sampleID: String, path: String, row: Int)] {
            try database.query(sql).map { ($0["sample_id"].string ?? "", $0["path"].string ?? "", $0["row"].int ?? -1) }
        }
        return (try read("SELECT sample_id, path, row FROM features ORDER BY path, row"),
                try read("SELECT r.sample_id, s.path, r.row FROM shard_rows r JOIN shards s ON s.id = r.shard ORDER BY s.path, r.row"))
    }

    /// Verdicts a stage holds on samples that are not its input: an embed verdict on a sample
    /// crop did not keep, a shard verdict on a sample embed did not judge ok (as "stage sample id").
    public func verdictsWithoutInput() throws -> [String] {
        try database.query("""
            SELECT v.stage, v.sample_id FROM sample_status v WHERE (v.stage = 'embed' AND NOT EXISTS (SELECT 1 FROM sample_status c
                WHERE c.stage = 'crop' AND c.status = 'ok' AND c.sample_id = v.sample_id))
              OR (v.stage = 'shard' AND NOT EXISTS (SELECT 1 FROM sample_status e
                WHERE e.stage = 'embed' AND e.status = 'ok' AND e.sample_id = v.sample_id))
            ORDER BY v.stage, v.sample_id
            """).map { "\($0["stage"].string ?? "?") \($0["sample_id"].string ?? "?")" }
    }

    /// Units that `units` holds under more than one config hash, as "stage unit N: hash, hash"
    /// (none in a catalog this code wrote: `catalog verify` reports them).
    public func unitsUnderSeveralConfigs() throws -> [String] {
        try database.query("""
            SELECT stage, unit, GROUP_CONCAT(config_hash, ', ') AS hashes FROM (SELECT * FROM units ORDER BY config_hash)
            GROUP BY stage, unit HAVING COUNT(*) > 1 ORDER BY stage, unit
            """).map { "\($0["stage"].string ?? "?") unit \($0["unit"].int ?? -1): \($0["hashes"].string ?? "")" }
    }

    /// Records a unit as done with the files it wrote. Call inside ``write(_:)`` together with
    /// the unit's own rows, so that either all of it is recorded or none. A record of the same
    /// unit under another config is superseded (deleted): the unit's rows are this run's now.
    public func recordUnit(_ unit: UnitRecord, files: [FileRecord], in db: Database) throws {
        try db.run("DELETE FROM unit_files WHERE stage = ? AND unit = ?", [unit.stage, unit.unit])
        try db.run("DELETE FROM units WHERE stage = ? AND unit = ? AND config_hash <> ?", [unit.stage, unit.unit, unit.configHash])
        for file in files {
            try db.run("""
                INSERT OR REPLACE INTO unit_files (stage, unit, config_hash, path, bytes, sha256)
                VALUES (?, ?, ?, ?, ?, ?)
                """, [unit.stage, unit.unit, unit.configHash, file.path, file.bytes, file.sha256])
        }
        try db.run("""
            INSERT OR REPLACE INTO units (stage, unit, config_hash, status, items_in, items_ok, items_skipped,
                items_failed, host, worker, run_id, started, finished)
            VALUES (?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [unit.stage, unit.unit, unit.configHash, unit.itemsIn, unit.itemsOK, unit.itemsSkipped,
                  unit.itemsFailed, unit.host, unit.worker, unit.runID, unit.started, unit.finished])
    }

    /// Every file path (relative to the build directory) that a unit row claims.
    public func claimedFiles() throws -> Set<String> {
        var paths = Set<String>()
        try database.forEach("SELECT DISTINCT path FROM unit_files") { paths.insert($0[0].string ?? "") }
        return paths
    }

    // MARK: - Sources

    /// Records (or updates) an input source of the manifest.
    public func recordSource(name: String, format: String, root: String, optionsJSON: String) throws {
        try write { db in
            try db.run("INSERT OR REPLACE INTO sources (name, format, root, options_json) VALUES (?, ?, ?, ?)",
                       [name, format, root, optionsJSON])
        }
    }
}

/// One unit of a stage as recorded in `units`.
public struct UnitRecord: Sendable {
    public var stage: String
    public var unit: Int
    public var configHash: String
    public var itemsIn: Int
    public var itemsOK: Int
    public var itemsSkipped: Int
    public var itemsFailed: Int
    public var host: String
    public var worker: Int
    public var runID: Int
    public var started: Double
    public var finished: Double

    public init(stage: String, unit: Int, configHash: String, itemsIn: Int, itemsOK: Int, itemsSkipped: Int,
                itemsFailed: Int, host: String, worker: Int, runID: Int, started: Double, finished: Double) {
        (self.stage, self.unit, self.configHash) = (stage, unit, configHash)
        (self.itemsIn, self.itemsOK, self.itemsSkipped, self.itemsFailed) = (itemsIn, itemsOK, itemsSkipped, itemsFailed)
        (self.host, self.worker, self.runID, self.started, self.finished) = (host, worker, runID, started, finished)
    }
}

/// A file a unit wrote: path relative to the build directory, size and SHA-256 (hex).
public struct FileRecord: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var sha256: String

    public init(path: String, bytes: Int, sha256: String) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// What a stage's done units hold across the whole build (every run, every config recorded as
/// done): the `reports/<stage>` files describe this, and the last run beside it.
public struct StageState: Codable, Sendable, Equatable {
    public var unitsDone = 0
    public var itemsIn = 0
    public var itemsOK = 0
    public var itemsSkipped = 0
    public var itemsFailed = 0
    /// `skipped:reason` and `failed:reason` with counts.
    public var reasons: [String: Int] = [:]

    enum CodingKeys: String, CodingKey {
        case unitsDone = "units_done", itemsIn = "items_in", itemsOK = "items_ok", itemsSkipped = "items_skipped"
        case itemsFailed = "items_failed", reasons
    }

    public init() {}
}

extension Catalog {
    /// The build-wide state of `stage`: its done units' counts, and the reasons of its items
    /// (ingest's entries, or the stage's `sample_status` rows) that are not ok.
    public func stageState(stage: String) throws -> StageState {
        var state = StageState()
        if let row = try database.query("""
            SELECT COUNT(*) AS units, SUM(items_in) AS items_in, SUM(items_ok) AS items_ok, SUM(items_skipped) AS items_skipped,
                   SUM(items_failed) AS items_failed FROM units WHERE stage = ? AND status = 'done'
            """, [stage]).first {
            (state.unitsDone, state.itemsIn, state.itemsOK) = (row["units"].int ?? 0, row["items_in"].int ?? 0, row["items_ok"].int ?? 0)
            (state.itemsSkipped, state.itemsFailed) = (row["items_skipped"].int ?? 0, row["items_failed"].int ?? 0)
        }
        let reasons = stage == "ingest"
            ? try database.query("SELECT status, reason, COUNT(*) AS count FROM entries WHERE status <> 'ok' GROUP BY 1, 2")
            : try database.query("SELECT status, reason, COUNT(*) AS count FROM sample_status WHERE stage = ? AND status <> 'ok' GROUP BY 1, 2",
                                 [stage])
        for row in reasons { state.reasons["\(row["status"].string ?? "?"):\(row["reason"].string ?? "unknown")"] = row["count"].int ?? 0 }
        return state
    }
}
