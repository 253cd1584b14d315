internal import CImageCodecs

/// JPEG and PNG decoding and encoding over libjpeg-turbo and libpng.
///
/// This is the only file that touches the codec C APIs. Every call is safe on any input:
/// corrupt or truncated data gives an ``ImagingError``, never a crash.
public enum ImageCodec {
    /// Reads the header of a JPEG or PNG file.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - checkEnd: also require the end marker (JPEG EOI, PNG IEND) near the end of the file,
    ///     a cheap test that catches truncated files without decoding them.
    /// - Throws: ``ImagingError`` with `.notAnImage`, `.corrupt` or `.truncated`.
    public static func probe(_ bytes: [UInt8], checkEnd: Bool = true) throws -> ImageInfo {
        guard let format = ImageFormat.sniff(bytes) else {
            throw ImagingError(.notAnImage, "not a JPEG or PNG file (unknown signature)")
        }
        var info = ic_info()
        var err = [CChar](repeating: 0, count: Int(IC_ERRLEN))
        let rc = bytes.withUnsafeBufferPointer { buf in
            format == .jpeg
                ? ic_jpeg_probe(buf.baseAddress, buf.count, &info, &err)
                : ic_png_probe(buf.baseAddress, buf.count, &info, &err)
        }
        guard rc == 0 else { throw ImagingError(.corrupt, message(err)) }
        guard info.width > 0, info.height > 0 else {
            throw ImagingError(.corrupt, "image has zero width or height")
        }
        if checkEnd && !hasEndMarker(bytes, format: format) {
            throw ImagingError(.truncated, format == .jpeg
                ? "JPEG has no end-of-image marker (file truncated)"
                : "PNG has no IEND chunk (file truncated)")
        }
        return ImageInfo(format: format, width: Int(info.width), height: Int(info.height),
                         channels: Int(info.channels), bitDepth: Int(info.bit_depth),
                         paletteSize: Int(info.palette_size))
    }

    /// Decodes a JPEG or PNG file to RGB (gray, palette and CMYK converted; alpha composited on
    /// white).
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - maxPixels: refuse images with more pixels than this, checked from the header.
    ///   - jpegScale: DCT scaling denominator for JPEG (1, 2, 4 or 8).
    ///   - applyOrientation: rotate/flip a JPEG upright by its EXIF orientation (as Pillow's
    ///     `ImageOps.exif_transpose`). Off by default: `Image.open` does not, nor do the CLIP
    ///     processors, and masks are drawn on the stored pixels.
    /// - Returns: a 3-channel raster.
    /// - Throws: ``ImagingError``.
    public static func decodeRGB(_ bytes: [UInt8], maxPixels: Int = Int.max, jpegScale: Int = 1,
                                 applyOrientation: Bool = false) throws -> Raster {
        let raster = try decodeStoredRGB(bytes, maxPixels: maxPixels, jpegScale: jpegScale)
        guard applyOrientation, ImageFormat.sniff(bytes) == .jpeg else { return raster }
        return raster.oriented(EXIF.orientation(ofJPEG: bytes))
    }

    /// The largest DCT scaling denominator (8, 4, 2 or 1) that keeps the decoded image at least
    /// `width` x `height`, as Pillow's `draft` picks it.
    public static func draftScale(imageWidth: Int, imageHeight: Int, width: Int, height: Int) -> Int {
        let scale = min(imageWidth / max(1, width), imageHeight / max(1, height))
        return [8, 4, 2, 1].first { scale >= $0 } ?? 1
    }

    static func decodeStoredRGB(_ bytes: [UInt8], maxPixels: Int, jpegScale: Int) throws -> Raster {
        let info = try capped(bytes, maxPixels: maxPixels)
        var err = [CChar](repeating: 0, count: Int(IC_ERRLEN))
        switch info.format {
        case .jpeg:
            return try decodeJPEG(bytes, scale: jpegScale, gray: false)
        case .png:
            var rgba = [UInt8](repeating: 0, count: info.width * info.height * 4)
            let rc = bytes.withUnsafeBufferPointer { src in
                rgba.withUnsafeMutableBufferPointer { dst in
                    ic_png_decode(src.baseAddress, src.count, 0, dst.baseAddress, dst.count, &err)
                }
            }
            guard rc == 0 else { throw decodeError(err) }
            var rgb = [UInt8](repeating: 0, count: info.width * info.height * 3)
            for i in 0..<(info.width * info.height) {
                let a = Int(rgba[4 * i + 3])
                for c in 0..<3 {
                    // Composite on white: v*a + 255*(1-a), rounded.
                    rgb[3 * i + c] = UInt8((Int(rgba[4 * i + c]) * a + 255 * (255 - a) + 127) / 255)
                }
            }
            return Raster(width: info.width, height: info.height, channels: 3, pixels: rgb)
        }
    }

