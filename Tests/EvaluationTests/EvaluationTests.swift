import Foundation
import Imaging
import Models
import PipelineTestSupport
import SampleScenes
import Testing
import Text
@testable import Evaluation

/// DreamBench scoring against a Pillow + transformers reference script
/// (`Fixtures/reference_scores.py`) on random-weight models, the parsing of google/dreambooth's
/// prompt file, the protocol's invariants, and a golden report.
@Suite(.serialized) struct EvaluationTests {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let shared = here.appendingPathComponent("../../../shared/data/dreambench").standardizedFileURL.path
    static let dino = here.appendingPathComponent("../ModelsTests/Fixtures/dino-vits16").standardizedFileURL.path

    /// The DreamBench-layout sample (SampleScenes' DreamBenchSample) and a random-weight CLIP.
    static func makeSet(_ dir: TemporaryDirectory) throws -> (dreambench: String, generated: String, clip: String) {
        try DreamBenchSample.write(to: dir.path)
        try RandomCLIP.write(to: dir.appending("clip"), seed: 11)
        return (dir.appending("dreambench"), dir.appending("generated"), dir.appending("clip"))
    }

    /// The reference script's scores (JSON on stdout; its warnings on stderr kept apart).
    static func reference(_ dreambench: String, _ generated: String, _ clip: String, _ pairing: String) -> Shell.Result {
        ReferencePython.run([Self.here.path + "/Fixtures/reference_scores.py", dreambench, generated, Self.dino, clip, pairing],
                            separateErrors: true)
    }

    static func scorer(clip: String) throws -> DreamBenchScorer {
        guard case .vit(let dino) = try LoadedModel.load(directory: Self.dino), case .clip(let model) = try LoadedModel.load(directory: clip) else {
            throw EvaluationError("fixtures")
        }
        return try DreamBenchScorer(dino: dino, clip: model, tokenizer: CLIPTokenizer())
    }

    @Test func parsesGoogleDreamBoothsPromptFile() throws {
        guard FileManager.default.fileExists(atPath: Self.shared + "/prompts_and_classes.txt") else {
            SkippedCheck.report("DreamBench prompt file", cause: .sharedData, because: "\(Self.shared) is absent"); return
        }
        let set = try DreamBenchSet.load(directory: Self.shared)
        #expect(set.subjects.count == 30 && set.objectPrompts.count == 25 && set.livePrompts.count == 25)
        #expect(set.subjects.filter(\.isLive).count == 9)
        let bear = try #require(set.subjects.first { $0.name == "bear_plushie" })
        #expect(bear.className == "stuffed animal" && bear.realImages.count == 1)
        #expect(set.text(prompt: 24, for: bear) == "a cube shaped stuffed animal")
        let dog = try #require(set.subjects.first { $0.name == "dog" })
        #expect(set.text(prompt: 10, for: dog) == "a dog wearing a red hat")
        #expect(set.text(prompt: 10, for: dog, uniqueToken: "sks") == "a sks dog wearing a red hat")
    }

    @Test(arguments: ["all_pairs", "single_reference"])
    func scoresMatchThePythonReference(pairing: String) throws {
        let dir = TemporaryDirectory("eval")
        let (root, generated, clip) = try Self.makeSet(dir)
        let result = try DreamBenchEvaluation.run(set: DreamBenchSet.load(directory: root), generated: GeneratedImage.discover(generated),
                                                  scorer: Self.scorer(clip: clip), pairing: .init(rawValue: pairing)!, realRow: true)
        #expect(result.scores.count == 12 && result.realRow.count == 3)
        if let missing = ReferencePython.missing(["torch", "transformers", "PIL"]) {
            SkippedCheck.report("DreamBench scores vs the Python reference (\(pairing))", cause: .package, because: missing); return
        }
        let run = Self.reference(root, generated, clip, pairing)
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        let reference = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [[String: Any]] ?? []
        #expect(reference.count == 12)
        var worst = 0.0
        for r in reference {
            let mine = try #require(result.scores.first { $0.path == r["path"] as? String })
            for (a, b) in [(mine.dino, r["dino"]), (mine.clipI, r["clip_i"]), (mine.clipT, r["clip_t"])] {
                worst = max(worst, abs(a - ((b as? Double) ?? .nan)))
            }
        }
        print("evaluation vs reference (\(pairing)): max |difference| \(worst)")
        #expect(worst <= 1e-4)
    }

