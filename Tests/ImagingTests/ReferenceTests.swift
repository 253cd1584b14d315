import BuildSupport
import Foundation
@testable import Imaging
import PipelineTestSupport
import Testing

/// Outputs compared with Pillow, transformers, torchvision's steps, pycocotools and OpenCV
/// (Fixtures/make_fixtures.py writes the expectations).
@Suite struct ReferenceTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    nonisolated(unsafe) static let manifest: [String: Any] = {
        let data = FileManager.default.contents(atPath: fixtures + "/fixtures.json") ?? Data("{}".utf8)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }()
    static func cases(_ key: String) -> [[String: Any]] { manifest[key] as? [[String: Any]] ?? [] }

    static func load(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + name)))
    }

    static func image(_ name: String) throws -> Raster {
        let bytes = try load(name)
        let info = try ImageCodec.probe(bytes)
        return info.channels == 1 && info.format == .png ? try ImageCodec.decodeIndexMap(bytes) : try ImageCodec.decodeRGB(bytes)
    }

    static func sha(_ floats: [Float]) -> String {
        floats.withUnsafeBytes { SHA256.hex(Array($0)) }
    }

    @Test func fixturesArePresent() {
        #expect(Self.cases("resize").count >= 30 && Self.cases("coco").count >= 8 && Self.cases("canny").count >= 4)
    }

    @Test(arguments: 0..<32)
    func resizeMatchesPillowExactly(index: Int) throws {
        let cases = Self.cases("resize")
        guard index < cases.count else { return }
        let c = cases[index]
        let input = try Self.image(c["input"] as! String)
        let expected = try Self.image(c["expected"] as! String)
        let filter = Resample.Filter(rawValue: c["filter"] as! String)!
        var box: (Float, Float, Float, Float)?
        if let b = c["box"] as? [Double] { box = (Float(b[0]), Float(b[1]), Float(b[2]), Float(b[3])) }
        let out = Resample.resize(input, width: c["width"] as! Int, height: c["height"] as! Int, filter: filter, box: box)
        #expect(out.width == expected.width && out.height == expected.height)
        let differing = zip(out.pixels, expected.pixels).filter { $0 != $1 }.count
        #expect(differing == 0, "\(c["expected"]!): \(differing) bytes differ")
    }

    @Test(arguments: 0..<4)
    func recipesMatchTheReferenceProcessors(index: Int) throws {
        let cases = Self.cases("recipes")
        guard index < cases.count else { return }
        let c = cases[index]
        let image = try ImageCodec.decodeRGB(try Self.load(c["input"] as! String))
        #expect(SHA256.hex(image.pixels) == c["decoded_sha256"] as? String, "decoded pixels differ from Pillow's")
        let indices = c["clip_index"] as! [Int]
        for (recipe, key) in [(PreprocessRecipe.clip, "clip"), (.dino, "dino")] {
            let values = recipe.pixelValues(image)
            #expect(values.count == 3 * 224 * 224)
            let expected = c["\(key)_values"] as! [Double]
            let worst = zip(indices, expected).map { abs(Double(values[$0]) - $1) }.max() ?? 0
            #expect(worst <= 1e-6, "\(key) on \(c["input"]!): max error \(worst)")
            if Self.sha(values) != c["\(key)_sha256"] as? String {
                // Not bit-identical: allowed only within one float32 ulp (order of operations).
                #expect(worst <= 2.5e-7, "\(key) on \(c["input"]!) is not bit-identical")
            }
        }
        // CLIPSeg (ViTImageProcessor, PIL backend): Pillow's bilinear 352x352 exactly, then the same
        // rescale and normalisation.
        let seg = PreprocessRecipe.clipseg
        #expect(SHA256.hex(seg.resizedAndCropped(image).pixels) == c["clipseg_resized_sha256"] as? String,
                "clipseg resize on \(c["input"]!) differs from Pillow's")
        let values = seg.pixelValues(image)
        #expect(values.count == 3 * 352 * 352)
        let worst = zip(c["clipseg_index"] as! [Int], c["clipseg_values"] as! [Double]).map { abs(Double(values[$0]) - $1) }.max() ?? 0
        #expect(worst <= 1e-6, "clipseg on \(c["input"]!): max error \(worst)")
        if Self.sha(values) != c["clipseg_sha256"] as? String {
            #expect(worst <= 2.5e-7, "clipseg on \(c["input"]!) is not bit-identical")
        }
    }

    @Test func dreambenchPhotosMatchWhenPresent() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/data/dreambench/images").standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: folder) else {
            SkippedCheck.report("Pillow-exact preprocessing of the DreamBench photos", cause: .sharedData, because: "\(folder) is absent")
            return
        }
        var decodedEqual = 0, clipEqual = 0, dinoEqual = 0, grayEqual = 0, cannyEqual = 0
        let cases = Self.cases("dreambench")
        for c in cases {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + (c["file"] as! String))))
            let image = try ImageCodec.decodeRGB(bytes)
            if SHA256.hex(image.pixels) == c["decoded_sha256"] as? String { decodedEqual += 1 }
            let clip = PreprocessRecipe.clip.pixelValues(image)
            if Self.sha(clip) == c["clip_sha256"] as? String { clipEqual += 1 }
            #expect(abs(clip.reduce(0.0) { $0 + Double($1) } - (c["clip_sum"] as! Double)) < 1e-2, "\(c["file"]!)")
            if SHA256.hex(PreprocessRecipe.dino.resizedAndCropped(image).pixels) == c["dino_crop_sha256"] as? String { dinoEqual += 1 }
            let gray = try ImageCodec.decodeGray(bytes)
            if SHA256.hex(gray.pixels) == c["imread_gray_sha256"] as? String { grayEqual += 1 }
            if SHA256.hex(Canny.edges(gray).pixels) == c["canny_sha256"] as? String { cannyEqual += 1 }
        }
        print("dreambench: \(cases.count) photos; identical decode \(decodedEqual), CLIP \(clipEqual), DINO crop \(dinoEqual), gray \(grayEqual), Canny \(cannyEqual)")
        #expect(decodedEqual == cases.count && dinoEqual == cases.count && grayEqual == cases.count && cannyEqual == cases.count)
        #expect(clipEqual == cases.count)
    }

    @Test(arguments: 0..<10)
    func cocoMasksMatchPycocotools(index: Int) throws {
        let cases = Self.cases("coco")
        guard index < cases.count else { return }
        let c = cases[index]
        let (h, w) = (c["height"] as! Int, c["width"] as! Int)
        let segmentation: COCOMask.Segmentation
        if let polygons = c["segmentation"] as? [[Double]] {
            segmentation = .polygons(polygons)
        } else {
            let rle = c["segmentation"] as! [String: Any]
            if let s = rle["counts"] as? String { segmentation = .rleString(s, height: h, width: w) } else {
                segmentation = .rleCounts(rle["counts"] as! [Int], height: h, width: w)
            }
        }
        let mask = try COCOMask.mask(segmentation, width: w, height: h)
        let expected = COCOMask.mask(fromCounts: COCOMask.counts(fromString: c["expected_rle"] as! String), width: w, height: h)
        #expect(mask.area == c["area"] as! Int)
        #expect(mask == expected)
        // Encoding gives pycocotools' own string back (`encode` → `counts`).
        #expect(COCOMask.string(fromCounts: COCOMask.counts(of: mask)) == c["expected_rle"] as! String)
    }

    @Test(arguments: 0..<4)
    func cannyMatchesOpenCV(index: Int) throws {
        let cases = Self.cases("canny")
        guard index < cases.count else { return }
        let c = cases[index]
        let bytes = try Self.load(c["input"] as! String)
        let rgb = try ImageCodec.decodeRGB(bytes)
        // Case 4 takes Pillow's "L" conversion as its input, which is not OpenCV's; skip the gray step there.
        let gray: Raster
        if c["gray"] as? String == "pillow" {
            var g = Raster(width: rgb.width, height: rgb.height, channels: 1)
            for i in 0..<(rgb.width * rgb.height) {
                // Pillow's L: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16
                let v = Int(rgb.pixels[3 * i]) * 19595 + Int(rgb.pixels[3 * i + 1]) * 38470 + Int(rgb.pixels[3 * i + 2]) * 7471
                g.pixels[i] = UInt8((v + 0x8000) >> 16)
            }
            gray = g
        } else {
            gray = rgb.grayscale()
            if let expectedGray = (Self.cases("gray").first { $0["input"] as? String == c["input"] as? String }) {
                #expect(SHA256.hex(gray.pixels) == expectedGray["sha256"] as? String, "RGB2GRAY differs")
            }
        }
        let edges = Canny.edges(gray, low: c["low"] as! Double, high: c["high"] as! Double)
        let expected = try Self.image(c["expected"] as! String)
        let differing = zip(edges.pixels, expected.pixels).filter { $0 != $1 }.count
        #expect(differing == 0, "\(c["expected"]!): \(differing) pixels differ of \(edges.pixels.count)")
    }
}

