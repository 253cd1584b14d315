import Foundation

/// Masks imported from an external segmenter (`import-masks`): each import's records, their
/// verdicts, and the masks it added.
extension Catalog {
    /// An accepted sample an import record names.
    public struct ImportTarget: Sendable {
        public var sampleID: String
        public var source: String
        public var imageRef: String
        public var caption: String
        public var unit: Int
    }

    /// The accepted sample with this id, if any.
    public func acceptedSample(id: String) throws -> ImportTarget? {
        try target("e.sample_id = ?", [id])
    }

    /// The accepted sample of `source` with this key, if any.
    public func acceptedSample(source: String, key: String) throws -> ImportTarget? {
        try target("e.source = ? AND e.source_key = ?", [source, key])
    }

    func target(_ condition: String, _ parameters: [any SQLBindable]) throws -> ImportTarget? {
        try database.query("SELECT e.sample_id, e.source, e.image_ref, e.caption, e.unit FROM entries e WHERE e.status = 'ok' AND \(condition) LIMIT 1",
                           parameters).first.map { r in
            ImportTarget(sampleID: r["sample_id"].string ?? "", source: r["source"].string ?? "", imageRef: r["image_ref"].string ?? "",
                         caption: r["caption"].string ?? "", unit: try int(r, "unit", of: "entries"))
        }
    }

    /// One import record's verdict, and the mask it added when ok.
    public struct ImportRecord: Sendable {
        public var sampleID: String?
        public var outcome: Outcome
        public var mask: AddedMaskRow?

        public init(sampleID: String?, outcome: Outcome, mask: AddedMaskRow? = nil) {
            (self.sampleID, self.outcome, self.mask) = (sampleID, outcome, mask)
        }
    }

    /// The stages whose units an import makes to-do again: tag links imported masks to nouns.
    static let stagesAfterImport = ["tag", "segment", "crop", "embed", "shard"]

    /// Records an import in one transaction, replacing an earlier import of the same name: its
    /// masks (k numbered after the sample's other imported masks), every record's verdict, and
    /// the import itself; the units of the samples it touches (now or before) are forgotten by
    /// tag and the stages after it, so the next run of each redoes just those units.
    /// - Returns: the units made to-do again.
    @discardableResult
    public func recordImport(name: String, path: String, format: String, _ records: [ImportRecord], units: [String: Int]) throws -> [Int] {
        let origin = "import:" + name
        return try write { db in
            var touched = Set<Int>()
            try db.forEach("SELECT DISTINCT e.unit FROM added_masks a JOIN entries e ON e.sample_id = a.sample_id WHERE a.origin = ?", [origin]) {
                touched.insert($0[0].int ?? -1)
            }
            try db.run("DELETE FROM added_masks WHERE origin = ?", [origin])
            try db.run("DELETE FROM mask_import_records WHERE import = ?", [name])
            var next: [String: Int] = [:]
            for (index, record) in records.enumerated() {
                var k: Int?
                if let sampleID = record.sampleID, var mask = record.mask {
                    if next[sampleID] == nil {
                        let last = try db.scalar("SELECT MAX(k) FROM added_masks WHERE sample_id = ? AND k >= ?", [sampleID, AddedMask.importBase]).int
                        next[sampleID] = (last ?? AddedMask.importBase - 1) + 1
                    }
                    mask.k = next[sampleID]!
                    next[sampleID]! += 1
                    k = mask.k
                    try insert(mask, sampleID: sampleID, origin: origin, in: db)
                    if let unit = units[sampleID] { touched.insert(unit) }
                }
                try db.run("""
                    INSERT INTO mask_import_records (import, record, sample_id, k, status, reason, message) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [name, index, record.sampleID, k, record.outcome.status, record.outcome.reason?.rawValue, record.outcome.message])
            }
            try db.run("""
                INSERT OR REPLACE INTO mask_imports (id, path, format, records, accepted, imported) VALUES (?, ?, ?, ?, ?, ?)
                """, [name, path, format, records.count, records.filter { $0.outcome.isOK }.count, Date().timeIntervalSince1970])
            for stage in Self.stagesAfterImport {
                for unit in touched { try forgetUnit(stage: stage, unit: unit, in: db) }
            }
            return touched.sorted()
        }
    }
}
