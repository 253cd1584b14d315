import Formats
import Tensor

/// Cutting images into patch rows for a patch-embedding convolution with stride = kernel, so
/// the convolution is one sgemm: pixel values [batch, channels, size, size] become rows
/// [batch·patches, channels·patch·patch] ordered (channel, y, x) as the kernel is stored.
enum PatchEmbedding {
    static func rows(_ pixels: [Float], batch: Int, channels: Int, size: Int, patch: Int) -> [Float] {
        let side = size / patch, width = channels * patch * patch
        var out = [Float](repeating: 0, count: batch * side * side * width)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<batch {
                    for py in 0..<side {
                        for px in 0..<side {
                            let row = dst.baseAddress! + ((b * side + py) * side + px) * width
                            for c in 0..<channels {
                                for y in 0..<patch {
                                    let from = src.baseAddress! + ((b * channels + c) * size + py * patch + y) * size + px * patch
                                    (row + (c * patch + y) * patch).update(from: from, count: patch)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `[batch, 1 + patches, hidden]`: the class token, then each patch's projection (+ bias),
    /// plus the position embeddings.
    static func embed(_ pixels: [Float], batch: Int, config: TowerConfig, kernel: Weight, bias: Weight?, classToken: Weight,
                      positions: Weight) -> [Float] {
        embed(pixels, batch: batch, size: config.imageSize, config: config, kernel: kernel, bias: bias, classToken: classToken,
              positions: positions.pointer)
    }

    /// ``embed(_:batch:config:kernel:bias:classToken:positions:)`` for images of `size` pixels a
    /// side, with position embeddings made for that size ([1 + (size / patch)², hidden]).
    static func embed(_ pixels: [Float], batch: Int, size: Int, config: TowerConfig, kernel: Weight, bias: Weight?,
                      classToken: Weight, positions: UnsafePointer<Float>) -> [Float] {
        let d = config.hiddenSize, p = config.patchSize, n = (size / p) * (size / p)
        let patches = rows(pixels, batch: batch, channels: config.channels, size: size, patch: p)
        let projected = LayerOps.linear(patches, rows: batch * n, inputs: config.channels * p * p, weight: kernel.pointer,
                                        bias: bias?.pointer, outputs: d)
        var out = [Float](repeating: 0, count: batch * (n + 1) * d)
        for b in 0..<batch {
            for t in 0...n {
                for i in 0..<d {
                    let value = t == 0 ? classToken.pointer[i] : projected[(b * n + t - 1) * d + i]
                    out[(b * (n + 1) + t) * d + i] = value + positions[t * d + i]
                }
            }
        }
        return out
    }

    /// `encode` over the images split into one group per core (``LayerOps/batchGroups(_:threads:)``),
    /// each group's outputs concatenated in order, or over all of them in one pass.
    static func grouped(_ pixels: [Float], batch: Int, _ encode: ([Float], Int) -> ([Float], [Float])) throws -> ([Float], [Float]) {
        guard let groups = LayerOps.batchGroups(batch) else { return encode(pixels, batch) }
        let plane = pixels.count / batch
        let parts = try LayerOps.eachGroup(groups) { r in encode(Array(pixels[(r.lowerBound * plane)..<(r.upperBound * plane)]), r.count) }
        return (parts.flatMap(\.0), parts.flatMap(\.1))
    }

    /// Checks pixel values' size against the config.
    static func check(_ pixels: [Float], batch: Int, config: TowerConfig) throws {
        let expected = batch * config.channels * config.imageSize * config.imageSize
        guard pixels.count == expected else {
            throw ModelError(.badInput, "pixel values hold \(pixels.count) floats; [\(batch), \(config.channels), \(config.imageSize), \(config.imageSize)] needs \(expected)")
        }
    }
}
