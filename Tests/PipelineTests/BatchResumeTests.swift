import BuildSupport
import Catalog
import Foundation
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing

/// An interrupt inside a unit loses at most the batch in progress: embed and crop keep each
/// finished batch in the unit's scratch space, the rerun reads them back, and the unit's files
/// and rows are byte-identical to an uninterrupted run's.
@Suite(.serialized) struct BatchResumeTests {
    /// A sample through tag in one unit, a random CLIP, and a copy of the build as `reference-build`.
    func prepare(_ name: String) throws -> (dir: TemporaryDirectory, pipeline: String, reference: String) {
        let dir = TemporaryDirectory(name)
        _ = try SampleWriter(seed: 17, output: dir.appending("sample"), perLayout: 4, defects: false).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 5)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 1000, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02}
            embed: {model: clip, batch: 2}
            """)
        for stage in ["ingest", "tag"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        return (dir, pipeline, reference)
    }

    func run(_ stage: String, _ pipeline: String) throws -> ExecutableRunner.Result {
        let result = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
        #expect(result.status == 0, "\(stage): \(result.stderr)")
        return result
    }

    /// Saved batches in a unit's scratch folder.
    func batches(_ dir: TemporaryDirectory, _ stage: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.appending("build/scratch/\(stage)/unit-00000"))) ?? [])
            .filter { !$0.hasPrefix(AtomicFile.temporaryPrefix) }
    }

    /// Starts `stage` slowed down per batch, stops it with `signal` once `atLeast` batches are
    /// saved, and returns how many were saved.
    func interrupt(_ stage: String, _ dir: TemporaryDirectory, _ pipeline: String, atLeast: Int, signal number: Int32) throws -> Int {
        let logs = TemporaryDirectory("\(stage)-batch-interrupt")
        let process = try ExecutableRunner.start(stage, ["--pipeline", pipeline, "--quiet"],
                                                 environment: ["ECLIPSE_BATCH_DELAY_MS": "300"], logDirectory: logs.path)
        let deadline = Date().addingTimeInterval(120)
        while batches(dir, stage).count < atLeast && process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(process.isRunning, "\(stage) finished before it was interrupted")
        #expect(process.signal(number))
        process.waitUntilExit()
        let result = ExecutableRunner.collect(process, logDirectory: logs.path, name: stage)
        #expect(result.status == (number == SIGKILL ? 137 : 128 + number) || result.signalled, "\(result.status): \(result.stderr)")
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        #expect(try db.scalar("SELECT COUNT(*) FROM units WHERE stage = ?", [stage]).int == 0, "the unit was not committed")
        return batches(dir, stage).count
    }

    func expectSameFiles(_ dir: TemporaryDirectory, _ folder: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let names = try FileManager.default.subpathsOfDirectory(atPath: dir.appending("reference-build/" + folder)).sorted()
        #expect(!names.isEmpty, sourceLocation: sourceLocation)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: dir.appending("build/" + folder)).sorted() == names, sourceLocation: sourceLocation)
        for name in names {
            #expect(FileManager.default.contents(atPath: dir.appending("build/\(folder)/\(name)"))
                    == FileManager.default.contents(atPath: dir.appending("reference-build/\(folder)/\(name)")), "\(name)", sourceLocation: sourceLocation)
        }
    }

    func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }

    @Test func embedResumesFromFinishedBatches() throws {
        let (dir, pipeline, reference) = try prepare("embed-batches")
        _ = try run("crop", pipeline)
        _ = try run("crop", reference)
        _ = try run("embed", reference)
        let saved = try interrupt("embed", dir, pipeline, atLeast: 5, signal: SIGINT)
        #expect(saved >= 5)
        let rerun = try run("embed", pipeline)
        // Everything finished before the interrupt is read back, not computed again.
        #expect(rerun.stderr.contains("embed: unit 0: reused \(saved) finished batches of an interrupted run"), "\(rerun.stderr)")
        try expectSameFiles(dir, "features")
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("build/scratch/embed/unit-00000")), "scratch removed once committed")
    }

    @Test func cropResumesFromFinishedBatchesAfterAKill() throws {
        let (dir, pipeline, reference) = try prepare("crop-batches")
        _ = try run("crop", reference)
        let saved = try interrupt("crop", dir, pipeline, atLeast: 1, signal: SIGKILL)
        #expect(saved >= 1)
        let rerun = try run("crop", pipeline)
        #expect(rerun.stderr.contains("crop: unit 0: reused \(saved) finished batches of an interrupted run"), "\(rerun.stderr)")
        try expectSameFiles(dir, "objects")
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        #expect(!FileManager.default.fileExists(atPath: dir.appending("build/scratch/crop/unit-00000")))
    }

    /// A batch saved under other inputs (or cut short) is never read back.
    @Test func aBatchIsReusedOnlyForItsInputs() throws {
        let dir = TemporaryDirectory("unit-scratch")
        let layout = BuildLayout(root: dir.path)
        var calls = 0
        let first = UnitScratch(layout: layout, stage: "embed", unit: 3, configHash: "abc")
        let a = try first.floats("image-000000", inputs: UnitScratch.digest([[1, 2]]), count: 2) { calls += 1; return [1.5, 2.5] }
        #expect(a == [1.5, 2.5] && calls == 1)
        let second = UnitScratch(layout: layout, stage: "embed", unit: 3, configHash: "abc")
        #expect(try second.floats("image-000000", inputs: UnitScratch.digest([[1, 2]]), count: 2) { calls += 1; return [9, 9] } == [1.5, 2.5])
        #expect(second.reused == 1 && calls == 1)
        #expect(try second.floats("image-000000", inputs: UnitScratch.digest([[1, 3]]), count: 2) { calls += 1; return [7, 7] } == [7, 7], "other inputs")
        // Another config removes the unit's batches; a truncated file is computed again.
        let third = UnitScratch(layout: layout, stage: "embed", unit: 3, configHash: "xyz")
        #expect(try FileManager.default.contentsOfDirectory(atPath: third.directory).isEmpty)
        _ = try third.floats("text-000000", inputs: "d", count: 1) { [4] }
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: third.directory).first)
        try Data([0, 0]).write(to: URL(fileURLWithPath: third.directory + "/" + file))
        #expect(try UnitScratch(layout: layout, stage: "embed", unit: 3, configHash: "xyz").floats("text-000000", inputs: "d", count: 1) { [4] } == [4])
        UnitScratch.remove(layout: layout, stage: "embed", unit: 3)
        #expect(!FileManager.default.fileExists(atPath: third.directory))
    }
}
