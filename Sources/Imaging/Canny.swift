/// Canny edges with OpenCV's semantics (`cv2.Canny(gray, low, high)`, aperture 3, L1 gradient):
/// 3x3 Sobel with replicated borders in 16-bit, magnitude |dx| + |dy|, non-maximum suppression
/// with OpenCV's fixed-point tan(22.5°) sectors and its asymmetric comparisons, then hysteresis
/// from pixels above `high` through 8-connected pixels above `low`.
public enum Canny {
    /// Edge map (0 or 255) of a one-channel image.
    /// - Complexity: O(pixels).
    public static func edges(_ gray: Raster, low: Double = 100, high: Double = 200) -> Raster {
        precondition(gray.channels == 1, "Canny takes one channel")
        let (lowT, highT) = low <= high ? (low, high) : (high, low)
        let lo = Int(lowT.rounded(.down)), hi = Int(highT.rounded(.down))
        let w = gray.width, h = gray.height
        guard w > 0 && h > 0 else { return gray }
        var dx = [Int32](repeating: 0, count: w * h)
        var dy = [Int32](repeating: 0, count: w * h)
        gray.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                let ym = max(0, y - 1) * w, y0 = y * w, yp = min(h - 1, y + 1) * w
                for x in 0..<w {
                    let xm = max(0, x - 1), xp = min(w - 1, x + 1)
                    let a = Int32(p[ym + xm]), b = Int32(p[ym + x]), c = Int32(p[ym + xp])
                    let d = Int32(p[y0 + xm]), f = Int32(p[y0 + xp])
                    let g = Int32(p[yp + xm]), hh = Int32(p[yp + x]), i = Int32(p[yp + xp])
                    dx[y0 + x] = (c + 2 * f + i) - (a + 2 * d + g)
                    dy[y0 + x] = (g + 2 * hh + i) - (a + 2 * b + c)
                }
            }
        }
        // Magnitudes with a zero border; the map has a one-pixel frame of 1 ("not an edge").
        let mw = w + 2
        var mag = [Int32](repeating: 0, count: mw * (h + 2))
        for y in 0..<h {
            for x in 0..<w { mag[(y + 1) * mw + x + 1] = abs(dx[y * w + x]) + abs(dy[y * w + x]) }
        }
        var map = [UInt8](repeating: 1, count: mw * (h + 2))
        var stack: [Int] = []
        let shift: Int64 = 15
        let tg22 = Int64((0.4142135623730950488016887242097 * Double(1 << shift) + 0.5).rounded(.towardZero))
        for y in 0..<h {
            var previousPushed = false
            for x in 0..<w {
                let at = (y + 1) * mw + x + 1
                let m = mag[at]
                var isMaximum = false
                if m > lo {
                    let xs = Int64(dx[y * w + x]), ys = Int64(dy[y * w + x])
                    let ax = abs(xs), ay = abs(ys) << shift
                    let tg22x = ax * tg22
                    if ay < tg22x {
                        isMaximum = m > mag[at - 1] && m >= mag[at + 1]
                    } else {
                        let tg67x = tg22x + (ax << (shift + 1))
                        if ay > tg67x {
                            isMaximum = m > mag[at - mw] && m >= mag[at + mw]
                        } else {
                            let s = (xs ^ ys) < 0 ? -1 : 1
                            isMaximum = m > mag[at - mw - s] && m > mag[at + mw + s]
                        }
                    }
                }
                if !isMaximum {
                    previousPushed = false
                    map[at] = 1
                } else if !previousPushed && Int(m) > hi && map[at - mw] != 2 {
                    map[at] = 2
                    stack.append(at)
                    previousPushed = true
                } else {
                    map[at] = 0
                }
            }
        }
        while let at = stack.popLast() {
            for n in [at - 1, at + 1, at - mw - 1, at - mw, at - mw + 1, at + mw - 1, at + mw, at + mw + 1] where map[n] == 0 {
                map[n] = 2
                stack.append(n)
            }
        }
        var out = Raster(width: w, height: h, channels: 1)
        for y in 0..<h {
            for x in 0..<w where map[(y + 1) * mw + x + 1] == 2 { out.pixels[y * w + x] = 255 }
        }
        return out
    }
}
