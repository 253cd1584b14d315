import Formats
import Foundation
import Imaging
import PipelineTestSupport
import Testing
@testable import Models
import Tensor

/// CLIPSeg against transformers' CLIPSegForImageSegmentation on random-weight fixtures of three
/// layouts (`Fixtures/make_model_fixtures.py`): the complex and the simple transposed-convolution
/// head, patch 16 and 32, interpolated and native position embeddings, FiLM before the first or
/// the second decoder layer. The error is max |ours - reference| over the logits' spread
/// (max - min), required <= 1e-4.
@Suite struct CLIPSegTests {
    static func model(_ name: String) throws -> CLIPSegModel {
        guard case .clipseg(let model) = try LoadedModel.load(directory: "\(ModelEquivalenceTests.fixtures)/\(name)") else {
            throw ModelError(.badConfig, "\(name) is not a CLIPSeg model")
        }
        return model
    }

    static func spreadError(_ ours: [Float], _ expected: [Double]) -> Double {
        precondition(ours.count == expected.count, "\(ours.count) vs \(expected.count) values")
        let spread = (expected.max() ?? 0) - (expected.min() ?? 0)
        return zip(ours, expected).map { abs(Double($0) - $1) }.max()! / max(spread, 1e-12)
    }

    @Test(arguments: ["clipseg-rd64-refined", "clipseg-rd16", "clipseg-p32"])
    func logitsMatchTransformers(name: String) throws {
        let model = try Self.model(name)
        let ref = try ModelEquivalenceTests.reference(name)
        let pixels = ref["pixel_values"]!, expected = ref["logits"]!
        let ids = ModelEquivalenceTests.rows(ref["input_ids"]!), mask = ModelEquivalenceTests.rows(ref["attention_mask"]!)
        let logits = try model.logits(pixelValues: pixels.values.map(Float.init), size: pixels.shape[2], ids: ids, attentionMask: mask)
        let side = model.logitSide(imageSize: pixels.shape[2])
        #expect([ids.count, side, side] == expected.shape)
        let conditional = try model.conditionalEmbeddings(ids: ids, attentionMask: mask)
        let errors = (Self.spreadError(logits, expected.values), ModelEquivalenceTests.error(conditional, ref["conditional_embeddings"]!.values))
        print("\(name): logits \(errors.0) of the spread \(String(format: "%.3g", (expected.values.max()! - expected.values.min()!))), conditional embeddings \(errors.1)")
        #expect(errors.0 <= 1e-4, "logits error \(errors.0)")
        #expect(errors.1 <= 1e-4, "conditional embeddings error \(errors.1)")
    }

    /// One vision pass for an image with several prompts gives the logits of separate calls.
    @Test func oneVisionPassServesEveryPrompt() throws {
        let model = try Self.model("clipseg-rd64-refined")
        let ref = try ModelEquivalenceTests.reference("clipseg-rd64-refined")
        let size = ref["pixel_values"]!.shape[2], plane = 3 * size * size
        let pixels = ref["pixel_values"]!.values.map(Float.init)
        let ids = ModelEquivalenceTests.rows(ref["input_ids"]!), mask = ModelEquivalenceTests.rows(ref["attention_mask"]!)
        let activations = try model.activations(pixelValues: Array(pixels[0..<plane]), batch: 1, size: size)
        let conditionals = try model.conditionalEmbeddings(ids: ids, attentionMask: mask)
        let together = try model.decode(activations, conditionals: conditionals, pairs: [(0, 0), (0, 1), (0, 2)])
        let side = model.logitSide(imageSize: size)
        for prompt in 0..<3 {
            let alone = try model.logits(pixelValues: Array(pixels[0..<plane]), size: size, ids: [ids[prompt]], attentionMask: [mask[prompt]])
            let part = Array(together[(prompt * side * side)..<((prompt + 1) * side * side)])
            // The same sums in batches of another size: equal up to float rounding.
            #expect(Self.spreadError(part, alone.map(Double.init)) < 1e-5, "prompt \(prompt)")
        }
    }

