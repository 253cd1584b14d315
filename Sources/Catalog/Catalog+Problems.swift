/// Everything in a build that did not come through, grouped for `catalog problems`.
extension Catalog {
    /// One reason at one stage: how many items it holds and a few of them.
    public struct ProblemGroup: Sendable, Equatable {
        /// `ingest`, `tag`, `crop`, `embed`, `shard`, or `crop subjects` (subject-level verdicts).
        public var stage: String
        /// `skipped` or `failed`.
        public var status: String
        public var reason: String
        public var count: Int
        /// The first few items in build order: sample ids; `source/key` for an entry without
        /// one; `sample id#k` for a subject.
        public var examples: [String]
    }

    /// The stages in pipeline order, then the subject-level verdicts.
    static let problemStageOrder = ["ingest", "tag", "segment", "crop", "embed", "shard", "crop subjects"]

    /// Stages whose verdicts do not decide whether a sample goes on: crop takes every sample tag
    /// kept, whatever segment said (`has_masks`: it kept its own masks; `no_mask_above_threshold`:
    /// crop will say `no_masks`).
    public static let advisoryStages: Set<String> = ["segment"]

    /// Every stage's skipped and failed items grouped by (stage, status, reason), in pipeline
    /// order and by count within a stage, each with up to `examples` example items.
    public func problemGroups(examples: Int) throws -> [ProblemGroup] {
        var groups: [ProblemGroup] = []
        // Each group query yields (stage, status, reason, count); each example query takes
        // (stage, status, reason, limit) and yields ids in build order.
        func collect(_ groupSQL: String, _ exampleSQL: String) throws {
            for row in try database.query(groupSQL) {
                let stage = row["stage"].string ?? "?", status = row["status"].string ?? "?", reason = row["reason"].string
                let found = try database.query(exampleSQL, [stage, status, reason ?? "", examples]).map { $0["example"].string ?? "?" }
                groups.append(ProblemGroup(stage: stage, status: status, reason: reason ?? "unknown", count: row["count"].int ?? 0,
                                           examples: found))
            }
        }
        try collect("""
            SELECT 'ingest' AS stage, status, reason, COUNT(*) AS count FROM entries WHERE status <> 'ok' GROUP BY 2, 3
            """, """
            SELECT COALESCE(sample_id, source || '/' || source_key) AS example FROM entries
            WHERE ? = 'ingest' AND status = ? AND COALESCE(reason, '') = ? ORDER BY position LIMIT ?
            """)
        try collect("""
            SELECT stage, status, reason, COUNT(*) AS count FROM sample_status WHERE status <> 'ok' GROUP BY 1, 2, 3
            """, """
            SELECT s.sample_id AS example FROM sample_status s LEFT JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE s.stage = ? AND s.status = ? AND COALESCE(s.reason, '') = ? ORDER BY e.position, s.sample_id LIMIT ?
            """)
        try collect("""
            SELECT 'crop subjects' AS stage, status, reason, COUNT(*) AS count FROM subjects WHERE status <> 'ok' GROUP BY 2, 3
            """, """
            SELECT s.sample_id || '#' || s.k AS example FROM subjects s LEFT JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE ? = 'crop subjects' AND s.status = ? AND COALESCE(s.reason, '') = ? ORDER BY e.position, s.k LIMIT ?
            """)
        let order = Dictionary(uniqueKeysWithValues: Self.problemStageOrder.enumerated().map { ($1, $0) })
        return groups.sorted {
            let (a, b) = (order[$0.stage] ?? order.count, order[$1.stage] ?? order.count)
            if a != b { return a < b }
            if $0.stage != $1.stage { return $0.stage < $1.stage }
            return $0.count != $1.count ? $0.count > $1.count : ($0.status, $0.reason) < ($1.status, $1.reason)
        }
    }
}

extension Catalog {
    /// Entries recorded per source name, whatever their status.
    public func entryCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        try database.forEach("SELECT source, COUNT(*) AS count FROM entries GROUP BY source") { counts[$0["source"].string ?? ""] = $0["count"].int ?? 0 }
        return counts
    }
}
