import CImageCodecs
import Foundation

/// Resampling with Pillow's exact semantics (`Image.resize`, `libImaging/Resample.c` of
/// Pillow 13): separable convolution whose support is scaled by the shrink factor
/// (antialiasing), coefficients normalised then quantised to 22-bit fixed point, each pass
/// rounded to uint8. The horizontal pass runs first (over only the rows the vertical pass
/// needs) unless the height shrinks by more than twice as many pixels as the width, as
/// Pillow 13 decides; ``PassOrder/pillow12`` gives the older order (always horizontal first,
/// except Python's special case for images over 100 times taller than wide). The coefficients
/// are computed here; the passes run in C (`ic_resample_horizontal` / `ic_resample_vertical`):
/// AVX2 kernels where the CPU has AVX2, portable loops elsewhere, the same bytes either way.
public enum Resample {
    /// The filters Pillow offers for `resize`.
    public enum Filter: String, Sendable, CaseIterable {
        case box, bilinear, hamming, bicubic, lanczos

        var support: Double {
            switch self {
            case .box: return 0.5
            case .bilinear, .hamming: return 1
            case .bicubic: return 2
            case .lanczos: return 3
            }
        }

        func weight(_ x: Double) -> Double {
            switch self {
            case .box: return x > -0.5 && x <= 0.5 ? 1 : 0
            case .bilinear:
                let a = abs(x)
                return a < 1 ? 1 - a : 0
            case .hamming:
                let a = abs(x)
                if a == 0 { return 1 }
                if a >= 1 { return 0 }
                let p = a * Double.pi
                return sin(p) / p * (0.54 + 0.46 * cos(p))
            case .bicubic:
                let a = abs(x), c = -0.5
                if a < 1 { return ((c + 2) * a - (c + 3)) * a * a + 1 }
                if a < 2 { return (((a - 5) * a + 8) * a - 4) * c }
                return 0
            case .lanczos:
                func sinc(_ v: Double) -> Double { v == 0 ? 1 : sin(v * Double.pi) / (v * Double.pi) }
                return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0
            }
        }
    }

    /// Which Pillow release's pass order to follow.
    public enum PassOrder: Sendable {
        case pillow13, pillow12
    }

    static let precisionBits = 32 - 8 - 2

    /// Per output pixel: first input index, tap count, and fixed-point weights.
    struct Coefficients {
        var starts: [Int32]
        var counts: [Int32]
        var weights: [Int32]
        var taps: Int
    }

