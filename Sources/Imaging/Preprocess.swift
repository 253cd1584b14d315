/// Model input preprocessing exactly as the reference pipelines do it.
///
/// - `clip`: Hugging Face `CLIPImageProcessor` (OpenAI CLIP, OpenCLIP bigG / Kandinsky 2.2
///   prior): shortest side to 224 with Pillow BICUBIC (new long side `int(224 * long / short)`),
///   centre crop 224 with `top = (h - 224) // 2`, `/255`, normalise with the CLIP mean/std.
/// - `dino`: torchvision `Resize(256, BICUBIC)` on a PIL image (the same Pillow resize), then
///   `CenterCrop(224)` with `top = int(round((h - 224) / 2))` (round half to even), `ToTensor`,
///   `Normalize` with the ImageNet mean/std.
public struct PreprocessRecipe: Sendable, Equatable {
    /// Recipe name.
    public var name: String
    /// Shortest side after resizing.
    public var resizeShortestSide: Int
    /// Square crop side.
    public var cropSize: Int
    /// Resampling filter.
    public var filter: Resample.Filter
    /// Crop offset rounding: HF floors, torchvision rounds half to even.
    public var roundsCropOffset: Bool
    /// HF rescales in float64 (`v * (1/255)`) then casts to float32; torchvision divides in float32.
    public var rescalesInDouble: Bool
    /// Per-channel mean and std applied after `/255`.
    public var mean: [Float]
    public var std: [Float]
    /// Resize straight to `cropSize` x `cropSize` (aspect not kept, nothing cropped), as
    /// ViTImageProcessor does for CLIPSeg.
    public var resizesToSquare = false

    /// OpenAI CLIP / OpenCLIP processor.
    public static let clip = PreprocessRecipe(name: "clip", resizeShortestSide: 224, cropSize: 224, filter: .bicubic,
                                              roundsCropOffset: false, rescalesInDouble: true,
                                              mean: [0.48145466, 0.4578275, 0.40821073],
                                              std: [0.26862954, 0.26130258, 0.27577711])
    /// DINO ViT-S/16 evaluation transform (DreamBench DINO score).
    public static let dino = PreprocessRecipe(name: "dino", resizeShortestSide: 256, cropSize: 224, filter: .bicubic,
                                              roundsCropOffset: true, rescalesInDouble: false,
                                              mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    /// CLIPSeg's processor (ViTImageProcessor of CIDAS/clipseg-rd64-refined): bilinear resize to
    /// 352 x 352, rescale, ImageNet mean and std.
    public static let clipseg = PreprocessRecipe(name: "clipseg", resizeShortestSide: 352, cropSize: 352, filter: .bilinear,
                                                 roundsCropOffset: false, rescalesInDouble: true,
                                                 mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resizesToSquare: true)

    /// A recipe by name.
    public static func named(_ name: String) -> PreprocessRecipe? {
        [clip, dino, clipseg].first { $0.name == name }
    }

    /// Resize + centre crop, as uint8 RGB (what `--save-resized` writes).
    public func resizedAndCropped(_ image: Raster) -> Raster {
        let rgb = image.rgb()
        if resizesToSquare { return Resample.resize(rgb, width: cropSize, height: cropSize, filter: filter) }
        let (w, h) = (rgb.width, rgb.height)
        let short = min(w, h), long = max(w, h)
        // int(size * long / short) in double precision, as both references compute it.
        let newLong = Int(Double(resizeShortestSide) * Double(long) / Double(short))
        let (nw, nh) = w <= h ? (resizeShortestSide, newLong) : (newLong, resizeShortestSide)
        let resized = Resample.resize(rgb, width: nw, height: nh, filter: filter)
        return resized.cropped(x: offset(nw), y: offset(nh), width: cropSize, height: cropSize)
    }

    func offset(_ size: Int) -> Int {
        guard roundsCropOffset else { return (size - cropSize) / 2 }
        return Int((Double(size - cropSize) / 2).rounded(.toNearestOrEven))
    }

    /// The model input: `[3, crop, crop]` float32, channel-major, normalised.
    public func pixelValues(_ image: Raster) -> [Float] {
        normalise(resizedAndCropped(image))
    }

    /// `(v / 255 - mean) / std` per channel, in the references' float32 order of operations.
    /// A byte has 256 values: each channel's results are computed once into a table and looked up.
    public func normalise(_ image: Raster) -> [Float] {
        precondition(image.channels == 3, "normalise takes RGB")
        let plane = image.width * image.height
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            let m = mean[c], s = std[c]
            for byte in 0..<256 {
                let v = rescalesInDouble ? Float(Double(byte) * (1.0 / 255.0)) : Float(byte) / 255
                table[c * 256 + byte] = (v - m) / s
            }
        }
        return [Float](unsafeUninitializedCapacity: 3 * plane) { out, count in
            image.pixels.withUnsafeBufferPointer { p in
                table.withUnsafeBufferPointer { t in
                    for i in 0..<plane {
                        out[i] = t[Int(p[3 * i])]
                        out[plane + i] = t[256 + Int(p[3 * i + 1])]
                        out[2 * plane + i] = t[512 + Int(p[3 * i + 2])]
                    }
                }
            }
            count = 3 * plane
        }
    }
}
