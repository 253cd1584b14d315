/// COCO segmentations decoded as pycocotools does (`maskApi.c`): run-length encodings
/// (compressed strings or count lists, column-major, starting with zeros) and polygons
/// rasterised by `rleFrPoly` (5x upsampled boundary, y-crossings per column), several polygons
/// merged by union.
public enum COCOMask {
    /// Decodes a compressed RLE string (`rleFrString`).
    public static func counts(fromString s: String) -> [Int] {
        let bytes = Array(s.utf8)
        var counts: [Int] = []
        var p = 0
        while p < bytes.count {
            var x = 0, k = 0, more = true
            while more && p < bytes.count {
                let c = Int(bytes[p]) - 48
                x |= (c & 0x1F) << (5 * k)
                more = (c & 0x20) != 0
                p += 1
                k += 1
                if !more && (c & 0x10) != 0 { x |= -1 << (5 * k) }
            }
            // 64-bit wrap-around as the C code's long arithmetic (malformed strings must not trap).
            if counts.count > 2 { x &+= counts[counts.count - 2] }
            counts.append(Int(UInt32(truncatingIfNeeded: x)))
        }
        return counts
    }

    /// Column-major run lengths of a mask, starting with a run of zeros (`rleEncode`).
    public static func counts(of mask: Mask) -> [Int] {
        let w = mask.width, h = mask.height
        var counts: [Int] = []
        var value: UInt8 = 0, run = 0
        mask.bits.withUnsafeBufferPointer { bits in
            for x in 0..<w {
                for y in 0..<h {
                    let bit: UInt8 = bits[y * w + x] != 0 ? 1 : 0
                    if bit != value {
                        counts.append(run)
                        (run, value) = (0, bit)
                    }
                    run += 1
                }
            }
        }
        counts.append(run)
        return counts
    }