    static func coefficients(inSize: Int, from in0: Float, to in1: Float, outSize: Int, filter: Filter) -> Coefficients {
        let scale = Double(in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int32](repeating: 0, count: outSize)
        var counts = [Int32](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        let inverse = 1.0 / filterScale
        var k = [Double](repeating: 0, count: taps)
        for xx in 0..<outSize {
            let center = Double(in0) + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)  // C truncation toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var total = 0.0
            for x in 0..<max(0, xmax) {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * inverse)
                k[x] = w
                total += w
            }
            for x in 0..<max(0, xmax) {
                var w = k[x]
                if total != 0 { w /= total }
                let scaled = w * Double(1 << precisionBits)
                weights[xx * taps + x] = Int32(w < 0 ? (-0.5 + scaled).rounded(.towardZero) : (0.5 + scaled).rounded(.towardZero))
            }
            starts[xx] = Int32(xmin)
            counts[xx] = Int32(max(0, xmax))
        }
        return Coefficients(starts: starts, counts: counts, weights: weights, taps: taps)
    }

    /// Resizes a raster (any channel count, channels treated independently) as Pillow's
    /// `Image.resize(size, filter, box)` does for 8-bit modes ("L", "RGB", "RGBX").
    /// - Parameters:
    ///   - box: the source region `(x0, y0, x1, y1)`, default the whole image.
    /// - Complexity: O(output pixels × filter taps).
    public static func resize(_ image: Raster, width: Int, height: Int, filter: Filter,
                              box: (Float, Float, Float, Float)? = nil, order: PassOrder = .pillow13) -> Raster {
        resize(image, width: width, height: height, filter: filter, box: box, order: order, portable: false)
    }

    /// `portable`: the plain C loops even where the AVX2 kernels could run (for tests).
    static func resize(_ image: Raster, width: Int, height: Int, filter: Filter,
                       box: (Float, Float, Float, Float)?, order: PassOrder, portable: Bool) -> Raster {
        precondition(width > 0 && height > 0, "resize to an empty size")
        let box = box ?? (0, 0, Float(image.width), Float(image.height))
        if image.width == width && image.height == height && box == (0, 0, Float(image.width), Float(image.height)) {
            return image
        }
        if order == .pillow12 && image.height > image.width * 100 && height < image.height {
            let tall = resize(image, width: image.width, height: height, filter: filter,
                              box: (0, box.1, Float(image.width), box.3), order: order, portable: portable)
            return resize(tall, width: width, height: height, filter: filter, box: (box.0, 0, box.2, Float(height)),
                          order: order, portable: portable)
        }
        // As Pillow decides (note it compares the box's right edge with the *output* width).
        let needHorizontal = width != image.width || box.0 != 0 || box.2 != Float(width)
        let needVertical = height != image.height || box.1 != 0 || box.3 != Float(height)
        let shrinkY = image.height - height, shrinkX = image.width - width
        let horizontalFirst = order == .pillow12 || !(shrinkY > 0 && shrinkY > shrinkX * 2)
        let vertical = coefficients(inSize: image.height, from: box.1, to: box.3, outSize: height, filter: filter)
        var horizontal: Coefficients {
            coefficients(inSize: image.width, from: box.0, to: box.2, outSize: width, filter: filter)
        }
        var current = image
        if horizontalFirst {
            var rowOffset = 0
            if needHorizontal {
                let firstRow = Int(vertical.starts[0])
                let lastRow = Int(vertical.starts[height - 1] + vertical.counts[height - 1])
                current = horizontalPass(image, rows: firstRow..<lastRow, width: width, coefficients: horizontal,
                                         portable: portable)
                rowOffset = firstRow
            }
            if needVertical {
                current = verticalPass(current, rowOffset: rowOffset, height: height, coefficients: vertical,
                                       portable: portable)
            }
        } else {
            if needVertical {
                current = verticalPass(current, rowOffset: 0, height: height, coefficients: vertical, portable: portable)
            }
            if needHorizontal {
                current = horizontalPass(current, rows: 0..<current.height, width: width, coefficients: horizontal,
                                         portable: portable)
            }
        }
        return current
    }

    static func horizontalPass(_ image: Raster, rows: Range<Int>, width: Int, coefficients c: Coefficients,
                               portable: Bool) -> Raster {
        // The pass writes every output byte: no need to zero the buffer first.
        let size = width * rows.count * image.channels
        let pixels = [UInt8](unsafeUninitializedCapacity: size) { dst, count in
            image.pixels.withUnsafeBufferPointer { src in
                ic_resample_horizontal(src.baseAddress, src.count, Int32(image.width), Int32(image.channels),
                                       Int32(rows.lowerBound), Int32(rows.count), dst.baseAddress, Int32(width),
                                       c.starts, c.counts, c.weights, Int32(c.taps), portable ? 1 : 0)
            }
            count = size
        }
        return Raster(width: width, height: rows.count, channels: image.channels, pixels: pixels)
    }

    /// Each output row accumulates whole input rows (sequential memory); integer sums are exact,
    /// so the order of accumulation does not change the result.
    static func verticalPass(_ image: Raster, rowOffset: Int, height: Int, coefficients c: Coefficients,
                             portable: Bool) -> Raster {
        let size = image.width * height * image.channels
        let pixels = [UInt8](unsafeUninitializedCapacity: size) { dst, count in
            image.pixels.withUnsafeBufferPointer { src in
                ic_resample_vertical(src.baseAddress, Int32(image.width), Int32(image.channels), Int32(rowOffset),
                                     dst.baseAddress, Int32(height), c.starts, c.counts, c.weights, Int32(c.taps),
                                     portable ? 1 : 0)
            }
            count = size
        }
        return Raster(width: image.width, height: height, channels: image.channels, pixels: pixels)
    }

    /// Whether the AVX2 passes run on this CPU (otherwise the portable loops do; same bytes).
    public static var usesAVX2: Bool { ic_resample_uses_avx2() != 0 }
}
