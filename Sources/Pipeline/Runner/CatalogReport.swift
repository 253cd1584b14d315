public import Catalog

/// Human-readable views of a catalog for the `catalog` command.
public enum CatalogReport {
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
