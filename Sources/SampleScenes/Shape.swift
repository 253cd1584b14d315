import Foundation
import Imaging

/// One object's geometry: an inside test and a shading rule per class. Pixels are either in or
/// out (no anti-aliasing), so the instance map is exact.
struct Shape {
    let kind: ObjectClass
    let colour: String
    let cx: Double
    let baseY: Double
    let size: Double
    let tilt: Double

    /// Paints the object and writes `value` into the instance map where it is visible.
    /// - Returns: an outline polygon for box-like classes.
    func draw(into image: inout Raster, instances: inout Raster, value: Int, noise: ValueNoise) -> [Double]? {
        let base = Palette.rgb[colour] ?? (128, 128, 128)
        let x0 = max(0, Int(cx - size)), x1 = min(image.width - 1, Int(cx + size))
        let y0 = max(0, Int(baseY - size * 1.3)), y1 = min(image.height - 1, Int(baseY + 2))
        guard x0 <= x1, y0 <= y1 else { return nil }
        for y in y0...y1 {
            for x in x0...x1 {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                guard let shade = colour(at: px, py, base: base, noise: noise) else { continue }
                let i = y * image.width + x
                image.pixels[3 * i] = UInt8(clamping: Int(shade.0))
                image.pixels[3 * i + 1] = UInt8(clamping: Int(shade.1))
                image.pixels[3 * i + 2] = UInt8(clamping: Int(shade.2))
                instances.pixels[i] = UInt8(value)
            }
        }
        switch kind {
        case .book, .box: return corners().flatMap { [$0.0, $0.1] }
        default: return nil
        }
    }

    private func corners() -> [(Double, Double)] {
        let (w, h) = kind == .book ? (size * 0.9, size * 0.32) : (size * 0.8, size * 0.65)
        let c = cos(tilt * 0.3), s = sin(tilt * 0.3)
        let cy = baseY - h / 2
        return [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)].map { p in
            (cx + p.0 * c - p.1 * s, cy + p.0 * s + p.1 * c)
        }
    }

    private func lit(_ base: (Double, Double, Double), _ f: Double) -> (Double, Double, Double) {
        (base.0 * f, base.1 * f, base.2 * f)
    }

    /// The shaded colour at a point inside the object, or nil outside.
    private func colour(at x: Double, _ y: Double, base: (Double, Double, Double), noise: ValueNoise) -> (Double, Double, Double)? {
        let r = size / 2
        switch kind {
        case .ball, .apple:
            let radius = kind == .apple ? r * 0.8 : r
            let cy = baseY - radius
            let dx = x - cx, dy = y - cy
            if dx * dx + dy * dy <= radius * radius {
                let light = 1.15 - 0.45 * ((dx + radius * 0.4) * (dx + radius * 0.4) + (dy + radius * 0.4) * (dy + radius * 0.4)).squareRoot() / (radius * 2)
                return lit(base, light)
            }
            if kind == .apple {
                if abs(x - cx) < radius * 0.07 && y < cy - radius * 0.85 && y > cy - radius * 1.25 { return (90, 60, 30) }
                let lx = x - (cx + radius * 0.22), ly = y - (cy - radius * 1.05)
                if (lx * lx) / (radius * radius * 0.06) + (ly * ly) / (radius * radius * 0.015) <= 1 { return (60, 150, 50) }
            }
            return nil
        case .mug:
            let w = size * 0.55, h = size * 0.7
            let left = cx - w / 2, top = baseY - h
            if x >= left && x <= left + w && y >= top && y <= baseY {
                return lit(base, 0.8 + 0.35 * (x - left) / w)
            }
            let hx = x - (left + w), hy = y - (top + h * 0.45)
            let d = (hx * hx + hy * hy).squareRoot()
            if hx > 0 && d <= h * 0.28 && d >= h * 0.16 { return lit(base, 0.85) }
            return nil
        case .book, .box:
            let c = corners()
            guard inside(x, y, polygon: c) else { return nil }
            if kind == .book {
                let u = (x - c[0].0) / max(1, c[1].0 - c[0].0)
                if u < 0.08 { return lit(base, 0.6) }
                return lit(base, 0.9 + 0.1 * noise.value(x, y, scale: 6))
            }
            return lit(base, 0.85 + 0.2 * noise.value(x, y, scale: 10))
        case .plant:
            let potW = size * 0.45, potH = size * 0.35
            let potTop = baseY - potH
            if y >= potTop && y <= baseY {
                let t = (y - potTop) / potH
                if abs(x - cx) <= potW / 2 * (1 - 0.25 * t) { return (170, 85, 50) }
            }
            for leaf in 0..<5 {
                let angle = -Double.pi / 2 + (Double(leaf) - 2) * 0.45
                let lx = cx + cos(angle) * size * 0.3, ly = potTop + sin(angle) * size * 0.3
                let dx = x - lx, dy = y - ly
                let u = dx * cos(angle) + dy * sin(angle), v = -dx * sin(angle) + dy * cos(angle)
                if (u * u) / (size * size * 0.045) + (v * v) / (size * size * 0.006) <= 1 {
                    return lit(base, 0.8 + 0.3 * noise.value(x, y, scale: 5))
                }
            }
            return nil
        case .bottle:
            let w = size * 0.32, h = size * 1.1
            let top = baseY - h
            if abs(x - cx) <= w / 2 && y >= top + h * 0.35 && y <= baseY { return lit(base, 0.75 + 0.5 * (x - cx + w / 2) / w) }
            if abs(x - cx) <= w * 0.18 && y >= top + h * 0.08 && y < top + h * 0.35 { return lit(base, 0.9) }
            if abs(x - cx) <= w * 0.22 && y >= top && y < top + h * 0.08 { return (40, 40, 40) }
            return nil
        case .clock:
            let cy = baseY - r
            let dx = x - cx, dy = y - cy
            let d = (dx * dx + dy * dy).squareRoot()
            guard d <= r else { return nil }
            if d >= r * 0.85 { return base }
            // Hands: a segment to 12 o'clock and one to 3 o'clock.
            if (abs(dx) < r * 0.05 && dy < 0 && dy > -r * 0.6) || (abs(dy) < r * 0.05 && dx > 0 && dx < r * 0.45) { return (20, 20, 20) }
            return (245, 240, 225)
        case .vase:
            let h = size * 1.0
            let top = baseY - h
            guard y >= top && y <= baseY else { return nil }
            let t = (y - top) / h
            let half = size * (0.12 + 0.22 * sin(Double.pi * (0.15 + 0.85 * t)))
            guard abs(x - cx) <= half else { return nil }
            return lit(base, 0.75 + 0.45 * (x - cx + half) / (2 * half))
        }
    }

    private func inside(_ x: Double, _ y: Double, polygon: [(Double, Double)]) -> Bool {
        var result = false
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let (xi, yi) = polygon[i], (xj, yj) = polygon[j]
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi { result.toggle() }
            j = i
        }
        return result
    }
}
