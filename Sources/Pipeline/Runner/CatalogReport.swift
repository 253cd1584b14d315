public import Catalog

/// Human-readable views of a catalog for the `catalog` command.
public enum CatalogReport {
    /// Counts per stage and status, reasons with counts, and the last runs.
    public static func summary(_ catalog: Catalog) throws -> String {
        let db = catalog.database
        var lines = ["catalog \(catalog.path) (schema \(try catalog.schemaVersion()))"]
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

    /// What did not come through, at every stage and for subjects: grouped by stage and reason
    /// with counts and up to `examples` example ids each (`catalog inspect ID` shows one).
    public static func problems(_ catalog: Catalog, examples: Int) throws -> String {
        let groups = try catalog.problemGroups(examples: examples)
        guard !groups.isEmpty else { return "no problems: every entry, sample and subject is ok" }
        var lines: [String] = []
        var stage = ""
        for group in groups {
            if group.stage != stage {
                stage = group.stage
                let total = groups.filter { $0.stage == stage }.reduce(0) { $0 + $1.count }
                lines.append("\(stage): \(total)")
            }
            lines.append("  \(group.status):\(group.reason): \(group.count)   e.g. \(group.examples.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
