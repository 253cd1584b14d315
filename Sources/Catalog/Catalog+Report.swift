/// What the build report reads: each stage's funnel and timing, and samples with everything
/// recorded about them.
extension Catalog {
    /// How many items a stage saw, and what became of them by reason.
    public struct StageFunnel: Sendable, Equatable {
        /// `ingest`, `tag`, `crop`, `embed`, `shard`, then `crop subjects` (subject verdicts).
        public var stage: String
        public var ok = 0, skipped = 0, failed = 0
        /// (status, reason, count) for the items not ok, largest first.
        public var reasons: [ReasonCount] = []
        /// Items the stage recorded a verdict for.
        public var input: Int { ok + skipped + failed }
    }

    /// One reason at one status with its count.
    public struct ReasonCount: Sendable, Equatable {
        public var status: String
        public var reason: String
        public var count: Int
    }

    /// A stage's recorded work: units and their wall time, runs and their workers.
    public struct StageTiming: Sendable, Equatable {
        public var stage: String
        /// Runs recorded, and those that finished (`done`) or ended otherwise.
        public var runs = 0, finishedRuns = 0
        /// The most workers one run of the stage was started with.
        public var workers = 0
        /// Units recorded as done, the items they held, and the sum of their wall times.
        public var units = 0, items = 0
        public var unitSeconds = 0.0
        /// Wall time from the first run's start to the last run's end (Unix seconds).
        public var firstStarted: Double?, lastFinished: Double?
    }

    /// The funnels of every stage with verdicts, in pipeline order (`problemStageOrder`).
    public func stageFunnels() throws -> [StageFunnel] {
        var funnels: [String: StageFunnel] = [:]
        func add(_ stage: String, _ status: String, _ reason: String?, _ count: Int) {
            var funnel = funnels[stage] ?? StageFunnel(stage: stage)
            switch status {
            case "ok": funnel.ok += count
            case "skipped": funnel.skipped += count
            default: funnel.failed += count
            }
            if status != "ok" { funnel.reasons.append(ReasonCount(status: status, reason: reason ?? "unknown", count: count)) }
            funnels[stage] = funnel
        }
        for (stage, table) in [("ingest", "entries"), (nil, "sample_status"), ("crop subjects", "subjects")] {
            try database.forEach("SELECT \(stage == nil ? "stage" : "NULL AS stage"), status, reason, COUNT(*) AS count FROM \(table) "
                                 + "GROUP BY stage, status, reason") { r in
                add(stage ?? r["stage"].string ?? "?", r["status"].string ?? "?", r["reason"].string, r["count"].int ?? 0)
            }
        }
        let order = Dictionary(uniqueKeysWithValues: Self.problemStageOrder.enumerated().map { ($1, $0) })
        return funnels.values.map { funnel in
            var f = funnel
            f.reasons.sort { $0.count != $1.count ? $0.count > $1.count : ($0.status, $0.reason) < ($1.status, $1.reason) }
            return f
        }.sorted { (order[$0.stage] ?? order.count, $0.stage) < (order[$1.stage] ?? order.count, $1.stage) }
    }

    /// Every stage's recorded runs and done units, in pipeline order.
    public func stageTimings() throws -> [StageTiming] {
        var timings: [String: StageTiming] = [:]
        try database.forEach("""
            SELECT stage, COUNT(*) AS runs, SUM(status = 'done') AS done, MAX(workers) AS workers, MIN(started) AS started,
                   MAX(finished) AS finished FROM runs GROUP BY stage
            """) { r in
            let stage = r["stage"].string ?? "?"
            timings[stage] = StageTiming(stage: stage, runs: r["runs"].int ?? 0, finishedRuns: r["done"].int ?? 0, workers: r["workers"].int ?? 0,
                                         firstStarted: r["started"].double, lastFinished: r["finished"].double)
        }
        try database.forEach("""
            SELECT stage, COUNT(*) AS units, SUM(items_in) AS items, SUM(COALESCE(finished - started, 0)) AS seconds
            FROM units WHERE status = 'done' GROUP BY stage
            """) { r in
            let stage = r["stage"].string ?? "?"
            var timing = timings[stage] ?? StageTiming(stage: stage)
            timing.units = r["units"].int ?? 0
            timing.items = r["items"].int ?? 0
            timing.unitSeconds = r["seconds"].double ?? 0
            timings[stage] = timing
        }
        let order = Dictionary(uniqueKeysWithValues: Self.problemStageOrder.enumerated().map { ($1, $0) })
        return timings.values.sorted { (order[$0.stage] ?? order.count, $0.stage) < (order[$1.stage] ?? order.count, $1.stage) }
    }
}

extension Catalog {
    /// One stage's verdict on a sample.
    public struct StageVerdict: Sendable, Equatable {
        public var stage: String
        public var status: String
        public var reason: String?
        public var message: String?
    }

    /// A caption noun: its `Character` span in the caption and its lemma.
    public struct NounSpan: Sendable, Equatable {
        public var start: Int, end: Int
        public var lemma: String

        public init(start: Int, end: Int, lemma: String) {
            self.start = start
            self.end = end
            self.lemma = lemma
        }
    }