    /// Position embeddings at the model's own grid are the stored ones; a larger grid keeps the
    /// class position and the corners' neighbourhoods, as bicubic resizing does.
    @Test func positionEmbeddingsInterpolateBicubically() throws {
        let grid = 2, d = 1
        let values: [Float] = [9, 0, 1, 2, 3]
        let weight = Weight(shape: [grid * grid + 1, d], values: values)
        #expect(CLIPSegModel.interpolatedPositions(weight, grid: grid, to: grid, width: d) == values)
        let four = CLIPSegModel.interpolatedPositions(weight, grid: grid, to: 4, width: d)
        #expect(four.count == 17 && four[0] == 9)
        // PyTorch: F.interpolate([[0, 1], [2, 3]], size=4, mode="bicubic", align_corners=False)[0, 0].
        let torch: [Float] = [-0.31640625, 0.015625, 0.5625, 0.89453125, 0.34765625, 0.6796875, 1.2265625, 1.55859375,
                              1.44140625, 1.7734375, 2.3203125, 2.65234375, 2.10546875, 2.4375, 2.984375, 3.31640625]
        for (a, b) in zip(four.dropFirst(), torch) { #expect(abs(a - b) < 1e-6, "\(a) vs \(b)") }
    }

    @Test func encodeWritesTheLogitsOfTheTransformersCall() throws {
        let dir = TemporaryDirectory("encode-clipseg")
        let fixture = ModelEquivalenceTests.fixtures + "/clipseg-rd16"
        let run = try ExecutableRunner.run("encode", ["--model", fixture, "--input-ids", fixture + "/reference.safetensors",
                                                      "--pixel-values", fixture + "/reference.safetensors",
                                                      "--output", dir.appending("out.safetensors"), "--batch", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let logits = try SafetensorsFile(path: dir.appending("out.safetensors")).floats("logits")
        let ref = try ModelEquivalenceTests.reference("clipseg-rd16")
        #expect(logits.shape == ref["logits"]!.shape)
        #expect(Self.spreadError(logits.array, ref["logits"]!.values) <= 1e-4)
        // Prompts and images must pair up.
        let bad = try ExecutableRunner.run("encode", ["--model", fixture, "--input-ids", fixture + "/reference.safetensors",
                                                      "--output", dir.appending("x.safetensors")])
        #expect(bad.status != 0 && bad.stderr.contains("CLIPSeg takes prompts"), "\(bad.stderr)")
    }

    /// `make-sample --random-clipseg` writes a model of the released layout that loads and runs on
    /// raw images at 352 px through `encode` (CLIPSeg's processor, the built-in tokenizer).
    @Test func randomModelRunsOnImagesAndPrompts() throws {
        let dir = TemporaryDirectory("random-clipseg")
        let made = try ExecutableRunner.run("make-sample", ["--random-clipseg", dir.appending("model"), "--output", dir.appending("unused")])
        #expect(made.status == 0, "\(made.stderr)")
        guard case .clipseg(let model) = try LoadedModel.load(directory: dir.appending("model")) else {
            Issue.record("not a CLIPSeg model"); return
        }
        #expect(model.config.extractLayers == [1, 2, 3] && model.config.complexTransposedConvolution && model.logitSide(imageSize: 352) == 352)
        var image = Raster(width: 200, height: 120, channels: 3, fill: 40)
        for y in 30..<90 { for x in 50..<150 { image.pixels[(y * 200 + x) * 3] = 230 } }
        _ = try dir.write(try ImageCodec.encodePNG(image), to: "red.png")
        try "a red box\nthe background\n".write(toFile: dir.appending("prompts.txt"), atomically: true, encoding: .utf8)
        let run = try ExecutableRunner.run("encode", ["--model", dir.appending("model"), "--text", dir.appending("prompts.txt"),
                                                      "--images", dir.appending("red.png"), dir.appending("red.png"),
                                                      "--output", dir.appending("seg.safetensors")])
        #expect(run.status == 0 && run.stdout.contains("logits [2, 352, 352]"), "\(run.stdout) \(run.stderr)")
        let logits = try SafetensorsFile(path: dir.appending("seg.safetensors")).floats("logits").array
        #expect(logits.allSatisfy(\.isFinite) && Set(logits).count > 100)
        #expect(logits[0..<(352 * 352)] != logits[(352 * 352)...], "two prompts, two different maps")
    }
}
