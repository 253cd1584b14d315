import Formats
import Foundation
import Testing
@testable import Models
import Tensor

/// Our CLIP and ViT against transformers on the random-weight fixtures
/// (`Fixtures/make_model_fixtures.py`): the error is max |ours - reference| / max |reference|
/// over each output tensor, required <= 1e-4.
@Suite struct ModelEquivalenceTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// The reference tensors of a fixture, as float32 or int64 values.
    static func reference(_ name: String) throws -> [String: (shape: [Int], values: [Double])] {
        let file = try SafetensorsFile(path: "\(fixtures)/\(name)/reference.safetensors")
        var out: [String: (shape: [Int], values: [Double])] = [:]
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/\(name)/reference.safetensors")))
        let tensors = try Safetensors.read(bytes).tensors
        for (key, entry) in file.entries {
            let raw = tensors[key]!.bytes
            switch entry.dtype {
            case .i64:
                out[key] = (entry.shape, stride(from: 0, to: raw.count, by: 8).map { i in
                    Double(raw[i..<(i + 8)].enumerated().reduce(Int64(0)) { $0 | Int64($1.element) << (8 * Int64($1.offset)) })
                })
            default:
                out[key] = (entry.shape, try file.floats(key).array.map(Double.init))
            }
        }
        return out
    }

    static func error(_ ours: [Float], _ expected: [Double]) -> Double {
        precondition(ours.count == expected.count, "\(ours.count) vs \(expected.count) values")
        let scale = expected.map(abs).max() ?? 1
        return zip(ours, expected).map { abs(Double($0) - $1) }.max()! / max(scale, 1e-12)
    }

    static func rows(_ t: (shape: [Int], values: [Double])) -> [[Int]] {
        let width = t.shape.last!
        return stride(from: 0, to: t.values.count, by: width).map { t.values[$0..<($0 + width)].map { Int($0) } }
    }

    @Test(arguments: ["clip-vit-b32", "clip-vit-bigg14"])
    func clipTextAndVisionMatchTransformers(name: String) throws {
        guard case .clip(let model) = try LoadedModel.load(directory: "\(Self.fixtures)/\(name)") else {
            Issue.record("not a CLIP model"); return
        }
        let ref = try Self.reference(name)
        let text = try #require(model.text)
        let (hidden, embeds) = try text.encode(ids: Self.rows(ref["input_ids"]!), attentionMask: Self.rows(ref["attention_mask"]!))
        let textErrors = (Self.error(hidden, ref["text_last_hidden_state"]!.values), Self.error(embeds, ref["text_embeds"]!.values))
        let vision = try #require(model.vision)
        let pixels = ref["pixel_values"]!
        let (vHidden, image) = try vision.encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0])
        let visionErrors = (Self.error(vHidden, ref["vision_last_hidden_state"]!.values), Self.error(image, ref["image_embeds"]!.values))
        print("\(name): text hidden \(textErrors.0), text_embeds \(textErrors.1), vision hidden \(visionErrors.0), image_embeds \(visionErrors.1)")
        #expect(textErrors.0 <= 1e-4 && textErrors.1 <= 1e-4)
        #expect(visionErrors.0 <= 1e-4 && visionErrors.1 <= 1e-4)
    }

    @Test func clipVisionTowerAloneMatchesTransformers() throws {
        guard case .clip(let model) = try LoadedModel.load(directory: "\(Self.fixtures)/clip-vit-l14-vision") else {
            Issue.record("not a CLIP model"); return
        }
        #expect(model.text == nil)
        let ref = try Self.reference("clip-vit-l14-vision")
        let pixels = ref["pixel_values"]!
        let (hidden, image) = try #require(model.vision).encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0])
        let errors = (Self.error(hidden, ref["vision_last_hidden_state"]!.values), Self.error(image, ref["image_embeds"]!.values))
        print("clip-vit-l14-vision: vision hidden \(errors.0), image_embeds \(errors.1)")
        #expect(errors.0 <= 1e-4 && errors.1 <= 1e-4)
    }

    @Test func dinoViTMatchesTransformers() throws {
        guard case .vit(let model) = try LoadedModel.load(directory: "\(Self.fixtures)/dino-vits16") else {
            Issue.record("not a ViT"); return
        }
        let ref = try Self.reference("dino-vits16")
        let pixels = ref["pixel_values"]!
        let (hidden, cls) = try model.encode(pixelValues: pixels.values.map(Float.init), batch: pixels.shape[0])
        let errors = (Self.error(hidden, ref["last_hidden_state"]!.values), Self.error(cls, ref["cls"]!.values))
        print("dino-vits16: last hidden \(errors.0), cls \(errors.1)")
        #expect(errors.0 <= 1e-4 && errors.1 <= 1e-4)
    }

    /// A batch that is split into one group per core gives each row what encoding that row alone
    /// gives (the groups are stitched back in order).
    @Test func splitBatchesEqualRowByRow() throws {
        guard case .clip(let model) = try LoadedModel.load(directory: "\(Self.fixtures)/clip-vit-b32") else {
            Issue.record("not a CLIP model"); return
        }
        let ref = try Self.reference("clip-vit-b32")
        let vision = try #require(model.vision), text = try #require(model.text)
        let pixels = ref["pixel_values"]!.values.map(Float.init), plane = pixels.count / ref["pixel_values"]!.shape[0]
        // Four different images: the fixture's, then each reversed.
        let images = (0..<4).map { i -> [Float] in
            let one = Array(pixels[((i % 2) * plane)..<((i % 2 + 1) * plane)])
            return i < 2 ? one : one.reversed()
        }
        let whole = try vision.encode(pixelValues: images.flatMap { $0 }, batch: 4)
        let single = try images.map { try vision.encode(pixelValues: $0, batch: 1) }
        #expect(Self.error(whole.imageEmbeds, single.flatMap(\.imageEmbeds).map(Double.init)) <= 1e-5)
        #expect(Self.error(whole.lastHiddenState, single.flatMap(\.lastHiddenState).map(Double.init)) <= 1e-5)
        let ids = Self.rows(ref["input_ids"]!), mask = Self.rows(ref["attention_mask"]!)
        let rows = (0..<4).map { ids[$0 % ids.count] }, masks = (0..<4).map { mask[$0 % mask.count] }
        let texts = try text.encode(ids: rows, attentionMask: masks)
        let singleTexts = try (0..<4).map { try text.encode(ids: [rows[$0]], attentionMask: [masks[$0]]) }
        #expect(Self.error(texts.textEmbeds, singleTexts.flatMap(\.textEmbeds).map(Double.init)) <= 1e-5)
        #expect(Self.error(texts.lastHiddenState, singleTexts.flatMap(\.lastHiddenState).map(Double.init)) <= 1e-5)
    }
}
