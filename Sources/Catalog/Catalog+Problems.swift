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

    /// Every stage's skipped and failed items grouped by (stage, status, reason), in pipeline
    /// order and by count within a stage, each with up to `examples` example items.
    public func problemGroups(examples: Int) throws -> [ProblemGroup] {
        var groups: [ProblemGroup] = []
        func collect(_ stage: String?, _ groupSQL: String, _ exampleSQL: String, _ parameters: [any SQLBindable] = []) throws {
            for row in try database.query(groupSQL, parameters) {
                let name = stage ?? (row[0].string ?? "?")
                let offset = stage == nil ? 1 : 0
                let status = row[offset].string ?? "?", reason = row[offset + 1].string
                var bind: [any SQLBindable] = stage == nil ? [name] : []
                bind += [status, reason ?? "", examples]
                let found = try database.query(exampleSQL, bind).map { $0[0].string ?? "?" }
                groups.append(ProblemGroup(stage: name, status: status, reason: reason ?? "unknown",
                                           count: row[offset + 2].int ?? 0, examples: found))
            }
        }
        try collect("ingest", """
            SELECT status, reason, COUNT(*) FROM entries WHERE status <> 'ok' GROUP BY 1, 2
            """, """
            SELECT COALESCE(sample_id, source || '/' || source_key) FROM entries
            WHERE status = ? AND COALESCE(reason, '') = ? ORDER BY position LIMIT ?
            """)
        try collect(nil, """
            SELECT stage, status, reason, COUNT(*) FROM sample_status WHERE status <> 'ok' GROUP BY 1, 2, 3
            """, """
            SELECT s.sample_id FROM sample_status s LEFT JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE s.stage = ? AND s.status = ? AND COALESCE(s.reason, '') = ? ORDER BY e.position, s.sample_id LIMIT ?
            """)
        try collect("crop subjects", """
            SELECT status, reason, COUNT(*) FROM subjects WHERE status <> 'ok' GROUP BY 1, 2
            """, """
            SELECT s.sample_id || '#' || s.k FROM subjects s LEFT JOIN entries e ON e.sample_id = s.sample_id AND e.status = 'ok'
            WHERE s.status = ? AND COALESCE(s.reason, '') = ? ORDER BY e.position, s.k LIMIT ?
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
        try database.forEach("SELECT source, COUNT(*) FROM entries GROUP BY source") { counts[$0[0].string ?? ""] = $0[1].int ?? 0 }
        return counts
    }
}