    /// Decodes to one gray channel: for JPEG libjpeg's own gray output (the Y component, as
    /// OpenCV's `imread(path, IMREAD_GRAYSCALE)` returns), for PNG the RGB image converted with
    /// OpenCV's `RGB2GRAY` weights.
    /// - Throws: ``ImagingError``.
    public static func decodeGray(_ bytes: [UInt8], maxPixels: Int = Int.max) throws -> Raster {
        let info = try capped(bytes, maxPixels: maxPixels)
        guard info.format == .jpeg else { return try decodeRGB(bytes, maxPixels: maxPixels).grayscale() }
        return try decodeJPEG(bytes, scale: 1, gray: true)
    }

    /// The header, refusing images over `maxPixels` before any pixel is decoded.
    static func capped(_ bytes: [UInt8], maxPixels: Int) throws -> ImageInfo {
        let info = try probe(bytes, checkEnd: false)
        guard info.width * info.height <= maxPixels else {
            throw ImagingError(.tooLarge, "\(info.width)x\(info.height) exceeds the cap of \(maxPixels) pixels")
        }
        return info
    }

    /// libjpeg decoding to RGB or to its own gray output, DCT-scaled by 1/`scale`.
    static func decodeJPEG(_ bytes: [UInt8], scale: Int, gray: Bool) throws -> Raster {
        var err = [CChar](repeating: 0, count: Int(IC_ERRLEN))
        var w: Int32 = 0, h: Int32 = 0
        let denominator = Int32([1, 2, 4, 8].contains(scale) ? scale : 1)
        let sized = bytes.withUnsafeBufferPointer {
            ic_jpeg_scaled_size($0.baseAddress, $0.count, denominator, &w, &h, &err)
        }
        guard sized == 0 else { throw ImagingError(.corrupt, message(err)) }
        let channels = gray ? 1 : 3
        var warnings: Int32 = 0, rc: Int32 = 0
        // libjpeg writes every row (a memory source never suspends; a truncated stream is padded),
        // or the result is thrown away: no need to zero the buffer first.
        let out = [UInt8](unsafeUninitializedCapacity: Int(w) * Int(h) * channels) { dst, count in
            rc = bytes.withUnsafeBufferPointer { src in
                ic_jpeg_decode(src.baseAddress, src.count, denominator, gray ? 1 : 0, dst.baseAddress, dst.count,
                               &warnings, &err)
            }
            count = dst.count
        }
        guard rc == 0 else { throw ImagingError(.corrupt, message(err)) }
        if warnings > 0 && !hasEndMarker(bytes, format: .jpeg) {
            throw ImagingError(.truncated, "JPEG data ends early (file truncated)")
        }
        return Raster(width: Int(w), height: Int(h), channels: channels, pixels: out)
    }

    /// Decodes a palette or gray PNG to its raw 8-bit sample values (instance indices for a
    /// palette instance map).
    /// - Throws: ``ImagingError``; `.corrupt` for colour PNGs.
    public static func decodeIndexMap(_ bytes: [UInt8], maxPixels: Int = Int.max) throws -> Raster {
        try decodeIndexMap(bytes, maxPixels: maxPixels, path: .either)
    }

    /// Which decoder reads an index map: the libdeflate path with libpng for everything it
    /// does not take, or one of them alone (tests compare them).
    enum IndexMapPath: Int32 { case either = 1, libpng = 2, libdeflate = 3 }

