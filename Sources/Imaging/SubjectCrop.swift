internal import CImageCodecs
/// Subject crops as λ-ECLIPSE / Subject-Diffusion make them (`get_entity_image`): the subject
/// composited on white by its mask, cropped to its box, padded to a square with white.
public enum SubjectCrop {
    /// The cropped subject on white, square, ready for the CLIP recipe.
    /// - Parameters:
    ///   - image: RGB image.
    ///   - mask: the subject's mask, same size as the image.
    ///   - box: the crop box (clamped to the image by the caller).
    public static func crop(_ image: Raster, mask: Mask, box: PixelBox) -> Raster {
        precondition(image.channels == 3 && mask.width == image.width && mask.height == image.height, "crop inputs")
        var out = Raster(width: box.width, height: box.height, channels: 3, fill: 255)
        for y in 0..<box.height {
            let sy = box.y0 + y
            for x in 0..<box.width {
                let sx = box.x0 + x
                guard mask.bits[sy * image.width + sx] != 0 else { continue }
                let s = (sy * image.width + sx) * 3, d = (y * box.width + x) * 3
                out.pixels[d] = image.pixels[s]
                out.pixels[d + 1] = image.pixels[s + 1]
                out.pixels[d + 2] = image.pixels[s + 2]
            }
        }
        return out.paddedToSquare(fill: 255)
    }

    /// The fraction of pixels whose channels are all at least `level` (Subject-Diffusion counts
    /// `ToTensor(image) > 0.9` on every channel, i.e. values of 230 and up).
    public static func whiteFraction(_ image: Raster, level: UInt8 = 230) -> Double {
        precondition(image.channels == 3, "whiteFraction takes RGB")
        let white = image.pixels.withUnsafeBufferPointer { ic_count_white($0.baseAddress, image.width * image.height, level) }
        return Double(white) / Double(max(1, image.width * image.height))
    }
}
