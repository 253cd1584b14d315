/// A binary mask (one byte per pixel, 0 or 1) and its statistics.
public struct Mask: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `width * height` values, 0 or 1, row-major.
    public var bits: [UInt8]

    public init(width: Int, height: Int, bits: [UInt8]) {
        precondition(bits.count == width * height, "mask size")
        self.width = width
        self.height = height
        self.bits = bits
    }

    /// Pixels of an instance map equal to `value`.
    public init(instanceMap: Raster, value: Int) {
        precondition(instanceMap.channels == 1, "an instance map has one channel")
        let count = instanceMap.width * instanceMap.height
        guard (0...255).contains(value) else {
            self.init(width: instanceMap.width, height: instanceMap.height, bits: [UInt8](repeating: 0, count: count))
            return
        }
        // One compare per byte in a loop the compiler vectorises (a closure per pixel was a
        // quarter of the crop stage's time on photo-sized maps).
        let v = UInt8(value)
        let bits = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            instanceMap.pixels.withUnsafeBufferPointer { map in
                for i in 0..<count { out[i] = map[i] == v ? 1 : 0 }
            }
            initialized = count
        }
        self.init(width: instanceMap.width, height: instanceMap.height, bits: bits)
    }

    /// The non-zero pixels of a mask image file: a one-channel PNG by its stored values (no
    /// gray conversion), anything else decoded as RGB.
    public init(binaryImage bytes: [UInt8], maxPixels: Int = Int.max) throws {
        let info = try ImageCodec.probe(bytes, checkEnd: false)
        self.init(nonZeroOf: info.format == .png && info.channels == 1 ? try ImageCodec.decodeIndexMap(bytes, maxPixels: maxPixels)
                                                                       : try ImageCodec.decodeRGB(bytes, maxPixels: maxPixels))
    }

    /// Non-zero pixels of a gray/index raster (a binary mask PNG).
    public init(nonZeroOf raster: Raster) {
        let count = raster.width * raster.height, channels = raster.channels
        let bits = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            raster.pixels.withUnsafeBufferPointer { p in
                if channels == 1 {
                    for i in 0..<count { out[i] = p[i] != 0 ? 1 : 0 }
                } else {
                    for i in 0..<count {
                        var any: UInt8 = 0
                        for c in 0..<channels { any |= p[i * channels + c] }
                        out[i] = any != 0 ? 1 : 0
                    }
                }
            }
            initialized = count
        }
        self.init(width: raster.width, height: raster.height, bits: bits)
    }

    /// Set pixels.
    public var area: Int { bits.reduce(0) { $0 + Int($1) } }

    /// The tight box of the set pixels, `[x0, y0, x1, y1)`, or nil for an empty mask.
    public var box: PixelBox? {
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        bits.withUnsafeBufferPointer { b in
            for y in 0..<height {
                let row = UnsafeBufferPointer(rebasing: b[(y * width)..<((y + 1) * width)])
                // The row's first and last set pixel, scanning in from each end.
                guard let first = row.firstIndex(where: { $0 != 0 }) else { continue }
                let last = row.lastIndex(where: { $0 != 0 })!
                x0 = min(x0, first)
                x1 = max(x1, last)
                if y0 == Int.max { y0 = y }
                y1 = y
            }
        }
        return x1 < 0 ? nil : PixelBox(x0: x0, y0: y0, x1: x1 + 1, y1: y1 + 1)
    }

    /// Set pixels inside `box`.
    public func area(in box: PixelBox) -> Int {
        var n = 0
        for y in max(0, box.y0)..<min(height, box.y1) {
            for x in max(0, box.x0)..<min(width, box.x1) { n += Int(bits[y * width + x]) }
        }
        return n
    }

    /// Union with another mask of the same size.
    public func union(_ other: Mask) -> Mask {
        precondition(width == other.width && height == other.height, "mask sizes differ")
        return Mask(width: width, height: height, bits: zip(bits, other.bits).map { $0 | $1 })
    }
}

/// An integer pixel box `[x0, x1) × [y0, y1)`.
public struct PixelBox: Sendable, Equatable, Codable {
    public var x0: Int, y0: Int, x1: Int, y1: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }

    /// The smallest integer box holding a float box `[x0, y0, x1, y1]`, clamped to the image.
    public init?(covering box: [Double], width: Int, height: Int) {
        guard box.count == 4, box.allSatisfy({ $0.isFinite }) else { return nil }
        x0 = max(0, Int(box[0].rounded(.down)))
        y0 = max(0, Int(box[1].rounded(.down)))
        x1 = min(width, Int(box[2].rounded(.up)))
        y1 = min(height, Int(box[3].rounded(.up)))
        if x1 <= x0 || y1 <= y0 { return nil }
    }

    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
    public var area: Int { width * height }
    /// `[x0, y0, x1, y1]`.
    public var array: [Int] { [x0, y0, x1, y1] }
}
