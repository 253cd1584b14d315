/// Cropping, padding and compositing.
extension Raster {
    /// The region `x..<x+width, y..<y+height`; parts outside the image are filled with `fill`.
    public func cropped(x: Int, y: Int, width: Int, height: Int, fill: UInt8 = 0) -> Raster {
        var out = Raster(width: width, height: height, channels: channels, fill: fill)
        let x0 = max(0, x), x1 = min(self.width, x + width)
        guard x0 < x1 else { return out }
        let rowBytes = (x1 - x0) * channels
        for yy in 0..<height {
            let sy = y + yy
            guard sy >= 0 && sy < self.height else { continue }
            let src = (sy * self.width + x0) * channels
            let dst = (yy * width + (x0 - x)) * channels
            out.pixels.replaceSubrange(dst..<(dst + rowBytes), with: pixels[src..<(src + rowBytes)])
        }
        return out
    }

    /// Pads to a square with `fill`, the image centred (the extra pixel of an odd difference goes
    /// to the bottom or right).
    public func paddedToSquare(fill: UInt8) -> Raster {
        let side = max(width, height)
        return cropped(x: -(side - width) / 2, y: -(side - height) / 2, width: side, height: side, fill: fill)
    }

    /// The pixel at (x, y), channel c.
    @inline(__always) public subscript(x x: Int, y y: Int, c c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// RGB to one gray channel with OpenCV 5's fixed-point `COLOR_RGB2GRAY` weights
    /// (0.299, 0.587, 0.114 as 9798, 19235, 3735 over 2^15, rounded; OpenCV 4 used 14 bits).
    public func grayscale() -> Raster {
        precondition(channels == 3, "grayscale() takes RGB")
        var out = Raster(width: width, height: height, channels: 1)
        for i in 0..<(width * height) {
            let r = Int(pixels[3 * i]), g = Int(pixels[3 * i + 1]), b = Int(pixels[3 * i + 2])
            out.pixels[i] = UInt8((r * 9798 + g * 19235 + b * 3735 + (1 << 14)) >> 15)
        }
        return out
    }

    /// Gray to RGB by repeating the channel.
    public func rgb() -> Raster {
        if channels == 3 { return self }
        precondition(channels == 1, "rgb() takes gray or RGB")
        var out = Raster(width: width, height: height, channels: 3)
        for i in 0..<(width * height) {
            let v = pixels[i]
            out.pixels[3 * i] = v
            out.pixels[3 * i + 1] = v
            out.pixels[3 * i + 2] = v
        }
        return out
    }
}
