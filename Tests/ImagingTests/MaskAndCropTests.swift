import Foundation
import Testing
@testable import Imaging

@Suite struct MaskAndCropTests {
    func sampleMap() -> Raster {
        // 6x4 instance map: value 1 a 2x2 block, value 2 an L shape.
        Raster(width: 6, height: 4, channels: 1, pixels: [
            0, 1, 1, 0, 0, 0,
            0, 1, 1, 0, 2, 0,
            0, 0, 0, 0, 2, 0,
            0, 0, 0, 2, 2, 0,
        ])
    }

    @Test func instanceMasksBoxesAndFill() {
        let one = Mask(instanceMap: sampleMap(), value: 1)
        #expect(one.area == 4 && one.box == PixelBox(x0: 1, y0: 0, x1: 3, y1: 2))
        let two = Mask(instanceMap: sampleMap(), value: 2)
        let box = two.box!
        #expect(box == PixelBox(x0: 3, y0: 1, x1: 5, y1: 4) && two.area(in: box) == 4 && box.area == 6)
        #expect(Mask(instanceMap: sampleMap(), value: 3).box == nil)
        #expect(Mask(nonZeroOf: sampleMap()).area == 8)
        #expect(one.union(two).area == 8)
    }

    @Test func floatBoxesCoverTheirPixelsAndClamp() {
        #expect(PixelBox(covering: [1.2, 0.5, 3.01, 2.0], width: 6, height: 4) == PixelBox(x0: 1, y0: 0, x1: 4, y1: 2))
        #expect(PixelBox(covering: [-5, -5, 100, 100], width: 6, height: 4) == PixelBox(x0: 0, y0: 0, x1: 6, y1: 4))
        #expect(PixelBox(covering: [3, 3, 3, 3], width: 6, height: 4) == nil)
        #expect(PixelBox(covering: [Double.nan, 0, 1, 1], width: 6, height: 4) == nil)
    }

    @Test func subjectsAreCompositedOnWhiteCroppedAndPaddedSquare() {
        var image = Raster(width: 6, height: 4, channels: 3, fill: 10)
        for i in 0..<(6 * 4) { image.pixels[3 * i] = UInt8(i) }
        let mask = Mask(instanceMap: sampleMap(), value: 2)
        let crop = SubjectCrop.crop(image, mask: mask, box: mask.box!)
        // Box 2 wide x 3 high -> padded to 3x3, the extra column on the right.
        #expect(crop.width == 3 && crop.height == 3)
        #expect(crop[x: 0, y: 0, c: 0] == 255 && crop[x: 0, y: 0, c: 1] == 255)  // outside the mask: white
        #expect(crop[x: 1, y: 0, c: 0] == UInt8(1 * 6 + 4) && crop[x: 1, y: 0, c: 1] == 10)
        #expect(crop[x: 0, y: 2, c: 0] == UInt8(3 * 6 + 3))
        #expect((0..<3).allSatisfy { crop[x: 2, y: $0, c: 2] == 255 })    // padding: white
    }

    @Test func paddingPutsTheOddPixelAtTheEnd() {
        let tall = Raster(width: 2, height: 5, channels: 1, fill: 7).paddedToSquare(fill: 0)
        #expect(tall.width == 5 && tall.height == 5)
        #expect((0..<5).map { tall[x: $0, y: 0, c: 0] } == [0, 7, 7, 0, 0])
    }

    @Test func whiteFractionCountsPixelsAt230AndUp() {
        var image = Raster(width: 4, height: 1, channels: 3, fill: 229)
        image.pixels.replaceSubrange(0..<3, with: [230, 230, 230])
        image.pixels.replaceSubrange(3..<6, with: [255, 255, 229])
        #expect(SubjectCrop.whiteFraction(image) == 0.25)
    }

    @Test func cannyOfAFlatImageIsEmptyAndOfAStepIsALine() {
        #expect(Canny.edges(Raster(width: 10, height: 10, channels: 1, fill: 90)).pixels.allSatisfy { $0 == 0 })
        var step = Raster(width: 10, height: 6, channels: 1)
        for y in 0..<6 { for x in 5..<10 { step[x: x, y: y, c: 0] = 200 } }
        let edges = Canny.edges(step)
        #expect((0..<6).allSatisfy { y in (0..<10).filter { edges[x: $0, y: y, c: 0] == 255 }.count == 1 })
    }
}