    static func decodeIndexMap(_ bytes: [UInt8], maxPixels: Int, path: IndexMapPath) throws -> Raster {
        let info = try capped(bytes, maxPixels: maxPixels)
        guard info.format == .png else { throw ImagingError(.notAnImage, "an index map must be a PNG") }
        var err = [CChar](repeating: 0, count: Int(IC_ERRLEN))
        var rc: Int32 = 0
        // Every byte is written by the decoder, or the result is thrown away.
        let out = [UInt8](unsafeUninitializedCapacity: info.width * info.height) { dst, count in
            rc = bytes.withUnsafeBufferPointer { src in
                ic_png_decode(src.baseAddress, src.count, path.rawValue, dst.baseAddress, dst.count, &err)
            }
            count = dst.count
        }
        guard rc == 0 else { throw decodeError(err) }
        return Raster(width: info.width, height: info.height, channels: 1, pixels: out)
    }

    /// Encodes a raster as PNG.
    /// - Parameters:
    ///   - raster: 1, 3 or 4 channels.
    ///   - palette: RGB triples; with a 1-channel raster, writes a palette image whose pixel
    ///     values are indices into it.
    ///   - compressionLevel: zlib level 0-9.
    /// - Throws: ``ImagingError`` `.encode`.
    /// How zlib searches for matches in the filtered rows.
    public enum PNGStrategy: Int32, Sendable {
        /// libpng's own choice (Z_FILTERED for filtered rows), as Pillow and most writers use.
        case standard = -1
        /// Z_RLE: matches at distance 1 only. On subject crops (a photo on white) 2.5x faster
        /// than the standard strategy at 1 % smaller files; on whole photos 4.7x faster at
        /// 6.5 % larger (measured 2026-12-04, docs/BENCHMARKS.md). Pixels are the same either way.
        case rle = 3
    }

    public static func encodePNG(_ raster: Raster, palette: [UInt8]? = nil, compressionLevel: Int = 6,
                                 strategy: PNGStrategy = .standard) throws -> [UInt8] {
        var err = [CChar](repeating: 0, count: Int(IC_ERRLEN))
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = raster.pixels.withUnsafeBufferPointer { px in
            if let palette {
                return palette.withUnsafeBufferPointer { pal in
                    ic_png_encode(px.baseAddress, Int32(raster.width), Int32(raster.height), Int32(raster.channels),
                                  pal.baseAddress, Int32(pal.count / 3), Int32(compressionLevel), strategy.rawValue, &out, &length, &err)
                }
            }
            return ic_png_encode(px.baseAddress, Int32(raster.width), Int32(raster.height), Int32(raster.channels),
                                 nil, 0, Int32(compressionLevel), strategy.rawValue, &out, &length, &err)
        }
        return try take(rc, out, length, err)
    }

    /// Encodes a 1- or 3-channel raster as baseline JPEG.
    /// - Throws: ``ImagingError`` `.encode`.
    public static func encodeJPEG(_ raster: Raster, quality: Int = 90) throws -> [UInt8] {
        var err = [CChar](repeating: 0, count: Int(IC_ERRLEN))
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = raster.pixels.withUnsafeBufferPointer { px in
            ic_jpeg_encode(px.baseAddress, Int32(raster.width), Int32(raster.height), Int32(raster.channels),
                           Int32(quality), &out, &length, &err)
        }
        return try take(rc, out, length, err)
    }

    private static func take(_ rc: Int32, _ out: UnsafeMutablePointer<UInt8>?, _ length: Int, _ err: [CChar]) throws -> [UInt8] {
        guard rc == 0, let out else { throw ImagingError(.encode, message(err)) }
        defer { ic_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }

    private static func decodeError(_ err: [CChar]) -> ImagingError {
        let text = message(err)
        return ImagingError(text.contains("truncated") ? .truncated : .corrupt, text)
    }

    private static func message(_ err: [CChar]) -> String {
        let text = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown codec error" : text
    }

    /// Whether the file's end marker lies within its last 4 KiB (JPEGs may carry trailing bytes).
    static func hasEndMarker(_ bytes: [UInt8], format: ImageFormat) -> Bool {
        let tail = bytes.suffix(4096)
        let marker: [UInt8] = format == .jpeg ? [0xFF, 0xD9] : Array("IEND".utf8)
        guard tail.count >= marker.count else { return false }
        var i = tail.endIndex - marker.count
        while i >= tail.startIndex {
            if tail[i] == marker[0] && Array(tail[i..<(i + marker.count)]) == marker { return true }
            i -= 1
        }
        return false
    }
}
