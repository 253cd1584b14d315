import BuildConfig
import Catalog
import Formats
import Foundation
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing

/// A `--set` experiment never leaks into the build: whatever sequence of configs and kills a
/// stage goes through, its rows and files are exactly those of the config recorded as done, and
/// running the plain config again gives what a build that never saw the experiment gives.
@Suite(.serialized) struct ConfigSwitchTests {
    /// A sample through tag, a random CLIP, and a copy of the build as `reference-build` with
    /// its own pipeline file.
    func prepare() throws -> (dir: TemporaryDirectory, pipeline: String, reference: String) {
        let dir = TemporaryDirectory("config-switch")
        _ = try SampleWriter(seed: 29, output: dir.appending("sample"), perLayout: 4, defects: false).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 5)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 6, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02}
            embed: {model: clip, batch: 4}
            """)
        for stage in ["ingest", "tag"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        return (dir, pipeline, reference)
    }

    func run(_ stage: String, _ pipeline: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try ExecutableRunner.run(stage, ["--pipeline", pipeline] + extra)
        #expect(result.status == 0, "\(stage) \(extra): \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }

    func keptSubjects(_ build: String) throws -> Int {
        try Catalog(path: build + "/catalog.sqlite", readOnly: true).database.scalar("SELECT COUNT(*) FROM subjects WHERE status = 'ok'").int ?? -1
    }

    /// A crop config that keeps fewer samples, then embed and shard again: every sample crop no
    /// longer keeps loses its embed verdict and its `features` row (no row names a (file, row)
    /// that now holds another sample's features), embed's verdicts are exactly crop's kept set,
    /// and shard judges only those; a later stage's stale rows do not survive a redone unit.
    @Test func aStricterCropLeavesNoStaleFeatureRows() throws {
        let (dir, pipeline, _) = try prepare()
        for stage in ["crop", "embed", "shard"] { _ = try run(stage, pipeline, ["--quiet"]) }
        let path = dir.appending("build/catalog.sqlite")
        func count(_ sql: String) throws -> Int { try Catalog(path: path, readOnly: true).database.scalar(sql).int ?? -1 }
        let before = try count("SELECT COUNT(*) FROM sample_status WHERE stage = 'crop' AND status = 'ok'")
        let strict = ["--set", "crop.min_fill=0.75"]
        for stage in ["crop", "embed", "shard"] { _ = try run(stage, pipeline, ["--quiet"] + strict) }
        let kept = try count("SELECT COUNT(*) FROM sample_status WHERE stage = 'crop' AND status = 'ok'")
        #expect(kept > 0 && kept < before, "crop kept \(kept) of \(before): the stricter filter must drop some")
        #expect(try count("SELECT COUNT(*) FROM sample_status WHERE stage = 'embed'") == kept)
        #expect(try count("""
            SELECT COUNT(*) FROM features f WHERE NOT EXISTS (SELECT 1 FROM sample_status s WHERE s.stage = 'crop'
                AND s.status = 'ok' AND s.sample_id = f.sample_id)
            """) == 0)
        #expect(try count("SELECT COUNT(*) FROM (SELECT path, row FROM features GROUP BY path, row HAVING COUNT(*) > 1)") == 0)
        #expect(try count("SELECT COUNT(*) FROM sample_status WHERE stage = 'shard'") == kept)
        // Each features row's sample is the sample its file's metadata names at that row.
        let db = try Catalog(path: path, readOnly: true).database
        for row in try db.query("SELECT sample_id, path, row FROM features") {
            let file = try SafetensorsFile(path: dir.appending("build/" + row["path"].string!))
            let ids = file.metadata["sample_ids"]?.split(separator: ",").map(String.init) ?? []
            #expect(ids.indices.contains(row["row"].int!) && ids[row["row"].int!] == row["sample_id"].string!)
        }
        // `catalog verify` checks the same, and says so when a row names another sample's features
        // or a stage holds a verdict on a sample that is not its input.
        let verify = try ExecutableRunner.run("catalog", ["verify", "--pipeline", pipeline])
        #expect(verify.status == 0, "\(verify.stdout)")
        let moved = try #require(try db.query("SELECT sample_id FROM features ORDER BY sample_id LIMIT 1").first?["sample_id"].string)
        let writable = try Catalog(path: path)
        try writable.database.run("UPDATE features SET row = row + 1 WHERE sample_id = ?", [moved])
        let dropped = try #require(try db.query("""
            SELECT sample_id FROM sample_status WHERE stage = 'crop' AND status <> 'ok' ORDER BY sample_id LIMIT 1
            """).first?["sample_id"].string)
        try writable.database.run("INSERT INTO sample_status (stage, sample_id, unit, status) VALUES ('embed', ?, 0, 'ok')", [dropped])
        let broken = try ExecutableRunner.run("catalog", ["verify", "--pipeline", pipeline])
        #expect(broken.status == 1 && broken.stdout.contains("the catalog puts \(moved) at row")
                && broken.stdout.contains("embed \(dropped): a verdict on a sample that is not the stage's input"), "\(broken.stdout)")
    }

    /// The catalog dump and every file under the build's features equal the reference build's.
    func expectSameBuild(_ dir: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))),
                sourceLocation: sourceLocation)
        let features = try FileManager.default.contentsOfDirectory(atPath: dir.appending("reference-build/features/embed")).sorted()
        #expect(!features.isEmpty, sourceLocation: sourceLocation)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appending("build/features/embed")).sorted() == features,
                sourceLocation: sourceLocation)
        for name in features {
            #expect(FileManager.default.contents(atPath: dir.appending("build/features/embed/" + name))
                    == FileManager.default.contents(atPath: dir.appending("reference-build/features/embed/" + name)), "\(name)",
                    sourceLocation: sourceLocation)
        }
        let verify = try ExecutableRunner.run("catalog", ["verify", "--pipeline", dir.appending("pipeline.yaml")])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)", sourceLocation: sourceLocation)
    }

    /// crop, crop with `--set crop.min_fill=…`, crop again: the third run redoes every unit and
    /// the catalog holds the plain config's subjects; embed then embeds exactly those.
    @Test func aCropExperimentIsUndoneByThePlainConfig() throws {
        let (dir, pipeline, reference) = try prepare()
        _ = try run("crop", reference)
        _ = try run("embed", reference)
        let plainKept = try keptSubjects(dir.appending("reference-build"))

        _ = try run("crop", pipeline)
        _ = try run("crop", pipeline, ["--set", "crop.min_fill=0.05", "--set", "crop.min_box_area=0.001"])
        let experimentKept = try keptSubjects(dir.appending("build"))
        #expect(experimentKept != plainKept, "the experiment must change what crop keeps (\(experimentKept) vs \(plainKept))")
        let embedEarly = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet"])
        #expect(embedEarly.status != 0 && embedEarly.stderr.contains("run crop first"), "\(embedEarly.stderr)")
        let again = try run("crop", pipeline)
        #expect(!again.contains("units: 0 processed"), "\(again)")
        #expect(try keptSubjects(dir.appending("build")) == plainKept)
        _ = try run("embed", pipeline)
        try expectSameBuild(dir)
    }

    /// embed, then `embed --set embed.dtype=f32` killed after it overwrote a unit's features but
    /// before it recorded the unit, then plain embed: the plain run redoes that unit, and the
    /// build equals one that never saw the experiment. Also the experiment run to the end.
    @Test func anInterruptedEmbedExperimentIsRedoneByThePlainConfig() throws {
        let (dir, pipeline, reference) = try prepare()
        _ = try run("crop", reference)
        _ = try run("embed", reference)
        _ = try run("crop", pipeline)
        _ = try run("embed", pipeline)
        let first = dir.appending("build/features/embed/unit-00000.safetensors")
        let plainBytes = try #require(FileManager.default.contents(atPath: first))

        let logs = TemporaryDirectory("config-switch-kill")
        let experiment = try ExecutableRunner.start("embed", ["--pipeline", pipeline, "--quiet", "--set", "embed.dtype=f32"],
                                                    environment: ["ECLIPSE_UNIT_DELAY_MS": "4000"], logDirectory: logs.path)
        let deadline = Date().addingTimeInterval(120)
        while FileManager.default.contents(atPath: first) == plainBytes && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(FileManager.default.contents(atPath: first) != plainBytes, "the experiment never rewrote unit 0")
        #expect(experiment.signal(SIGKILL))
        experiment.waitUntilExit()

        let resumed = try run("embed", pipeline)
        #expect(!resumed.contains("units: 0 processed"), "\(resumed)")
        try expectSameBuild(dir)

        _ = try run("embed", pipeline, ["--set", "embed.dtype=f32"])
        #expect(FileManager.default.contents(atPath: first) != plainBytes)
        _ = try run("embed", pipeline)
        try expectSameBuild(dir)
    }

    /// Stage keys: shard takes embed's key from the catalog and never reads the weights, so a
    /// no-op shard runs with the model folder gone; a changed embed setting is still caught.
    @Test func shardTakesEmbedsKeyFromTheCatalog() throws {
        let (dir, pipeline, _) = try prepare()
        for stage in ["crop", "embed", "shard"] { _ = try run(stage, pipeline) }
        let keys = StageKeys(pipeline: try PipelineConfig.load(path: pipeline))
        let catalog = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true)
        let embedKey = try #require(try keys.recordedEmbed(in: catalog))
        #expect(try catalog.doneUnits(stage: "embed", configHash: embedKey).count > 0)
        #expect(try keys.embed(modelDigest: StageKeys.modelDigest(directory: dir.appending("clip"))) == embedKey)
        #expect(try catalog.doneUnits(stage: "shard", configHash: keys.shard(embed: embedKey)).count > 0)

        try FileManager.default.moveItem(atPath: dir.appending("clip"), toPath: dir.appending("clip-away"))
        let noOp = try run("shard", pipeline)
        #expect(noOp.contains("units: 0 processed"), "\(noOp)")
        try FileManager.default.moveItem(atPath: dir.appending("clip-away"), toPath: dir.appending("clip"))
        let changed = try ExecutableRunner.run("shard", ["--pipeline", pipeline, "--quiet", "--set", "embed.batch=3"])
        #expect(changed.status != 0 && changed.stderr.contains("run embed first"), "\(changed.stderr)")
    }

    /// A catalog written before configs superseded each other, holding a unit as done under two
    /// configs, is repaired on opening (the run that finished last keeps the unit) and
    /// `catalog verify` would have named it.
    @Test func aUnitDoneUnderTwoConfigsIsReportedAndRepaired() throws {
        let dir = TemporaryDirectory("config-switch-old")
        let path = dir.appending("catalog.sqlite")
        let current = try Catalog(path: dir.appending("current.sqlite"))
        for (hash, finished) in [("aaaa", 2.0), ("bbbb", 1.0)] {
            let record = UnitRecord(stage: "crop", unit: 0, configHash: hash, itemsIn: 1, itemsOK: 1, itemsSkipped: 0, itemsFailed: 0,
                                    host: "h", worker: 0, runID: 1, started: 0, finished: finished)
            try current.write { db in try current.recordUnit(record, files: [], in: db) }
        }
        // recordUnit supersedes: only the last recorded config remains.
        #expect(try current.doneUnits(stage: "crop", configHash: "aaaa").isEmpty)
        #expect(try current.doneUnits(stage: "crop", configHash: "bbbb") == [0])
        // An old catalog (schema 5) holding unit 0 under two configs, as that code could leave it.
        let catalog = try Catalog(path: path, migratingTo: 5)
        try catalog.database.execute("""
            INSERT INTO units (stage, unit, config_hash, status, finished) VALUES ('crop', 0, 'aaaa', 'done', 2.0),
                ('crop', 0, 'bbbb', 'done', 1.0);
            INSERT INTO unit_files (stage, unit, config_hash, path, bytes, sha256) VALUES ('crop', 0, 'aaaa', 'x', 1, 'y'),
                ('crop', 0, 'bbbb', 'z', 1, 'w');
            """)
        #expect(try catalog.unitsUnderSeveralConfigs() == ["crop unit 0: aaaa, bbbb"])
        let (_, mismatches) = try CatalogInspection.verify(catalog, root: dir.path)
        #expect(mismatches.contains { $0.description == "crop unit 0: aaaa, bbbb: done under more than one config" })
        let reopened = try Catalog(path: path)
        #expect(try reopened.unitsUnderSeveralConfigs().isEmpty)
        #expect(try reopened.doneUnits(stage: "crop", configHash: "aaaa") == [0])
        #expect(try reopened.database.query("SELECT path FROM unit_files").map { $0[0].string } == ["x"])
    }
}
