/// The catalog's schema as numbered forward migrations. `PRAGMA user_version` holds the
/// number of the last one applied; a catalog newer than this code is refused.
enum Schema {
    /// Migrations in order; migration `i` moves the schema from version `i` to `i + 1`.
    static let migrations: [String] = [
        // 1: the tables sketched in docs/ARCHITECTURE.md.
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            stage TEXT NOT NULL,
            worker INTEGER NOT NULL DEFAULT 0,
            workers INTEGER NOT NULL DEFAULT 1,
            host TEXT,
            pid INTEGER,
            started REAL NOT NULL,
            finished REAL,
            status TEXT NOT NULL DEFAULT 'running',
            config_hash TEXT NOT NULL,
            config_json TEXT NOT NULL,
            summary_json TEXT
        );
        CREATE TABLE units (
            stage TEXT NOT NULL,
            unit INTEGER NOT NULL,
            config_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            items_in INTEGER NOT NULL DEFAULT 0,
            items_ok INTEGER NOT NULL DEFAULT 0,
            items_skipped INTEGER NOT NULL DEFAULT 0,
            items_failed INTEGER NOT NULL DEFAULT 0,
            host TEXT,
            worker INTEGER,
            run_id INTEGER,
            started REAL,
            finished REAL,
            error TEXT,
            PRIMARY KEY (stage, unit, config_hash)
        );
        CREATE TABLE unit_files (
            stage TEXT NOT NULL,
            unit INTEGER NOT NULL,
            config_hash TEXT NOT NULL,
            path TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (stage, unit, config_hash, path)
        );
        CREATE INDEX unit_files_path ON unit_files(path);
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            format TEXT NOT NULL,
            root TEXT NOT NULL,
            options_json TEXT NOT NULL
        );
        CREATE TABLE entries (
            position INTEGER PRIMARY KEY,
            unit INTEGER NOT NULL,
            source TEXT NOT NULL,
            source_key TEXT NOT NULL,
            sample_id TEXT,
            status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed')),
            reason TEXT,
            message TEXT,
            caption TEXT,
            width INTEGER,
            height INTEGER,
            format TEXT,
            image_ref TEXT,
            image_bytes INTEGER,
            metadata_json TEXT
        );
        CREATE INDEX entries_unit ON entries(unit);
        CREATE INDEX entries_key ON entries(source, source_key, position);
        CREATE INDEX entries_sample ON entries(sample_id, status, position);
        CREATE UNIQUE INDEX entries_one_ok_per_sample ON entries(sample_id) WHERE status = 'ok';
        CREATE TABLE masks (
            position INTEGER NOT NULL REFERENCES entries(position) ON DELETE CASCADE,
            k INTEGER NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT,
            value INTEGER,
            label TEXT,
            score REAL,
            box_json TEXT,
            data_json TEXT,
            PRIMARY KEY (position, k)
        );
        CREATE VIEW samples AS
            SELECT sample_id AS id, source, source_key, caption, width, height, format, image_ref,
                   image_bytes, position, unit, status, message AS error
            FROM entries WHERE status = 'ok';
        CREATE VIEW sample_masks AS
            SELECT e.sample_id AS sample_id, m.k, m.kind, m.ref, m.value, m.label, m.score, m.box_json, m.data_json
            FROM masks m JOIN entries e ON e.position = m.position WHERE e.status = 'ok';
        CREATE TABLE sample_status (
            stage TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            unit INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed')),
            reason TEXT,
            message TEXT,
            PRIMARY KEY (stage, sample_id)
        );
        CREATE TABLE nouns (
            sample_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            lemma TEXT NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            token_positions_json TEXT,
            PRIMARY KEY (sample_id, idx)
        );
        CREATE TABLE subjects (
            sample_id TEXT NOT NULL,
            k INTEGER NOT NULL,
            label TEXT NOT NULL,
            noun_idx INTEGER,
            box_json TEXT,
            mask_area INTEGER,
            fill_ratio REAL,
            box_area_ratio REAL,
            score REAL,
            crop_object TEXT,
            status TEXT NOT NULL,
            reason TEXT,
            PRIMARY KEY (sample_id, k)
        );
        CREATE TABLE sample_objects (
            sample_id TEXT NOT NULL,
            stage TEXT NOT NULL,
            kind TEXT NOT NULL,
            object TEXT NOT NULL,
            PRIMARY KEY (sample_id, kind)
        );
        CREATE TABLE shards (
            id TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            rows INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            config_hash TEXT NOT NULL
        );
        CREATE TABLE shard_rows (
            sample_id TEXT PRIMARY KEY,
            shard TEXT NOT NULL REFERENCES shards(id),
            row INTEGER NOT NULL
        );
        """,
        // 2: the tag stage's label-to-noun matches with their CLIP token positions.
        """
        CREATE TABLE noun_labels (
            sample_id TEXT NOT NULL,
            k INTEGER NOT NULL,
            label TEXT NOT NULL,
            noun_idx INTEGER,
            token_positions_json TEXT NOT NULL,
            span_positions_json TEXT NOT NULL,
            PRIMARY KEY (sample_id, k)
        );
        """,
        // 3: the embed stage's feature rows.
        """
        CREATE TABLE features (
            sample_id TEXT PRIMARY KEY,
            unit INTEGER NOT NULL,
            path TEXT NOT NULL,
            row INTEGER NOT NULL,
            subject_rows_json TEXT NOT NULL,
            canny_row INTEGER
        );
        """,
        // 4: each shard row's split (train / val by sample-id hash).
        """
        ALTER TABLE shard_rows ADD COLUMN split TEXT NOT NULL DEFAULT 'train';
        """,
        // 5: prior training: every step's loss, each evaluation, each checkpoint, per run
        // (`run` is the hash of the training settings).
        """
        CREATE TABLE train_steps (
            run TEXT NOT NULL,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            samples INTEGER NOT NULL,
            loss REAL NOT NULL,
            mse REAL NOT NULL,
            info_nce REAL NOT NULL,
            learning_rate REAL NOT NULL,
            grad_norm REAL NOT NULL,
            PRIMARY KEY (run, step)
        );
        CREATE TABLE train_evals (
            run TEXT NOT NULL,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            split TEXT NOT NULL,
            samples INTEGER NOT NULL,
            mse REAL NOT NULL,
            cosine REAL NOT NULL,
            top1 REAL NOT NULL,
            PRIMARY KEY (run, step, split)
        );
        CREATE TABLE checkpoints (
            run TEXT NOT NULL,
            step INTEGER NOT NULL,
            path TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (run, step)
        );
        """,
        // 6: a unit is recorded under one config at a time. Earlier catalogs could hold a unit
        // as done under two configs (a `--set` experiment, then the plain config again) while
        // its rows and files were the last run's: keep the record of the run that finished last,
        // which is the one whose rows the tables hold.
        """
        DELETE FROM units WHERE EXISTS (
            SELECT 1 FROM units later WHERE later.stage = units.stage AND later.unit = units.unit
               AND later.config_hash <> units.config_hash
               AND (COALESCE(later.finished, 0) > COALESCE(units.finished, 0)
                    OR (COALESCE(later.finished, 0) = COALESCE(units.finished, 0) AND later.config_hash > units.config_hash)));
        DELETE FROM unit_files WHERE NOT EXISTS (
            SELECT 1 FROM units u WHERE u.stage = unit_files.stage AND u.unit = unit_files.unit AND u.config_hash = unit_files.config_hash);
        """,
        // 7: which rule gave a label's token positions: the label's own BPE ids (λ-ECLIPSE's
        // substitution) or, where none occurs, the matched noun's span (tag.substitute_at_noun).
        """
        ALTER TABLE noun_labels ADD COLUMN positions_rule TEXT NOT NULL DEFAULT 'label_ids';
        """,
        // 8: masks added to accepted samples after ingest, keyed by sample id (which survives a
        // re-ingest): the segment stage's (origin 'segment') and imported ones (origin = the
        // import's id), each a COCO RLE in data_json; the imports and each record's verdict.
        """
        CREATE TABLE added_masks (
            sample_id TEXT NOT NULL,
            k INTEGER NOT NULL,
            origin TEXT NOT NULL,
            kind TEXT NOT NULL,
            label TEXT,
            score REAL,
            box_json TEXT,
            data_json TEXT NOT NULL,
            PRIMARY KEY (sample_id, k)
        );
        CREATE INDEX added_masks_origin ON added_masks(origin);
        CREATE TABLE mask_imports (
            id TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            format TEXT NOT NULL,
            records INTEGER NOT NULL,
            accepted INTEGER NOT NULL,
            imported REAL NOT NULL
        );
        CREATE TABLE mask_import_records (
            import TEXT NOT NULL,
            record INTEGER NOT NULL,
            sample_id TEXT,
            k INTEGER,
            status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed')),
            reason TEXT,
            message TEXT,
            PRIMARY KEY (import, record)
        );
        DROP VIEW sample_masks;
        CREATE VIEW sample_masks AS
            SELECT e.sample_id AS sample_id, m.k, m.kind, m.ref, m.value, m.label, m.score, m.box_json, m.data_json
            FROM masks m JOIN entries e ON e.position = m.position WHERE e.status = 'ok'
            UNION ALL
            SELECT a.sample_id, a.k, a.kind, NULL, NULL, a.label, a.score, a.box_json, a.data_json
            FROM added_masks a JOIN entries e ON e.sample_id = a.sample_id AND e.status = 'ok';
        """,
    ]

    /// The version this code writes.
    static var version: Int { migrations.count }
}