    /// The same comparison on the real DreamBench photos in ../shared/data/dreambench (one per
    /// subject): each of 4 subjects scored with its own photo and another subject's as generated
    /// images, with the random CLIP and the DINO fixture.
    @Test func scoresOnTheRealPhotosMatchThePythonReference() throws {
        guard FileManager.default.fileExists(atPath: Self.shared + "/images/dog.jpg") else {
            SkippedCheck.report("DreamBench scores on the real photos", cause: .sharedData, because: "\(Self.shared)/images is absent"); return
        }
        if let missing = ReferencePython.missing(["torch", "transformers", "PIL"]) {
            SkippedCheck.report("DreamBench scores on the real photos vs the Python reference", cause: .package, because: missing); return
        }
        let dir = TemporaryDirectory("eval-photos")
        let subjects = ["backpack", "dog", "cat", "clock"]
        for (i, subject) in subjects.enumerated() {
            let folder = dir.appending("generated/\(subject)/1")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.shared + "/images/\(subject).jpg", toPath: folder + "/0.jpg")
            try FileManager.default.copyItem(atPath: Self.shared + "/images/\(subjects[(i + 1) % 4]).jpg", toPath: folder + "/1.jpg")
        }
        try RandomCLIP.write(to: dir.appending("clip"), seed: 13)
        let result = try DreamBenchEvaluation.run(set: DreamBenchSet.load(directory: Self.shared), generated: GeneratedImage.discover(dir.appending("generated")),
                                                  scorer: Self.scorer(clip: dir.appending("clip")), pairing: .allPairs, realRow: false)
        let run = Self.reference(Self.shared, dir.appending("generated"), dir.appending("clip"), "all_pairs")
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        let reference = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [[String: Any]] ?? []
        #expect(reference.count == 8 && result.scores.count == 8)
        var worst = 0.0
        for r in reference {
            let mine = try #require(result.scores.first { $0.path == r["path"] as? String })
            for (a, b) in [(mine.dino, r["dino"]), (mine.clipI, r["clip_i"]), (mine.clipT, r["clip_t"])] { worst = max(worst, abs(a - ((b as? Double) ?? .nan))) }
        }
        print("evaluation vs reference on the DreamBench photos: max |difference| \(worst)")
        #expect(worst <= 1e-4)
    }

    /// A Multibench-style line (several subjects, its own prompt text) scores each subject
    /// against its own real images and averages.
    @Test func multiSubjectImagesAverageTheirSubjects() throws {
        let dir = TemporaryDirectory("eval-multi")
        let (root, generated, clip) = try Self.makeSet(dir)
        let image = generated + "/red_thing/0/1.png"
        let list = dir.appending("multi.jsonl")
        try """
            {"subjects": ["red_thing", "blue_thing"], "text": "a toy and a vase on the beach", "image": "\(image)"}
            {"subject": "red_thing", "prompt": 1, "image": "\(image)"}
            {"subject": "blue_thing", "prompt": 1, "image": "\(image)"}

            """.write(toFile: list, atomically: true, encoding: .utf8)
        let result = try DreamBenchEvaluation.run(set: DreamBenchSet.load(directory: root), generated: GeneratedImage.discover(list),
                                                  scorer: Self.scorer(clip: clip), pairing: .allPairs, realRow: false)
        let multi = try #require(result.scores.first { $0.subject == "red_thing+blue_thing" })
        let a = try #require(result.scores.first { $0.subject == "red_thing" }), b = try #require(result.scores.first { $0.subject == "blue_thing" })
        #expect(abs(multi.dino - (a.dino + b.dino) / 2) < 1e-9 && abs(multi.clipI - (a.clipI + b.clipI) / 2) < 1e-9)
        #expect(result.perSubject().map(\.subject).contains("red_thing+blue_thing"))
        try "{\"subjects\": [\"red_thing\", \"blue_thing\"], \"image\": \"x.png\"}\n".write(toFile: list, atomically: true, encoding: .utf8)
        #expect(throws: EvaluationError.self) { _ = try GeneratedImage.discover(list) }
    }

    @Test func protocolInvariants() throws {
        let dir = TemporaryDirectory("eval-inv")
        let (root, generated, clip) = try Self.makeSet(dir)
        let set = try DreamBenchSet.load(directory: root)
        // A generated image that is the reference itself scores 1 on DINO and CLIP-I (single reference: 00.jpg).
        let copy = dir.appending("copy/red_thing/2")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: root + "/red_thing/00.jpg", toPath: copy + "/0.jpg")
        let same = try DreamBenchEvaluation.run(set: set, generated: GeneratedImage.discover(dir.appending("copy")),
                                                scorer: Self.scorer(clip: clip), pairing: .singleReference, realRow: false)
        #expect(abs(same.scores[0].dino - 1) < 1e-5 && abs(same.scores[0].clipI - 1) < 1e-5)
        // Macro mean = mean of subject means; intervals contain the mean; deterministic.
        var a = try DreamBenchEvaluation.run(set: set, generated: GeneratedImage.discover(generated), scorer: Self.scorer(clip: clip),
                                             pairing: .allPairs, realRow: false)
        a.bootstrapSamples = 200
        let subjects = a.perSubject(), overall = a.overall()
        #expect(abs(overall[.dino]!.mean - subjects.map { $0.values[.dino]!.mean }.reduce(0, +) / 3) < 1e-12)
        #expect(overall[.dino]!.low <= overall[.dino]!.mean && overall[.dino]!.mean <= overall[.dino]!.high)
        #expect(DreamBenchReport.json(a) == DreamBenchReport.json(a))
        // Unknown subjects and prompt indices are refused.
        let bad = [GeneratedImage(subject: "nobody", prompt: 0, path: root + "/red_thing/00.jpg")]
        #expect(throws: EvaluationError.self) { _ = try DreamBenchEvaluation.run(set: set, generated: bad, scorer: Self.scorer(clip: clip), pairing: .allPairs, realRow: false) }
    }

    /// The evaluate command's Markdown report on fixed inputs equals the committed golden file
    /// (`RECORD_GOLDEN=1` rewrites it); the JSON and HTML reports are complete.
    @Test func goldenReport() throws {
        let dir = TemporaryDirectory("eval-golden")
        let (root, generated, clip) = try Self.makeSet(dir)
        let run = try ExecutableRunner.run("evaluate", ["--dreambench", root, "--generated", generated, "--real-images",
                                                        "--dino-model", Self.dino, "--clip-model", clip, "--output", dir.appending("out"),
                                                        "--bootstrap", "200", "--threads", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try String(contentsOfFile: dir.appending("out/report.md"), encoding: .utf8)
        let golden = Self.here.appendingPathComponent("Fixtures/golden_report.md").path
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] != nil { try report.write(toFile: golden, atomically: true, encoding: .utf8) }
        #expect(report == (try String(contentsOfFile: golden, encoding: .utf8)))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.appending("out/report.json")))) as? [String: Any]
        #expect((json?["subjects"] as? [Any])?.count == 3 && json?["real_images"] != nil && (json?["published"] as? [Any])?.count == 8)
        let html = try String(contentsOfFile: dir.appending("out/report.html"), encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("data:image/png;base64,") && html.contains("RANDOM WEIGHTS"))
        // The published rows are marked as published, as in the Markdown.
        #expect(html.contains("<tr class=\"published\"><td>published: DreamBooth, SD (DreamBooth Table 1)</td>"))
        #expect(!html.contains("<tr><td>DreamBooth, SD"))
    }

    /// Negative scores (CLIP-T with random weights) draw a bar left of a zero line, as long as
    /// their size says; an all-positive chart keeps the 0-1 scale.
    @Test func barsDrawNegativeValues() {
        let signed = DreamBenchReport.bars([("a", 0.5), ("b", -0.25)], color: "#000")
        // Scale -1...1 over 420 px about x = 170 + 210: 0.5 -> 105 px right of it, -0.25 -> 53 px left.
        #expect(signed.contains("<rect x=\"380\" y=\"2\" width=\"105\""))
        #expect(signed.contains("<rect x=\"327\" y=\"20\" width=\"53\"") && signed.contains("fill-opacity"))
        #expect(signed.contains("<line x1=\"380\""))
        let positive = DreamBenchReport.bars([("a", 0.5)], color: "#000")
        #expect(positive.contains("<rect x=\"170\" y=\"2\" width=\"210\"") && !positive.contains("<line"))
    }
}