@Suite struct OrientationTests {
    @Test(arguments: 1...8)
    func exifTransposeMatchesPillow(orientation: Int) throws {
        let c = try #require(ReferenceTests.cases("exif").first { $0["orientation"] as? Int == orientation })
        let bytes = try ReferenceTests.load(c["input"] as! String)
        #expect(EXIF.orientation(ofJPEG: bytes) == orientation)
        let upright = try ImageCodec.decodeRGB(bytes, applyOrientation: true)
        #expect(upright.width == c["width"] as! Int && upright.height == c["height"] as! Int)
        #expect(SHA256.hex(upright.pixels) == c["sha256"] as? String)
        let stored = try ImageCodec.decodeRGB(bytes)
        #expect(stored.width == 7 && stored.height == 5)
    }

    @Test func draftScaleFollowsPillow() {
        #expect(ImageCodec.draftScale(imageWidth: 2000, imageHeight: 1500, width: 224, height: 224) == 4)
        #expect(ImageCodec.draftScale(imageWidth: 2000, imageHeight: 1800, width: 224, height: 224) == 8)
        #expect(ImageCodec.draftScale(imageWidth: 400, imageHeight: 300, width: 224, height: 224) == 1)
        #expect(ImageCodec.draftScale(imageWidth: 500, imageHeight: 460, width: 224, height: 224) == 2)
    }
}

@Suite struct FormatTests {
    @Test(arguments: ["fmt_gray16.png", "fmt_gray1.png", "fmt_rgba.png", "fmt_la.png", "fmt_palette_trns.png", "fmt_cmyk.jpg"])
    func variantsDecodeToTheExpectedRGB(file: String) throws {
        let c = try #require(ReferenceTests.cases("formats").first { $0["input"] as? String == file })
        let rgb = try ImageCodec.decodeRGB(try ReferenceTests.load(file))
        #expect(rgb.width == 23 && rgb.height == 17 && rgb.channels == 3)
        #expect(SHA256.hex(rgb.pixels) == c["sha256"] as? String, "\(file)")
    }
}
