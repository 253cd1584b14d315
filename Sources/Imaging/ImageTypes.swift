/// File formats the codecs read and write.
public enum ImageFormat: String, Sendable, Codable {
    case jpeg
    case png

    /// Detects the format from the first bytes of a file.
    /// - Returns: the format, or `nil` when the signature is neither JPEG nor PNG.
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat? where C.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }
}

/// What a header says about an image, read without decoding its pixels.
public struct ImageInfo: Sendable, Equatable {
    /// Container format.
    public var format: ImageFormat
    /// Width in pixels as stored (before any EXIF orientation).
    public var width: Int
    /// Height in pixels as stored.
    public var height: Int
    /// Components per pixel in the file.
    public var channels: Int
    /// Bits per sample.
    public var bitDepth: Int
    /// Palette entries (PNG), 0 otherwise.
    public var paletteSize: Int

    /// Creates an info record.
    public init(format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int, paletteSize: Int) {
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.paletteSize = paletteSize
    }
}

/// An 8-bit raster, row-major and interleaved (`channels` bytes per pixel).
public struct Raster: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Bytes per pixel: 1 (gray or index), 3 (RGB) or 4 (RGBA).
    public var channels: Int
    /// `width * height * channels` bytes.
    public var pixels: [UInt8]

    /// Creates a raster filled with `fill`.
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 0) {
        precondition(width >= 0 && height >= 0 && [1, 3, 4].contains(channels), "bad raster shape")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = [UInt8](repeating: fill, count: width * height * channels)
    }

    /// Wraps existing pixels.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "pixel count does not match shape")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}
