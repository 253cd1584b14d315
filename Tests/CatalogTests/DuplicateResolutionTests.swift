import Foundation
import PipelineTestSupport
import Testing
@testable import Catalog

/// Duplicate verdicts must not depend on how the work was split: incremental per unit in order,
/// split across workers and merged, and a global recomputation all agree.
@Suite struct DuplicateResolutionTests {
    struct LCG {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
    }

    func entries(seed: UInt64, count: Int, unitSize: Int) -> [EntryRecord] {
        var rng = LCG(state: seed)
        return (0..<count).map { position in
            let failed = rng.next(10) == 0
            return EntryRecord(position: position, unit: position / unitSize, source: "s\(rng.next(2))",
                               sourceKey: "k\(rng.next(count / 2))", sampleID: failed ? nil : "id\(rng.next(count / 3))",
                               outcome: failed ? .failed(.corruptImage) : .ok,
                               masks: rng.next(3) == 0 ? [MaskRecord(k: 0, kind: "instance_map", value: 1, label: "mug")] : [])
        }
    }

    func ingest(_ catalog: Catalog, _ all: [EntryRecord], units: [Int]) throws {
        for unit in units {
            try catalog.write { db in
                _ = try catalog.replaceEntries(unit: unit, all.filter { $0.unit == unit }, in: db)
            }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func workersAndMergeEqualOneWorker(seed: UInt64) throws {
        let dir = TemporaryDirectory("dups")
        let all = entries(seed: seed, count: 120, unitSize: 10)
        let single = try Catalog(path: dir.appending("single.sqlite"))
        try ingest(single, all, units: Array(0..<12))

        let merged = try Catalog(path: dir.appending("merged.sqlite"))
        for worker in 0..<3 {
            let path = dir.appending("w\(worker).sqlite")
            let catalog = try Catalog(path: path)
            try ingest(catalog, all, units: (0..<12).filter { $0 % 3 == worker })
            try merged.merge(workerCatalog: path)
        }
        #expect(try merged.canonicalDump() == single.canonicalDump())

        // Out-of-order redo of an early unit triggers a global recomputation with the same result.
        let shuffled = try Catalog(path: dir.appending("shuffled.sqlite"))
        try ingest(shuffled, all, units: [5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4])
        #expect(try shuffled.canonicalDump() == single.canonicalDump())

        // At most one accepted entry per sample id, and every duplicate names its reason.
        let db = single.database
        #expect(try db.scalar("SELECT COUNT(*) FROM (SELECT sample_id FROM entries WHERE status='ok' GROUP BY 1 HAVING COUNT(*) > 1)").int == 0)
        #expect(try db.scalar("SELECT COUNT(*) FROM entries WHERE status='skipped' AND reason NOT IN ('duplicate_key','duplicate_content')").int == 0)
    }

    @Test func verdictsFollowManifestOrder() throws {
        let catalog = try Catalog(path: ":memory:")
        let rows = [
            EntryRecord(position: 0, unit: 0, source: "s", sourceKey: "a", sampleID: "x"),
            EntryRecord(position: 1, unit: 0, source: "s", sourceKey: "b", sampleID: "x"),
            EntryRecord(position: 2, unit: 0, source: "s", sourceKey: "a", sampleID: "y"),
            EntryRecord(position: 3, unit: 0, source: "t", sourceKey: "a", sampleID: "y"),
        ]
        let resolved = try catalog.write { db in try catalog.replaceEntries(unit: 0, rows, in: db) }
        #expect(resolved.map(\.outcome.status) == ["ok", "skipped", "skipped", "ok"])
        #expect(resolved.map(\.outcome.reason) == [nil, .duplicateContent, .duplicateKey, nil])
    }
}
