import Foundation
public import Imaging

/// A drawn scene: the image, its exact instance map, the objects and a caption naming them.
public struct Scene: Sendable {
    /// RGB image.
    public var image: Raster
    /// 1-channel instance map: 0 background, `k` the k-th object.
    public var instances: Raster
    /// Objects in instance order.
    public var objects: [SceneObject]
    /// The caption.
    public var caption: String
    /// Background description used in the caption.
    public var background: String
}

/// Procedural scenes of 2-4 objects (mugs, balls, books, plants, …) on textured backgrounds,
/// deterministic from a seed and an index.
public struct SceneGenerator: Sendable {
    public let seed: UInt64
    /// Side lengths are drawn from this range.
    public var sizeRange: ClosedRange<Int> = 256...384

    public init(seed: UInt64) { self.seed = seed }

    static let backgrounds = ["a wooden table", "a blue wall", "a checkered floor", "the grass", "a marble counter",
                              "a white background"]

    /// Draws scene number `index`.
    public func scene(_ index: Int) -> Scene {
        var rng = SeededRandom(seed: seed, stream: UInt64(index) &+ 1)
        let width = rng.int(sizeRange), height = rng.int(sizeRange)
        let background = rng.unit() < 0.06 ? "a white background" : rng.pick(Array(Self.backgrounds.dropLast()))
        var image = Raster(width: width, height: height, channels: 3)
        var instances = Raster(width: width, height: height, channels: 1)
        paintBackground(&image, background, noise: ValueNoise(seed: rng.next()))

        let count = rng.int(2...4)
        var objects: [SceneObject] = []
        let slot = Double(width) / Double(count)
        for k in 0..<count {
            let kind = rng.pick(ObjectClass.allCases)
            let colour = rng.pick(kind.colours)
            let size = min(slot * rng.double(0.7...0.95), Double(height) * 0.6)
            let cx = slot * (Double(k) + 0.5) + rng.double(-0.08...0.08) * slot
            let baseY = Double(height) * rng.double(0.78...0.92)
            let shape = Shape(kind: kind, colour: colour, cx: cx, baseY: baseY, size: size, tilt: rng.double(-0.25...0.25))
            let outline = shape.draw(into: &image, instances: &instances, value: k + 1, noise: ValueNoise(seed: rng.next()))
            objects.append(SceneObject(kind: kind, colour: colour, value: k + 1, box: [0, 0, 0, 0], area: 0, outline: outline))
        }
        // Visible boxes and areas from the final instance map (occlusion included).
        var boxes = [[Int]](repeating: [Int.max, Int.max, -1, -1], count: count + 1)
        var areas = [Int](repeating: 0, count: count + 1)
        for y in 0..<height {
            for x in 0..<width {
                let v = Int(instances.pixels[y * width + x])
                guard v > 0 else { continue }
                areas[v] += 1
                boxes[v] = [min(boxes[v][0], x), min(boxes[v][1], y), max(boxes[v][2], x + 1), max(boxes[v][3], y + 1)]
            }
        }
        for i in objects.indices {
            objects[i].area = areas[i + 1]
            objects[i].box = areas[i + 1] > 0 ? boxes[i + 1] : [0, 0, 0, 0]
        }
        objects = objects.filter { $0.area > 0 }
        return Scene(image: image, instances: instances, objects: objects,
                     caption: Self.caption(objects, background: background, rng: &rng), background: background)
    }

    /// "a red mug next to a green ball on a wooden table", "two apples and a blue book in front of a blue wall", …
    static func caption(_ objects: [SceneObject], background: String, rng: inout SeededRandom) -> String {
        var groups: [(kind: ObjectClass, colours: [String])] = []
        for o in objects {
            if let i = groups.firstIndex(where: { $0.kind == o.kind }) { groups[i].colours.append(o.colour) } else {
                groups.append((o.kind, [o.colour]))
            }
        }
        let numbers = ["", "one", "two", "three", "four"]
        let phrases = groups.map { g -> String in
            if g.colours.count == 1 {
                let colour = g.colours[0]
                let article = "aeiou".contains(colour.first!) ? "an" : "a"
                return g.kind == .plant ? "a potted plant" : "\(article) \(colour) \(g.kind.rawValue)"
            }
            let same = Set(g.colours).count == 1
            return numbers[g.colours.count] + (same ? " \(g.colours[0])" : "") + " \(g.kind.plural)"
        }
        let place: String
        switch background {
        case "a blue wall", "a white background": place = "in front of \(background)"
        case "the grass": place = "on the grass"
        default: place = "on \(background)"
        }
        if phrases.count == 2 && rng.unit() < 0.5 {
            return "\(phrases[0]) next to \(phrases[1]) \(place)"
        }
        let list = phrases.count == 1 ? phrases[0]
            : phrases.dropLast().joined(separator: ", ") + " and " + phrases.last!
        switch rng.int(0...2) {
        case 0: return "a photo of \(list) \(place)"
        case 1: return "\(list) \(place)"
        default:
            let plural = objects.count > 1 && (phrases.count > 1 || groups[0].colours.count > 1)
            return "there \(plural ? "are" : "is") \(list) \(place)"
        }
    }

    private func paintBackground(_ image: inout Raster, _ background: String, noise: ValueNoise) {
        let w = image.width, h = image.height
        for y in 0..<h {
            for x in 0..<w {
                let n = noise.value(Double(x), Double(y), scale: 12)
                var rgb: (Double, Double, Double)
                switch background {
                case "a wooden table":
                    if Double(y) < Double(h) * 0.55 {
                        rgb = (225 - 20 * n, 215 - 20 * n, 190 - 20 * n)
                    } else {
                        let grain = 0.5 + 0.5 * sin(Double(y) * 0.35 + 6 * noise.value(Double(x), Double(y), scale: 40))
                        rgb = (150 + 40 * grain, 100 + 25 * grain, 55 + 15 * grain)
                    }
                case "a blue wall": rgb = (70 + 30 * n, 110 + 30 * n, 190 + 30 * n)
                case "a checkered floor":
                    let dark = ((x / 32) + (y / 32)) % 2 == 0
                    rgb = dark ? (60 + 20 * n, 60 + 20 * n, 70 + 20 * n) : (200 + 20 * n, 200 + 20 * n, 190 + 20 * n)
                case "the grass": rgb = (60 + 50 * n, 140 + 60 * n, 50 + 30 * n)
                case "a marble counter":
                    let vein = abs(sin(Double(x + y) * 0.05 + 8 * noise.value(Double(x), Double(y), scale: 50)))
                    rgb = (190 + 40 * vein, 190 + 40 * vein, 195 + 40 * vein)
                default: rgb = (246 + 6 * n, 246 + 6 * n, 246 + 6 * n)
                }
                let i = (y * w + x) * 3
                image.pixels[i] = UInt8(clamping: Int(rgb.0))
                image.pixels[i + 1] = UInt8(clamping: Int(rgb.1))
                image.pixels[i + 2] = UInt8(clamping: Int(rgb.2))
            }
        }
    }
}
