/// The EXIF orientation tag of a JPEG, and the transposes that undo it (as Pillow's
/// `ImageOps.exif_transpose`).
public enum EXIF {
    /// The orientation (1-8) in a JPEG's APP1 Exif segment, or 1 when absent or unreadable.
    public static func orientation(ofJPEG bytes: [UInt8]) -> Int {
        var i = 2
        while i + 4 <= bytes.count, bytes[i] == 0xFF {
            let marker = bytes[i + 1]
            if marker == 0xD9 || marker == 0xDA { break }
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { break }
            if marker == 0xE1, length >= 8, Array(bytes[(i + 4)..<(i + 10)]) == Array("Exif".utf8) + [0, 0] {
                return orientation(tiff: Array(bytes[(i + 10)..<(i + 2 + length)])) ?? 1
            }
            i += 2 + length
        }
        return 1
    }

    static func orientation(tiff t: [UInt8]) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let count = u16(ifd) else { return nil }
        for n in 0..<min(count, 512) {
            let entry = ifd + 2 + 12 * n
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112, let value = u16(entry + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}

extension Raster {
    /// The raster transposed so that an image with EXIF `orientation` displays upright.
    public func oriented(_ orientation: Int) -> Raster {
        // (destination x, y) -> source (x, y), for each orientation.
        let (w, h) = (width, height)
        let swapsAxes = orientation >= 5 && orientation <= 8
        let (ow, oh) = swapsAxes ? (h, w) : (w, h)
        if orientation <= 1 || orientation > 8 { return self }
        var out = Raster(width: ow, height: oh, channels: channels)
        for y in 0..<oh {
            for x in 0..<ow {
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (w - 1 - x, y)              // mirror horizontally
                case 3: (sx, sy) = (w - 1 - x, h - 1 - y)      // rotate 180
                case 4: (sx, sy) = (x, h - 1 - y)              // mirror vertically
                case 5: (sx, sy) = (y, x)                      // transpose
                case 6: (sx, sy) = (y, h - 1 - x)              // rotate 90 clockwise
                case 7: (sx, sy) = (w - 1 - y, h - 1 - x)      // transverse
                default: (sx, sy) = (w - 1 - y, x)             // 8: rotate 90 counter-clockwise
                }
                for c in 0..<channels { out.pixels[(y * ow + x) * channels + c] = pixels[(sy * w + sx) * channels + c] }
            }
        }
        return out
    }
}
