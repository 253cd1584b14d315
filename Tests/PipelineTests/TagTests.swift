import BuildSupport
import Catalog
import Foundation
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing
import Text

@Suite(.serialized) struct TagTests {
    func prepare(perLayout: Int, unitSize: Int = 8, extra: String = "") throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("tag")
        _ = try SampleWriter(seed: 17, output: dir.appending("sample"), perLayout: perLayout, defects: true).write()
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: unitSize, extra: extra)
        let ingest = try ExecutableRunner.run("ingest", ["--pipeline", pipeline, "--quiet"])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        return (dir, pipeline)
    }

    @Test func recordsNounsMatchesAndSkipReasons() throws {
        let (dir, pipeline) = try prepare(perLayout: 3)
        let run = try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("tag summary") && run.stdout.contains("skipped:no_nouns: 1")
                && run.stdout.contains("skipped:label_not_in_caption: 1"))
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        // Every accepted sample has a tag status; every ok one has nouns.
        #expect(try db.scalar("SELECT COUNT(*) FROM entries WHERE status = 'ok'").int
                == (try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'tag'").int))
        #expect(try db.scalar("""
            SELECT COUNT(*) FROM sample_status s WHERE s.stage = 'tag' AND s.status = 'ok'
            AND NOT EXISTS (SELECT 1 FROM nouns n WHERE n.sample_id = s.sample_id)
            """).int == 0)
        #expect(try db.scalar("SELECT message FROM sample_status WHERE reason = 'label_not_in_caption'").string?
            .contains("matches no noun") == true)

        // Token positions recomputed independently: the reference rule (every position holding
        // one of the label's ids) and the noun's own span both name the label's tokens.
        let tokenizer = try CLIPTokenizer()
        var checked = 0
        for row in try db.query("""
            SELECT e.caption, l.label, l.noun_idx, l.token_positions_json, l.span_positions_json, n.text, n.char_start, n.char_end,
                   n.token_positions_json, l.positions_rule
            FROM noun_labels l JOIN entries e ON e.sample_id = l.sample_id AND e.status = 'ok'
            JOIN sample_status t ON t.sample_id = l.sample_id AND t.stage = 'tag' AND t.status = 'ok'
            LEFT JOIN nouns n ON n.sample_id = l.sample_id AND n.idx = l.noun_idx
            """) {
            let caption = row[0].string!, label = row[1].string!
            #expect(row[2].int != nil, "label \(label) unmatched in an ok sample: \(caption)")
            let ids = tokenizer.tokenize(caption).ids
            let labelIDs = Set(tokenizer.encode(label))
            let positions = try JSONValue.parse(Array(row[3].string!.utf8)).array!.compactMap(\.int)
            let reference = ids.indices.filter { $0 > 0 && labelIDs.contains(ids[$0]) && ids[$0] != tokenizer.endID }
            let span = try JSONValue.parse(Array(row[4].string!.utf8)).array!.compactMap(\.int)
            // The label's own ids where they occur; else (substitute_at_noun) the noun's tokens.
            #expect(row[9].string == (reference.isEmpty ? "noun_span" : "label_ids"))
            #expect(positions == (reference.isEmpty ? span : reference))
            let nounSpan = try JSONValue.parse(Array(row[8].string!.utf8)).array!.compactMap(\.int)
            #expect(!span.isEmpty && span == nounSpan)
            // The span's ids spell the noun's text.
            #expect(span.map { ids[$0] } == tokenizer.encode(row[5].string!))
            let chars = Array(caption)
            #expect(String(chars[row[6].int!..<row[7].int!]) == row[5].string!)
            checked += 1
        }
        #expect(checked >= 20)

        // The Grounding-DINO export: one line per ok sample, recorded with its digest.
        var lines = 0
        for row in try db.query("SELECT path, sha256 FROM unit_files WHERE stage = 'tag'") {
            let bytes = try FileIO.read(dir.appending("build/" + row[0].string!), maxBytes: 1 << 24)
            #expect(SHA256.hex(bytes) == row[1].string)
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let object = try JSONValue.parse(Array(line.utf8))
                let nouns = object["nouns"]!.array!.compactMap(\.string)
                #expect(!nouns.isEmpty && object["text_prompt"]?.string == nouns.map { $0 + " ." }.joined(separator: " "))
                lines += 1
            }
        }
        #expect(lines == (try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'tag' AND status = 'ok'").int))

        let report = try String(contentsOfFile: dir.appending("build/reports/tag.md"), encoding: .utf8)
        let again = try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet"])
        #expect(again.stdout.contains("0 processed"))
        // The reports describe the build: a run with nothing to do leaves its counts, and says
        // that it processed nothing.
        let okCount = try #require(try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'tag' AND status = 'ok'").int)
        let rerun = try String(contentsOfFile: dir.appending("build/reports/tag.md"), encoding: .utf8)
        #expect(report.contains("| ok | \(okCount) |") && rerun.contains("| ok | \(okCount) |"), "\(rerun)")
        #expect(rerun.contains("| skipped:no_nouns | 1 |") && rerun.contains("| units processed / already done / owned | 0 /"))
        let json = try JSONValue.parse(Array(try String(contentsOfFile: dir.appending("build/reports/tag.json"), encoding: .utf8).utf8))
        #expect(json["build"]?["items_ok"]?.int == okCount && json["units_processed"]?.int == 0)
        #expect(again.stdout.contains("build: ") && again.stdout.contains("\(okCount) ok"))
    }

    @Test func settingsChangeTheOutcomeAndTheHash() throws {
        let (dir, pipeline) = try prepare(perLayout: 1)
        #expect(try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet"]).status == 0)
        let plainHash = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
            .scalar("SELECT DISTINCT config_hash FROM units WHERE stage = 'tag'").string
        let lenient = try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet", "--set", "tag.require_label_match=false",
                                                       "--set", "tag.grounding_prompts=false"])
        #expect(lenient.status == 0 && !lenient.stdout.contains("0 processed"))
        let db = try Catalog(path: dir.appending("build/catalog.sqlite"), readOnly: true).database
        // The lenient run supersedes the plain config's record: one config per unit, its own.
        let hashes = try db.query("SELECT DISTINCT config_hash FROM units WHERE stage = 'tag'").compactMap { $0[0].string }
        #expect(hashes.count == 1 && plainHash != nil && hashes.first != plainHash)
        #expect(try db.scalar("SELECT COUNT(*) FROM sample_status WHERE stage = 'tag' AND reason = 'label_not_in_caption'").int == 0)
        // The unmatched label stays recorded, without a noun.
        #expect(try db.scalar("SELECT COUNT(*) FROM noun_labels WHERE noun_idx IS NULL").int ?? 0 >= 1)
        let bad = try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet", "--set", "tag.tokenizer=/nonexistent"])
        #expect(bad.status == StageCommandSupport.configExitCode && bad.stderr.contains("tag.tokenizer"))
    }

    @Test func killedAtRandomInstantsResumesToTheSameCatalog() throws {
        let (dir, pipeline) = try prepare(perLayout: 16, unitSize: 4)
        let reference = try SampleBuild.copy(dir, pipeline: pipeline, to: "reference-build")
        #expect(try ExecutableRunner.run("tag", ["--pipeline", reference, "--quiet"]).status == 0)
        var rng = SystemRandomNumberGenerator()
        let logs = TemporaryDirectory("tag-kills")
        let runs = Torture.kills(default: 10)
        var killed = 0
        for _ in 0..<runs {
            let process = try ExecutableRunner.start("tag", ["--pipeline", pipeline, "--quiet"],
                                                     environment: ["ECLIPSE_UNIT_DELAY_MS": "20"], logDirectory: logs.path)
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4, using: &rng))
            if process.signal(SIGKILL) { killed += 1 }
            process.waitUntilExit()
        }
        Torture.record(stage: "tag", kills: killed, runs: runs)
        #expect(try ExecutableRunner.run("tag", ["--pipeline", pipeline, "--quiet"]).status == 0)
        func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("reference-build/catalog.sqlite"))))
        #expect(AtomicFile.sweepTemporaries(in: dir.appending("build")).isEmpty)
    }
}