    /// The compressed string of run lengths (`rleToString`): each count after the second as the
    /// difference from the count two before, in 5-bit groups with a continuation bit, plus 48.
    public static func string(fromCounts counts: [Int]) -> String {
        var bytes: [UInt8] = []
        for (i, count) in counts.enumerated() {
            var x = count
            if i > 2 { x -= counts[i - 2] }
            var more = true
            while more {
                var c = x & 0x1F
                x >>= 5
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(UInt8(c + 48))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A mask as COCO's compressed RLE JSON value, `{"size": [h, w], "counts": "…"}`.
    public static func rleJSON(_ mask: Mask) -> String {
        // The alphabet is '0' (48) ... 'o' (111): no quote, but the backslash (92) needs escaping.
        let counts = String(string(fromCounts: counts(of: mask)).flatMap { $0 == "\\" ? ["\\", "\\"] : [$0] })
        return "{\"size\":[\(mask.height),\(mask.width)],\"counts\":\"\(counts)\"}"
    }

    /// Expands run lengths into a row-major mask. Runs past the end are ignored.
    public static func mask(fromCounts counts: [Int], width: Int, height: Int) -> Mask {
        var bits = [UInt8](repeating: 0, count: width * height)
        var index = 0, value: UInt8 = 0
        let total = width * height
        bits.withUnsafeMutableBufferPointer { out in
            for run in counts {
                // Runs are clamped to what is left, so huge or negative counts cannot overflow.
                let length = min(max(0, run), total - index)
                if value == 1 && length > 0 {
                    // Column-major: walk down the column, then to the top of the next one.
                    var (x, y) = (index / height, index % height)
                    for _ in 0..<length {
                        out[y * width + x] = 1
                        y += 1
                        if y == height { (x, y) = (x + 1, 0) }
                    }
                }
                index += length
                if index >= total { break }
                value ^= 1
            }
        }
        return Mask(width: width, height: height, bits: bits)
    }

    /// Run lengths of one polygon (`rleFrPoly`), points as `x0, y0, x1, y1, …` in pixels.
    public static func counts(fromPolygon xy: [Double], width w: Int, height h: Int) -> [Int] {
        let k = xy.count / 2
        guard k > 0 else { return [w * h] }
        let scale = 5.0
        var x = (0..<k).map { Int(scale * xy[2 * $0] + 0.5) }
        var y = (0..<k).map { Int(scale * xy[2 * $0 + 1] + 0.5) }
        x.append(x[0])
        y.append(y[0])
        var u: [Int] = [], v: [Int] = []
        for j in 0..<k {
            var xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1]
            let dx = abs(xe - xs), dy = abs(ys - ye)
            let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
            if flip { swap(&xs, &xe); swap(&ys, &ye) }
            // A zero-length edge (repeated or single point) has no slope.
            let s = dx >= dy ? (dx == 0 ? 0 : Double(ye - ys) / Double(dx)) : Double(xe - xs) / Double(dy)
            if dx >= dy {
                for d in 0...dx {
                    let t = flip ? dx - d : d
                    u.append(t + xs)
                    v.append(Int(Double(ys) + s * Double(t) + 0.5))
                }
            } else {
                for d in 0...dy {
                    let t = flip ? dy - d : d
                    v.append(t + ys)
                    u.append(Int(Double(xs) + s * Double(t) + 0.5))
                }
            }
        }
        var a: [UInt32] = []
        for j in 1..<max(1, u.count) where u[j] != u[j - 1] {
            var xd = Double(u[j] < u[j - 1] ? u[j] : u[j] - 1)
            xd = (xd + 0.5) / scale - 0.5
            if xd.rounded(.down) != xd || xd < 0 || xd > Double(w - 1) { continue }
            var yd = Double(v[j] < v[j - 1] ? v[j] : v[j - 1])
            yd = (yd + 0.5) / scale - 0.5
            if yd < 0 { yd = 0 } else if yd > Double(h) { yd = Double(h) }
            yd = yd.rounded(.up)
            a.append(UInt32(truncatingIfNeeded: Int(xd) * h + Int(yd)))
        }
        a.append(UInt32(truncatingIfNeeded: h * w))
        a.sort()
        var previous: UInt32 = 0
        for j in a.indices {
            let t = a[j]
            a[j] = t &- previous
            previous = t
        }
        var b: [UInt32] = [a[0]]
        var j = 1
        while j < a.count {
            if a[j] > 0 {
                b.append(a[j])
                j += 1
            } else {
                j += 1
                if j < a.count { b[b.count - 1] &+= a[j]; j += 1 }
            }
        }
        return b.map { Int($0) }
    }

    /// A COCO `segmentation` value: a list of polygons, or `{"size": [h, w], "counts": …}`.
    public enum Segmentation: Sendable, Equatable {
        case polygons([[Double]])
        case rleCounts([Int], height: Int, width: Int)
        case rleString(String, height: Int, width: Int)
    }

    /// Rasterises a segmentation for an image of `width` × `height`.
    /// - Throws: ``ImagingError`` `.corrupt` when an RLE's size disagrees with the image, or a
    ///   polygon has an odd number of values or non-finite coordinates, or coordinates beyond four
    ///   image sizes (+64) from it.
    public static func mask(_ segmentation: Segmentation, width: Int, height: Int) throws -> Mask {
        switch segmentation {
        case .polygons(let polygons):
            var result = Mask(width: width, height: height, bits: [UInt8](repeating: 0, count: width * height))
            for polygon in polygons {
                // Coordinates far outside the image (real polygons lie on it) would only cost time.
                let bound = Double(4 * max(width, height) + 64)
                guard polygon.count % 2 == 0, polygon.allSatisfy({ $0.isFinite && abs($0) <= bound }) else {
                    throw ImagingError(.corrupt, "a polygon needs x, y pairs of finite coordinates near the image (within ±\(Int(bound)))")
                }
                result = result.union(mask(fromCounts: counts(fromPolygon: polygon, width: width, height: height),
                                           width: width, height: height))
            }
            return result
        case .rleCounts(let counts, let h, let w):
            guard h == height && w == width else {
                throw ImagingError(.corrupt, "RLE size \(w)x\(h) differs from the image's \(width)x\(height)")
            }
            return mask(fromCounts: counts, width: width, height: height)
        case .rleString(let string, let h, let w):
            guard h == height && w == width else {
                throw ImagingError(.corrupt, "RLE size \(w)x\(h) differs from the image's \(width)x\(height)")
            }
            return mask(fromCounts: counts(fromString: string), width: width, height: height)
        }
    }
}
