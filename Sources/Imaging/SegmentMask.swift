import Foundation

/// A subject mask from CLIPSeg logits, by the recipe Kosmos-G used to build its subject data
/// (microsoft/unilm `kosmos-g/scripts/convert_openimage.py`): the logits resized to the image by
/// bilinear interpolation (PyTorch's `F.interpolate`, `align_corners=False`), a sigmoid, a
/// threshold, a grey dilation by a hundredth of each side (scipy's `grey_dilation`, a flat
/// rectangle), then the largest 4-connected component (scipy's `label`). Each step can be turned
/// off; the score is the mean probability inside the final mask.
public enum SegmentMask {
    public struct Settings: Sendable, Equatable {
        /// A pixel is in the mask when its probability exceeds this (Kosmos-G: 0.3).
        public var threshold: Float = 0.3
        /// The dilation's side along each axis is that axis's length divided by this (at least 1,
        /// which dilates nothing); 0 turns the dilation off.
        public var dilationDivisor = 100
        /// Keep only the largest connected component.
        public var largestComponent = true

        public init(threshold: Float = 0.3, dilationDivisor: Int = 100, largestComponent: Bool = true) {
            (self.threshold, self.dilationDivisor, self.largestComponent) = (threshold, dilationDivisor, largestComponent)
        }
    }

    /// The mask and its score (mean probability inside; 0 for an empty mask), from logits
    /// [height, width] for an image of `imageWidth` x `imageHeight`.
    public static func mask(logits: [Float], width w: Int, height h: Int, imageWidth: Int, imageHeight: Int,
                            settings: Settings = Settings()) -> (mask: Mask, score: Double) {
        let probabilities = resized(logits, width: w, height: h, toWidth: imageWidth, height: imageHeight).map { 1 / (1 + exp(-$0)) }
        var bits = probabilities.map { $0 > settings.threshold ? UInt8(1) : 0 }
        if settings.dilationDivisor > 0 {
            bits = dilated(bits, width: imageWidth, height: imageHeight,
                           size: (max(1, imageWidth / settings.dilationDivisor), max(1, imageHeight / settings.dilationDivisor)))
        }
        if settings.largestComponent { bits = largestComponent(bits, width: imageWidth, height: imageHeight) }
        var sum = 0.0, count = 0
        for i in bits.indices where bits[i] != 0 {
            sum += Double(probabilities[i])
            count += 1
        }
        return (Mask(width: imageWidth, height: imageHeight, bits: bits), count > 0 ? sum / Double(count) : 0)
    }

    /// PyTorch's bilinear `F.interpolate` (align_corners=False) of a [h, w] map to [H, W], in its
    /// float32 order of operations.
    static func resized(_ x: [Float], width w: Int, height h: Int, toWidth W: Int, height H: Int) -> [Float] {
        func taps(_ o: Int, input: Int, output: Int) -> (Int, Int, Float, Float) {
            let scale = Float(input) / Float(output)
            let source = max(scale * (Float(o) + 0.5) - 0.5, 0)
            let i0 = min(Int(source), input - 1), i1 = min(i0 + 1, input - 1)
            let lambda1 = source - Float(i0)
            return (i0, i1, 1 - lambda1, lambda1)
        }
        let columns = (0..<W).map { taps($0, input: w, output: W) }
        var out = [Float](repeating: 0, count: W * H)
        for oy in 0..<H {
            let (y0, y1, wy0, wy1) = taps(oy, input: h, output: H)
            for ox in 0..<W {
                let (x0, x1, wx0, wx1) = columns[ox]
                out[oy * W + ox] = wy0 * (wx0 * x[y0 * w + x0] + wx1 * x[y0 * w + x1]) + wy1 * (wx0 * x[y1 * w + x0] + wx1 * x[y1 * w + x1])
            }
        }
        return out
    }

    /// scipy's `grey_dilation` of a 0/1 image with a flat `size` (columns, rows) rectangle: each
    /// pixel takes the maximum over columns [x - (sx-1)/2, x + sx/2] and rows likewise (edges
    /// clamped, which is what scipy's reflection gives for a maximum), done by rows then columns.
    static func dilated(_ bits: [UInt8], width w: Int, height h: Int, size: (Int, Int)) -> [UInt8] {
        /// One axis: a running count of the ones inside each pixel's window, so the cost does not
        /// grow with the window (a 2,000-px side dilates by 20).
        func pass(_ input: [UInt8], count: Int, lines: Int, step: Int, lineStep: Int, _ k: Int) -> [UInt8] {
            guard k > 1 else { return input }
            let (before, after) = ((k - 1) / 2, k / 2)
            var out = input
            for line in 0..<lines {
                let base = line * lineStep
                var ones = 0
                for j in 0..<min(after, count) where input[base + j * step] != 0 { ones += 1 }
                for i in 0..<count {
                    if i + after < count, input[base + (i + after) * step] != 0 { ones += 1 }
                    if i - before - 1 >= 0, input[base + (i - before - 1) * step] != 0 { ones -= 1 }
                    out[base + i * step] = ones > 0 ? 1 : 0
                }
            }
            return out
        }
        let rows = pass(bits, count: w, lines: h, step: 1, lineStep: w, size.0)
        return pass(rows, count: h, lines: w, step: w, lineStep: 1, size.1)
    }

    /// The 4-connected component with the most pixels (the first in raster order on a tie), as
    /// scipy's `label` numbers them and `argmax` of their counts picks.
    static func largestComponent(_ bits: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        var labels = [Int32](repeating: 0, count: bits.count)
        var best = (label: Int32(0), count: 0), next: Int32 = 0
        var stack: [Int] = []
        for start in bits.indices where bits[start] != 0 && labels[start] == 0 {
            next += 1
            labels[start] = next
            stack.append(start)
            var count = 0
            while let i = stack.popLast() {
                count += 1
                let x = i % w
                func visit(_ j: Int) {
                    guard bits[j] != 0 && labels[j] == 0 else { return }
                    labels[j] = next
                    stack.append(j)
                }
                if x > 0 { visit(i - 1) }
                if x < w - 1 { visit(i + 1) }
                if i >= w { visit(i - w) }
                if i + w < bits.count { visit(i + w) }
            }
            if count > best.count { best = (next, count) }
        }
        return labels.map { $0 != 0 && $0 == best.label ? 1 : 0 }
    }
}