/// Inputs the libFuzzer COCO target (fuzz/coco.swift) found crashing, kept as regressions.
@Suite struct COCOFuzzRegressionTests {
    @Test func aOnePointPolygonDoesNotTrap() throws {
        // Found by fuzz/coco.swift: one point (a zero-length edge) divided 0 by 0.
        let mask = try COCOMask.mask(.polygons([[-30, 186]]), width: 34, height: 46)
        #expect(mask.width == 34)
        #expect(throws: ImagingError.self) { _ = try COCOMask.mask(.polygons([[1, 2, 3]]), width: 8, height: 8) }
        #expect(throws: ImagingError.self) { _ = try COCOMask.mask(.polygons([[.nan, 2, 3, 4, 5, 6]]), width: 8, height: 8) }
        #expect(throws: ImagingError.self) { _ = try COCOMask.mask(.polygons([[1e9, 2, 3, 4, 5, 6]]), width: 8, height: 8) }
    }

    @Test func malformedRLEStringsAndHugeCountsDoNotTrap() throws {
        // Found by fuzz/coco.swift: long continuation runs overflowed the delta sum.
        let text = String(decoding: [0x01, 0x2a, 0x0a, 0x00] + Array("looooooooooooo'Ooooooooooooooo".utf8) + Array("IIIIIIIIIoooooooOptionalIIo".utf8), as: UTF8.self)
        let mask = try COCOMask.mask(.rleString(text, height: 10, width: 16), width: 16, height: 10)
        #expect(mask.width == 16 && mask.height == 10)
        let huge = COCOMask.mask(fromCounts: [Int.max, Int.max, -5, 3], width: 4, height: 4)
        #expect(huge.width == 4)
    }
}

@Suite struct COCOEncodingTests {
    @Test func runLengthsAreColumnMajorStartingWithZeros() {
        // 3x2 mask (w=3, h=2), columns: [1,0], [1,1], [0,0]
        let counts = COCOMask.counts(of: Mask(width: 3, height: 2, bits: [1, 1, 0, 0, 1, 0]))
        #expect(counts == [0, 1, 1, 2, 2])
        #expect(COCOMask.counts(of: Mask(width: 2, height: 2, bits: [1, 1, 1, 1])) == [0, 4])
        #expect(COCOMask.counts(of: Mask(width: 2, height: 1, bits: [0, 0])) == [2])
    }

    @Test func compressedStringMatchesPycocotools() {
        // Values printed by pycocotools 2.0 (`mask.encode`):
        //   encode(np.asfortranarray([[1,1,0],[0,1,0]], dtype=np.uint8))            -> b'01111'
        //   flat = np.zeros(150, np.uint8); flat[5:105] = 1; flat[108:148] = 1
        //   encode(np.asfortranarray(flat.reshape(15, 10).T))                      -> b'5T33TNO'
        #expect(COCOMask.string(fromCounts: [0, 1, 1, 2, 2]) == "01111")
        #expect(COCOMask.string(fromCounts: [5, 100, 3, 40, 2]) == "5T33TNO")
        #expect(COCOMask.counts(fromString: "5T33TNO") == [5, 100, 3, 40, 2])
    }

    /// The JSON form escapes the one character of the alphabet JSON needs escaped (`\`, 92).
    @Test func rleJSONParsesBackToTheMask() throws {
        // A first run of 44 zeros is written as the groups 44 + 48 = '\\' and '1'.
        let mask = COCOMask.mask(fromCounts: [44, 100, 1056], width: 40, height: 30)
        #expect(COCOMask.string(fromCounts: COCOMask.counts(of: mask)).hasPrefix("\\1"))
        let json = COCOMask.rleJSON(mask)
        #expect(json.contains("\\\\"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["size"] as? [Int] == [30, 40])
        let counts = try #require(object["counts"] as? String)
        #expect(try COCOMask.mask(.rleString(counts, height: 30, width: 40), width: 40, height: 30) == mask)
    }
}

@Suite struct WhiteFractionTests {
    /// The 16-pixel SIMD count equals the per-pixel definition, tails included.
    @Test func simdCountEqualsThePerPixelDefinition() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for (width, height) in [(1, 1), (5, 3), (16, 1), (17, 2), (31, 7), (64, 33)] {
            let pixels = (0..<(3 * width * height)).map { _ -> UInt8 in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                // Mostly around the level, so that every channel decides some pixels.
                return UInt8(truncatingIfNeeded: 226 + Int(state % 8)) &+ (state % 5 == 0 ? 100 : 0)
            }
            let image = Raster(width: width, height: height, channels: 3, pixels: pixels)
            var white = 0
            for i in 0..<(width * height) where pixels[3 * i] >= 230 && pixels[3 * i + 1] >= 230 && pixels[3 * i + 2] >= 230 { white += 1 }
            #expect(SubjectCrop.whiteFraction(image) == Double(white) / Double(width * height), "\(width)x\(height)")
        }
    }
}
