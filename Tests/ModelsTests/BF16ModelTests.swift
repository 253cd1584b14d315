import Foundation
import PipelineTestSupport
import Testing
@testable import Models
import Tensor

/// Whole models in bf16 on the random-weight fixtures: oneDNN's engine against the documented
/// fallback (the same numbers up to the order of accumulation) and both against float32, by the
/// cosine of each output row (goal: at least 0.9999 mean and 0.999 worst, as for full-size models).
@Suite struct BF16ModelTests {
    typealias Ref = ModelEquivalenceTests

    /// The three ways a fixture can run: f32, bf16 on the fallback, bf16 on oneDNN (where it has a
    /// bf16 matmul on this CPU, natively or emulated).
    static func loads(_ name: String) throws -> [(String, LoadedModel)] {
        let directory = "\(Ref.fixtures)/\(name)"
        var out = [("f32", try LoadedModel.load(directory: directory)),
                   ("fallback", try LoadedModel.load(directory: directory, precision: .bf16, bf16Engine: false))]
        if MatrixEngines.bf16Implementation != nil {
            out.append(("oneDNN", try LoadedModel.load(directory: directory, precision: .bf16, bf16Engine: true)))
        } else {
            SkippedCheck.report("\(name) on oneDNN's bf16 engine", cause: .hardware,
                                because: "oneDNN 2.6 has no bf16 matmul on \(MatrixEngines.CPU.host.summary); the fallback is tested")
        }
        return out
    }

    /// float32 on oneDNN's f32 matmul and on OpenBLAS: the same outputs within float32 rounding
    /// (max error relative to the largest output at most 1e-5), where oneDNN has an f32 matmul.
    @Test func f32EnginesAgree() throws {
        guard MatrixEngines.f32Implementation != nil else {
            SkippedCheck.report("models on oneDNN's f32 matmul", cause: .hardware,
                                because: "oneDNN has no f32 matmul on \(MatrixEngines.CPU.host.summary)")
            return
        }
        let directory = "\(Ref.fixtures)/clip-vit-b32", ref = try Ref.reference("clip-vit-b32"), pixels = ref["pixel_values"]!
        guard case .clip(let blas) = try LoadedModel.load(directory: directory, f32Engine: false),
              case .clip(let dnnl) = try LoadedModel.load(directory: directory, f32Engine: true) else { Issue.record("not CLIP"); return }
        let a = try blas.vision!.encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0]).lastHiddenState
        let b = try dnnl.vision!.encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0]).lastHiddenState
        let error = Ref.error(b, a.map(Double.init))
        print("clip-vit-b32 vision: oneDNN f32 against OpenBLAS, max relative error \(error)")
        #expect(error <= 1e-5)
    }

    /// Mean and worst cosine between matching rows of `width`.
    static func cosines(_ a: [Float], _ b: [Float], width: Int) -> (mean: Double, worst: Double) {
        let rows = a.count / width
        let c = (0..<rows).map { r -> Double in
            var (ab, aa, bb) = (0.0, 0.0, 0.0)
            for i in (r * width)..<((r + 1) * width) {
                let (x, y) = (Double(a[i]), Double(b[i]))
                ab += x * y; aa += x * x; bb += y * y
            }
            return ab / (aa * bb).squareRoot()
        }
        return (c.reduce(0, +) / Double(rows), c.min()!)
    }

    /// Every pair of runs agrees to the fidelity goal, and bf16 differs from f32 (it is not f32).
    static func check(_ name: String, _ outputs: [(String, [Float])], width: Int) {
        for i in outputs.indices {
            for j in outputs.indices where j > i {
                let (mean, worst) = cosines(outputs[i].1, outputs[j].1, width: width)
                print("\(name): \(outputs[i].0) vs \(outputs[j].0): mean cosine \(mean), worst \(worst)")
                #expect(mean >= 0.9999 && worst >= 0.999, "\(name) \(outputs[i].0) vs \(outputs[j].0): \(mean) / \(worst)")
            }
        }
        #expect(outputs.dropFirst().allSatisfy { $0.1 != outputs[0].1 }, "\(name): a bf16 run gave the f32 numbers")
    }

    @Test(arguments: ["clip-vit-b32", "clip-vit-l14-vision"])
    func clipInBF16(name: String) throws {
        let ref = try Ref.reference(name), pixels = ref["pixel_values"]!
        var images: [(String, [Float])] = [], texts: [(String, [Float])] = [], projection = 0
        for (label, loaded) in try Self.loads(name) {
            guard case .clip(let model) = loaded else { Issue.record("not a CLIP model"); return }
            projection = model.projection
            images.append((label, try #require(model.vision).encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0]).imageEmbeds))
            if let text = model.text {
                texts.append((label, try text.encode(ids: Ref.rows(ref["input_ids"]!), attentionMask: Ref.rows(ref["attention_mask"]!)).textEmbeds))
            }
        }
        Self.check("\(name) image_embeds", images, width: projection)
        if !texts.isEmpty { Self.check("\(name) text_embeds", texts, width: projection) }
    }

    @Test func dinoInBF16() throws {
        let ref = try Ref.reference("dino-vits16"), pixels = ref["pixel_values"]!
        var outputs: [(String, [Float])] = [], width = 0
        for (label, loaded) in try Self.loads("dino-vits16") {
            guard case .vit(let model) = loaded else { Issue.record("not a ViT"); return }
            let cls = try model.encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0]).cls
            width = cls.count / pixels.shape[0]
            outputs.append((label, cls))
        }
        Self.check("dino-vits16 cls", outputs, width: width)
    }

    @Test func clipSegInBF16() throws {
        let ref = try Ref.reference("clipseg-rd64-refined"), pixels = ref["pixel_values"]!
        let ids = Ref.rows(ref["input_ids"]!), mask = Ref.rows(ref["attention_mask"]!)
        var outputs: [(String, [Float])] = [], side = 0
        for (label, loaded) in try Self.loads("clipseg-rd64-refined") {
            guard case .clipseg(let model) = loaded else { Issue.record("not CLIPSeg"); return }
            side = model.logitSide(imageSize: pixels.shape[2])
            outputs.append((label, try model.logits(pixelValues: pixels.values.map(Float.init), size: pixels.shape[2], ids: ids, attentionMask: mask)))
        }
        // Each prompt's logit map as one row.
        Self.check("clipseg-rd64-refined logits", outputs, width: side * side)
    }
}
