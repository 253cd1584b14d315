import Foundation
public import Imaging
public import Models
public import Text

/// Features and scores with the standard protocol (dreambench.md §2): DINO ViT-S/16 [CLS]
/// (resize 256 bicubic, centre crop 224, ImageNet mean/std, scaled with the model's input size),
/// CLIP image embeddings (the CLIP recipe) and CLIP text embeddings, each L2-normalised; scores
/// are cosines.
public final class DreamBenchScorer: @unchecked Sendable {
    // @unchecked: the models and tokenizer are immutable after init.
    let dino: ViTModel
    let clip: CLIPModel.Vision
    let clipText: CLIPModel.Text
    let tokenizer: CLIPTokenizer
    let dinoRecipe: PreprocessRecipe
    let clipRecipe: PreprocessRecipe
    let batch: Int

    public init(dino: ViTModel, clip: CLIPModel, tokenizer: CLIPTokenizer, batch: Int = 16) throws {
        guard let vision = clip.vision, let text = clip.text else { throw EvaluationError("the CLIP model needs both towers") }
        self.dino = dino
        self.clip = vision
        clipText = text
        self.tokenizer = tokenizer
        self.batch = batch
        var d = PreprocessRecipe.dino
        d.cropSize = dino.config.imageSize
        d.resizeShortestSide = dino.config.imageSize * 256 / 224
        dinoRecipe = d
        var c = PreprocessRecipe.clip
        c.cropSize = vision.config.imageSize
        c.resizeShortestSide = vision.config.imageSize
        clipRecipe = c
    }

    static func normalised(_ rows: [Float], width: Int) -> [[Float]] {
        stride(from: 0, to: rows.count, by: width).map { start in
            let v = Array(rows[start..<(start + width)])
            let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / max(norm, 1e-12) }
        }
    }

    /// Decoded images (RGB), decoded in parallel.
    static func decode(_ paths: [String]) throws -> [Raster] {
        var images = [Raster?](repeating: nil, count: paths.count)
        var failures = [String?](repeating: nil, count: paths.count)
        images.withUnsafeMutableBufferPointer { out in
            failures.withUnsafeMutableBufferPointer { errors in
                nonisolated(unsafe) let (out, errors) = (out, errors)
                DispatchQueue.concurrentPerform(iterations: paths.count) { i in
                    do {
                        out[i] = try ImageCodec.decodeRGB(Array(try Data(contentsOf: URL(fileURLWithPath: paths[i]))))
                    } catch {
                        errors[i] = "\(paths[i]): \(error)"
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw EvaluationError(failure) }
        return images.map { $0! }
    }

    func features(_ images: [Raster], recipe: PreprocessRecipe, size: Int, encode: ([Float], Int) throws -> [Float], width: Int) throws -> [[Float]] {
        var out: [[Float]] = []
        for start in stride(from: 0, to: images.count, by: batch) {
            let chunk = images[start..<min(images.count, start + batch)]
            var pixels = [[Float]](repeating: [], count: chunk.count)
            let list = Array(chunk)
            pixels.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: list.count) { i in out[i] = recipe.pixelValues(list[i]) }
            }
            out += Self.normalised(try encode(pixels.flatMap { $0 }, chunk.count), width: width)
        }
        return out
    }

    /// L2-normalised DINO [CLS] features of images.
    public func dinoFeatures(_ images: [Raster]) throws -> [[Float]] {
        try features(images, recipe: dinoRecipe, size: dino.config.imageSize,
                     encode: { try self.dino.encode(pixelValues: $0, batch: $1).cls }, width: dino.config.hiddenSize)
    }

    /// L2-normalised CLIP image embeddings.
    public func clipImageFeatures(_ images: [Raster]) throws -> [[Float]] {
        try features(images, recipe: clipRecipe, size: clip.config.imageSize,
                     encode: { try self.clip.encode(pixelValues: $0, batch: $1).imageEmbeds }, width: clip.projection)
    }

    /// L2-normalised CLIP text embeddings.
    public func clipTextFeatures(_ texts: [String]) throws -> [[Float]] {
        var out: [[Float]] = []
        for start in stride(from: 0, to: texts.count, by: batch) {
            let tokens = texts[start..<min(texts.count, start + batch)].map { tokenizer.tokenize($0) }
            let r = try clipText.encode(ids: tokens.map(\.ids), attentionMask: tokens.map(\.attentionMask))
            out += Self.normalised(r.textEmbeds, width: clipText.projection)
        }
        return out
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
}
