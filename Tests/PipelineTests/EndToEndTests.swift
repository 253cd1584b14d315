import BuildSupport
import Catalog
import Foundation
import Models
@testable import Pipeline
import PipelineTestSupport
import Testing

/// Runs the built executables as a user would.
@Suite(.serialized) struct EndToEndTests {
    func prepare(perLayout: Int, unitSize: Int, extra: String = "") throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("e2e")
        let made = try ExecutableRunner.run("make-sample", ["--output", dir.appending("sample"), "--per-layout", "\(perLayout)",
                                                            "--seed", "5", "--defects"])
        #expect(made.status == 0, "\(made.stderr)")
        return (dir, try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: extra))
    }

    func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }

    @Test func ingestCatalogAndResume() throws {
        let (dir, pipeline) = try prepare(perLayout: 3, unitSize: 8)
        let first = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("ingest summary") && first.stdout.contains("failed:path_escape"))
        let again = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"])
        #expect(again.stdout.contains("0 processed"))
        let summary = try ExecutableRunner.run("catalog", ["summary", "--pipeline", pipeline])
        #expect(summary.status == 0 && summary.stdout.contains("ok:"))
        let dumped = try ExecutableRunner.run("catalog", ["dump", "--catalog", dir.appending("build/catalog.sqlite")])
        #expect(dumped.stdout == (try dump(dir.appending("build/catalog.sqlite"))))
        #expect(FileManager.default.fileExists(atPath: dir.appending("build/reports/ingest.md")))
        // The same build in another folder dumps the same: source paths are relative to the build.
        let (elsewhere, otherPipeline) = try prepare(perLayout: 3, unitSize: 8)
        #expect(elsewhere.path != dir.path)
        #expect(try ExecutableRunner.run("ingest", ["--pipeline", otherPipeline, "--quiet"]).status == 0)
        let here = try dump(dir.appending("build/catalog.sqlite"))
        #expect(here == (try dump(elsewhere.appending("build/catalog.sqlite"))))
        #expect(!here.contains(dir.path) && here.contains("\tsample/folder\t"), "\(here.prefix(600))")

        let badConfig = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--set", "ingest.bogus=1"])
        #expect(badConfig.status == StageCommandSupport.configExitCode)
        #expect(badConfig.stderr.contains("ingest: unknown key 'bogus'"), "\(badConfig.stderr)")
    }

    @Test func everyStageInOrderOnTheSample() throws {
        let (dir, pipeline) = try prepare(perLayout: 2, unitSize: 6, extra: "crop: {min_image_side: 200, min_box_area: 0.02}\nembed: {model: clip}")
        let clip = try ExecutableRunner.run("make-sample", ["--random-clip", dir.appending("clip")])
        #expect(clip.status == 0 && clip.stdout.contains("random"))
        for stage in ["ingest", "tag", "crop", "embed", "shard"] {
            let run = try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"])
            #expect(run.status == 0 && run.stdout.contains("\(stage) summary"), "\(run.stderr)")
        }
        let summary = try ExecutableRunner.run("catalog", ["summary", "--pipeline", pipeline])
        #expect(summary.stdout.contains("tag skipped:no_nouns: 1") && summary.stdout.contains("tag skipped:label_not_in_caption: 1"))
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        // Each cropped subject with a label is tied to a caption noun with token positions.
        #expect(try db.scalar("""
            SELECT COUNT(*) FROM subjects s JOIN nouns n ON n.sample_id = s.sample_id AND n.idx = s.noun_idx
            WHERE s.status = 'ok' AND n.token_positions_json <> '[]'
            """).int ?? 0 >= 10)
        #expect(FileManager.default.fileExists(atPath: dir.appending("build/exports/grounding/unit-00000.jsonl")))
        #expect(try db.scalar("SELECT COUNT(*) FROM features").int
                == (try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'crop' AND status = 'ok'").int))
        #expect(try db.scalar("SELECT COUNT(*) FROM shard_rows").int
                == (try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'shard' AND status = 'ok'").int))
    }

    /// `catalog problems` covers every stage and the subject-level verdicts: each (stage, status,
    /// reason) with its count, as the tables hold them, and example ids that `catalog inspect` takes.
    @Test func problemsCoverEveryStageAndSubjects() throws {
        let (dir, pipeline) = try prepare(perLayout: 2, unitSize: 6, extra: "crop: {min_image_side: 200, min_box_area: 0.05}")
        for stage in ["ingest", "tag", "crop"] {
            #expect(try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"]).status == 0)
        }
        let run = try ExecutableRunner.run("catalog", ["problems", "--pipeline", pipeline, "--examples", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let out = run.stdout
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        func expected(_ sql: String) throws -> [(String, String, Int)] {
            try db.query(sql).map { ($0[0].string ?? "", $0[1].string ?? "", $0[2].int ?? 0) }
        }
        let sections = [
            ("ingest", try expected("SELECT status, reason, COUNT(*) FROM entries WHERE status <> 'ok' GROUP BY 1, 2")),
            ("tag", try expected("SELECT status, reason, COUNT(*) FROM sample_status WHERE stage = 'tag' AND status <> 'ok' GROUP BY 1, 2")),
            ("crop", try expected("SELECT status, reason, COUNT(*) FROM sample_status WHERE stage = 'crop' AND status <> 'ok' GROUP BY 1, 2")),
            ("crop subjects", try expected("SELECT status, reason, COUNT(*) FROM subjects WHERE status <> 'ok' GROUP BY 1, 2")),
        ]
        let lines = out.split(separator: "\n").map(String.init)
        var previous = -1
        for (stage, rows) in sections {
            #expect(!rows.isEmpty, "the defect sample has \(stage) problems")
            // Sections in pipeline order, each headed by its total.
            let header = try #require(lines.firstIndex(of: "\(stage): \(rows.reduce(0) { $0 + $1.2 })"), "\(stage) section: \(out)")
            #expect(header > previous)
            previous = header
            for (status, reason, count) in rows {
                #expect(out.contains("  \(status):\(reason): \(count)   e.g. "), "\(stage) \(status):\(reason): \(count) in \(out)")
            }
        }
        // An example id is one `catalog inspect` shows.
        let line = try #require(lines.first { $0.contains("skipped:no_masks") })
        let example = try #require(line.components(separatedBy: "e.g. ").last?.components(separatedBy: ", ").first)
        #expect(try ExecutableRunner.run("catalog", ["inspect", example, "--pipeline", pipeline]).status == 0)
    }

    @Test func killedAtRandomInstantsResumesToTheSameCatalog() throws {
        let (dir, pipeline) = try prepare(perLayout: 60, unitSize: 4, extra: "ingest: {verify: decode}")
        let reference = dir.appending("reference.yaml")
        try String(contentsOfFile: pipeline, encoding: .utf8)
            .replacingOccurrences(of: "build_dir: build", with: "build_dir: reference-build")
            .write(toFile: reference, atomically: true, encoding: .utf8)
        let clock = Date()
        let clean = try ExecutableRunner.run("ingest", ["--pipeline", reference, "--quiet"])
        #expect(clean.status == 0, "\(clean.stderr)")
        let duration = Date().timeIntervalSince(clock)
        let expected = try dump(dir.appending("reference-build/catalog.sqlite"))

        var rng = SystemRandomNumberGenerator()
        var kills = 0
        let logs = TemporaryDirectory("kill-logs")
        let runs = Torture.kills(default: 20)
        for _ in 0..<runs {
            // A 10 ms pause between writing and committing each unit (a test hook) stretches the
            // runs so that every kill lands mid-flight, often inside that window.
            let process = try ExecutableRunner.start("ingest", ["--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_UNIT_DELAY_MS": "10"], logDirectory: logs.path)
            // Under `make reliability` (50 runs) the window shrinks so the work outlasts the kills.
            let window = runs > 20 ? 0.06 : max(0.1, duration)
            Thread.sleep(forTimeInterval: Double.random(in: 0.005...window, using: &rng))
            if process.isRunning { kill(process.processIdentifier, SIGKILL); kills += 1 }
            process.waitUntilExit()
        }
        let resumed = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try dump(dir.appending("build/catalog.sqlite")) == expected)
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("build")).isEmpty)
        Torture.record(stage: "ingest", kills: kills, runs: runs)
        print("crash test: \(kills) of \(runs) runs killed mid-flight (clean run \(String(format: "%.2f", duration)) s)")
    }

    @Test func workersInParallelThenMergeEqualOneWorker() throws {
        let (dir, pipeline) = try prepare(perLayout: 6, unitSize: 5)
        let one = dir.appending("one.yaml")
        try String(contentsOfFile: pipeline, encoding: .utf8)
            .replacingOccurrences(of: "build_dir: build", with: "build_dir: one-build")
            .write(toFile: one, atomically: true, encoding: .utf8)
        #expect(try ExecutableRunner.run("ingest", ["--pipeline", one, "--quiet"]).status == 0)

        let logs = TemporaryDirectory("worker-logs")
        let workers = try (0..<2).map { k in
            // The second worker takes its index from the Slurm array variables.
            k == 0 ? try ExecutableRunner.start("ingest", ["--pipeline", pipeline, "--quiet", "--workers", "2", "--worker", "0"],
                                                logDirectory: logs.path)
                : try ExecutableRunner.start("ingest", ["--pipeline", pipeline, "--quiet"],
                                             environment: ["SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_ID": "1"],
                                             logDirectory: logs.path)
        }
        for w in workers { w.waitUntilExit(); #expect(w.terminationStatus == 0) }
        let merged = try ExecutableRunner.run("merge", ["--pipeline", pipeline])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(merged.stdout.contains("catalog-0-of-2") && merged.stdout.contains("catalog-1-of-2"))
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("one-build/catalog.sqlite"))))
    }

    @Test func aSecondProcessOnTheSameBuildIsRefused() throws {
        let (dir, pipeline) = try prepare(perLayout: 1, unitSize: 5)
        let layout = BuildLayout(root: dir.appending("build"))
        let holder = try FileLock(path: layout.lock(forCatalog: layout.catalog), purpose: "a long ingest")
        defer { withExtendedLifetime(holder) {} }
        let refused = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"])
        #expect(refused.status == StageCommandSupport.lockedExitCode)
        #expect(refused.stderr.contains("pid \(getpid())") && refused.stderr.contains("a long ingest"))
    }

    /// A worker's catalog holds only its own units, so a worker never warns that a source or a
    /// stage is empty (worker 7 of 8 owns a few units and sees most sources yield nothing).
    @Test func workersDoNotWarnAboutWhatOtherWorkersHold() throws {
        let (dir, pipeline) = try prepare(perLayout: 2, unitSize: 4)
        defer { withExtendedLifetime(dir) {} }
        let run = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet", "--workers", "8", "--worker", "7"])
        #expect(run.status == 0 && !run.stderr.contains("warning:"), "\(run.stderr)")
    }

    /// A source that yields nothing is named by ingest, and a stage that got nothing, or let
    /// nothing through, says which verdict is why (img2dataset tars carry no masks).
    @Test func emptySourcesAndEmptyStagesAreExplained() throws {
        let dir = TemporaryDirectory("e2e-empty")
        _ = try ExecutableRunner.run("make-sample", ["--output", dir.appending("sample"), "--per-layout", "2", "--seed", "5"])
        try FileManager.default.createDirectory(atPath: dir.appending("empty-wds"), withIntermediateDirectories: true)
        _ = try dir.write([], to: "zero/00000.tar")
        _ = try dir.write("""
            name: m
            sources:
              - {name: pairs, format: webdataset, path: sample/wds-img2dataset, layout: img2dataset}
              - {name: no-tars, format: webdataset, path: empty-wds}
              - {name: zero-tar, format: webdataset, path: zero}
            """, to: "manifest.yaml")
        let pipeline = try dir.write("name: p\nbuild_dir: build\nmanifest: manifest.yaml\nunit_size: 4\ncrop: {min_image_side: 200}\n",
                                     to: "pipeline.yaml")
        let ingest = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(ingest.stderr.contains("ingest: warning: source 'no-tars' (webdataset, \(dir.appending("empty-wds"))) yielded no entries"))
        #expect(ingest.stderr.contains("source 'zero-tar'") && !ingest.stderr.contains("source 'pairs'"), "\(ingest.stderr)")
        #expect(try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let crop = try ExecutableRunner.run("crop", ["--pipeline", pipeline, "--quiet"])
        #expect(crop.status == 0)
        #expect(crop.stderr.contains("crop: warning: no sample came through crop (skipped:no_masks: ")
                && crop.stderr.contains("no sample has masks"), "\(crop.stderr)")
        try RandomCLIP.write(to: dir.appending("clip"), seed: 3)
        let embed = try ExecutableRunner.run("embed", ["--pipeline", pipeline, "--quiet", "--set", "embed.model=clip"])
        #expect(embed.status == 0, "\(embed.stderr)")
        #expect(embed.stderr.contains("embed: warning: nothing reached embed: crop kept none of its ")
                && embed.stderr.contains("no sample has masks"), "\(embed.stderr)")
    }
}
