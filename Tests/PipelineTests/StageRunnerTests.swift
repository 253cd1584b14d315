import BuildSupport
import Catalog
import Foundation
@testable import Pipeline
import PipelineTestSupport
import Testing

/// A stage that writes one file per unit and fails items whose value is negative.
struct CountingStage: UnitProcessor {
    var stage: String { "count" }
    var configHash: String
    var configJSON: String { "{}" }
    let calls: Counter

    final class Counter: @unchecked Sendable {
        // @unchecked: only touched from the test's single thread.
        var units: [Int] = []
    }

    func process(unit: Int, firstPosition: Int, items: [Int]) throws -> UnitOutput {
        calls.units.append(unit)
        let text = items.map(String.init).joined(separator: ",")
        return UnitOutput(files: [("objects/count/unit-\(unit).txt", Array(text.utf8))]) { _, db in
            try db.run("CREATE TABLE IF NOT EXISTS seen (unit INTEGER PRIMARY KEY, items TEXT)")
            try db.run("INSERT OR REPLACE INTO seen VALUES (?, ?)", [unit, text])
            return items.map { $0 < 0 ? .failed(.badRecord) : .ok }
        }
    }
}

@Suite struct StageRunnerTests {
    @Test func unitsAreRecordedWithFilesAndSkippedWhenDone() throws {
        let dir = TemporaryDirectory("runner")
        let layout = BuildLayout(root: dir.appending("build"))
        let counter = CountingStage.Counter()
        let stage = CountingStage(configHash: "h1", calls: counter)
        let items = [1, 2, 3, -4, 5, 6, 7]
        let options = RunOptions(unitSize: 3, quiet: true)
        let first = try StageRunner(layout: layout, options: options).run(stage, items: items.makeIterator())
        #expect(first.unitsProcessed == 3 && first.itemsOK == 6 && first.itemsFailed == 1)
        #expect(first.reasons == ["failed:bad_record": 1])
        #expect(counter.units == [0, 1, 2])

        let catalog = try Catalog(path: layout.catalog)
        let files = try catalog.database.query("SELECT path, bytes, sha256 FROM unit_files ORDER BY path")
        #expect(files.count == 3)
        let bytes = try FileIO.read(layout.absolute("objects/count/unit-1.txt"), maxBytes: 100)
        #expect(files[1][1].int == bytes.count && files[1][2].string == SHA256.hex(bytes))
        #expect(try catalog.database.scalar("SELECT summary_json FROM runs").string?.contains("\"items_ok\":6") == true)
        #expect(FileManager.default.fileExists(atPath: layout.summaryReport(stage: "count", worker: 0, workers: 1, ext: "md")))

        // Same config: nothing to do. Retry: only the unit holding the failure.
        counter.units = []
        let again = try StageRunner(layout: layout, options: options).run(stage, items: items.makeIterator())
        #expect(again.unitsAlreadyDone == 3 && again.unitsProcessed == 0 && counter.units.isEmpty)
        var retry = options
        retry.retryFailed = true
        _ = try StageRunner(layout: layout, options: retry).run(stage, items: items.makeIterator())
        #expect(counter.units == [1])

        // A changed config hash redoes everything.
        counter.units = []
        _ = try StageRunner(layout: layout, options: options)
            .run(CountingStage(configHash: "h2", calls: counter), items: items.makeIterator())
        #expect(counter.units == [0, 1, 2])
    }

    @Test func workersTakeDisjointUnits() throws {
        let dir = TemporaryDirectory("workers")
        let layout = BuildLayout(root: dir.appending("build"))
        var seen: [[Int]] = []
        for worker in 0..<3 {
            let counter = CountingStage.Counter()
            _ = try StageRunner(layout: layout, options: RunOptions(workers: 3, worker: worker, unitSize: 2, quiet: true))
                .run(CountingStage(configHash: "h", calls: counter), items: (0..<14).makeIterator())
            seen.append(counter.units)
            #expect(FileManager.default.fileExists(atPath: layout.workerCatalog(worker: worker, workers: 3)))
        }
        #expect(seen == [[0, 3, 6], [1, 4], [2, 5]])
    }

    @Test func orphansAndTemporariesAreSweptOnStart() throws {
        let dir = TemporaryDirectory("sweep")
        let layout = BuildLayout(root: dir.appending("build"))
        let counter = CountingStage.Counter()
        let stage = CountingStage(configHash: "h", calls: counter)
        _ = try StageRunner(layout: layout, options: RunOptions(unitSize: 5, quiet: true)).run(stage, items: (0..<5).makeIterator())
        try dir.write("orphan", to: "build/objects/count/unclaimed.txt")
        try dir.write("half", to: "build/objects/count/.tmp-w0of1-unit-9.txt")
        _ = try StageRunner(layout: layout, options: RunOptions(unitSize: 5, quiet: true)).run(stage, items: (0..<5).makeIterator())
        let left = try FileManager.default.contentsOfDirectory(atPath: layout.absolute("objects/count"))
        #expect(left == ["unit-0.txt"])
    }

    @Test func aSecondProcessIsRefusedByTheLock() throws {
        let dir = TemporaryDirectory("lock")
        let layout = BuildLayout(root: dir.appending("build"))
        let holder = try FileLock(path: layout.lock(forCatalog: layout.catalog), purpose: "test holder")
        defer { withExtendedLifetime(holder) {} }
        let counter = CountingStage.Counter()
        // flock locks are per open file description, so a second open in this process conflicts too.
        #expect {
            try StageRunner(layout: layout, options: RunOptions(quiet: true))
                .run(CountingStage(configHash: "h", calls: counter), items: (0..<2).makeIterator())
        } throws: { error in
            guard let error = error as? PipelineError else { return false }
            return error.code == .locked && error.message.contains("pid \(getpid())")
        }
    }
}