    /// One subject of a sample as the crop stage recorded it.
    public struct SubjectRecord: Sendable, Equatable {
        public var k: Int
        public var label: String
        public var status: String
        public var reason: String?
        /// The crop PNG, relative to the build, when the subject was kept.
        public var cropObject: String?
    }

    /// An entry with everything the stages recorded about it.
    public struct SampleRecord: Sendable {
        public var position: Int
        public var sampleID: String?
        public var source: String, sourceKey: String
        /// The ingest verdict.
        public var status: String
        public var reason: String?, message: String?
        public var caption: String?
        public var imageRef: String?
        public var masks: [MaskRecord] = []
        /// Verdicts of the stages after ingest, in pipeline order.
        public var stages: [StageVerdict] = []
        public var nouns: [NounSpan] = []
        public var subjects: [SubjectRecord] = []
    }

    /// Entry positions for a gallery: the first `perReason` items of every reason at every stage
    /// (and subject reasons), then the first `complete` entries that every stage kept, in build order.
    public func galleryPositions(perReason: Int, complete: Int) throws -> [Int] {
        var positions = Set<Int>()
        let queries: [(sql: String, limit: Int)] = [
            ("SELECT position FROM (SELECT position, ROW_NUMBER() OVER (PARTITION BY status, reason ORDER BY position) AS n FROM entries WHERE status <> 'ok') WHERE n <= ?", perReason),
            ("""
            SELECT p AS position FROM (SELECT e.position AS p, ROW_NUMBER() OVER (PARTITION BY x.stage, x.status, x.reason ORDER BY e.position) AS n
                FROM sample_status x JOIN entries e ON e.sample_id = x.sample_id AND e.status = 'ok' WHERE x.status <> 'ok') WHERE n <= ?
            """, perReason),
            ("""
            SELECT p AS position FROM (SELECT e.position AS p, ROW_NUMBER() OVER (PARTITION BY x.status, x.reason ORDER BY e.position, x.k) AS n
                FROM subjects x JOIN entries e ON e.sample_id = x.sample_id AND e.status = 'ok' WHERE x.status <> 'ok') WHERE n <= ?
            """, perReason),
            ("""
            SELECT position FROM entries e WHERE status = 'ok'
               AND NOT EXISTS (SELECT 1 FROM sample_status x WHERE x.sample_id = e.sample_id AND x.status <> 'ok')
               ORDER BY position LIMIT ?
            """, complete),
        ]
        for (sql, limit) in queries {
            try database.forEach(sql, [limit]) { if let p = $0["position"].int { positions.insert(p) } }
        }
        return positions.sorted()
    }

    /// The records of the entries at `positions`, in that order.
    public func sampleRecords(positions: [Int]) throws -> [SampleRecord] {
        let order = Dictionary(uniqueKeysWithValues: Self.problemStageOrder.enumerated().map { ($1, $0) })
        var records: [SampleRecord] = []
        for position in positions {
            guard var record = try database.query("""
                SELECT sample_id, source, source_key, status, reason, message, caption, image_ref FROM entries WHERE position = ?
                """, [position]).first.map({ r in
                    SampleRecord(position: position, sampleID: r["sample_id"].string, source: r["source"].string ?? "",
                                 sourceKey: r["source_key"].string ?? "", status: r["status"].string ?? "?", reason: r["reason"].string,
                                 message: r["message"].string, caption: r["caption"].string, imageRef: r["image_ref"].string)
                }) else { continue }
            try database.forEach("SELECT k, kind, ref, value, label, score, box_json, data_json FROM masks WHERE position = ? ORDER BY k", [position]) { r in
                record.masks.append(try MaskRecord(row: r, in: self))
            }
            if let id = record.sampleID, record.status == "ok" {
                // The segment stage's and imported masks, drawn like the input's.
                try database.forEach("SELECT k, kind, label, score, box_json, data_json FROM added_masks WHERE sample_id = ? ORDER BY k", [id]) { r in
                    record.masks.append(try MaskRecord(addedRow: r, in: self))
                }
                try database.forEach("SELECT stage, status, reason, message FROM sample_status WHERE sample_id = ?", [id]) { r in
                    record.stages.append(StageVerdict(stage: r["stage"].string ?? "?", status: r["status"].string ?? "?",
                                                      reason: r["reason"].string, message: r["message"].string))
                }
                record.stages.sort { (order[$0.stage] ?? order.count, $0.stage) < (order[$1.stage] ?? order.count, $1.stage) }
                try database.forEach("SELECT char_start, char_end, lemma FROM nouns WHERE sample_id = ? ORDER BY idx", [id]) { r in
                    record.nouns.append(NounSpan(start: r["char_start"].int ?? 0, end: r["char_end"].int ?? 0, lemma: r["lemma"].string ?? ""))
                }
                try database.forEach("SELECT k, label, status, reason, crop_object FROM subjects WHERE sample_id = ? ORDER BY k", [id]) { r in
                    record.subjects.append(SubjectRecord(k: r["k"].int ?? 0, label: r["label"].string ?? "", status: r["status"].string ?? "?",
                                                         reason: r["reason"].string, cropObject: r["crop_object"].string))
                }
            }
            records.append(record)
        }
        return records
    }
}
