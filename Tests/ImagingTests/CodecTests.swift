import Testing
@testable import Imaging

@Suite struct CodecTests {
    func gradient(width: Int, height: Int, channels: Int) -> Raster {
        var r = Raster(width: width, height: height, channels: channels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels { r.pixels[(y * width + x) * channels + c] = UInt8((x * 7 + y * 3 + c * 60) % 256) }
            }
        }
        return r
    }

    @Test(arguments: [1, 3, 4])
    func pngRoundTripIsExact(channels: Int) throws {
        let image = gradient(width: 37, height: 21, channels: channels)
        let png = try ImageCodec.encodePNG(image)
        let info = try ImageCodec.probe(png)
        #expect(info.format == .png && info.width == 37 && info.height == 21 && info.channels == channels)
        let rgb = try ImageCodec.decodeRGB(png)
        #expect(rgb.channels == 3 && rgb.width == 37 && rgb.height == 21)
        if channels == 3 { #expect(rgb.pixels == image.pixels) }
        if channels == 1 {
            for i in 0..<(37 * 21) { #expect(rgb.pixels[3 * i] == image.pixels[i] && rgb.pixels[3 * i + 2] == image.pixels[i]) }
        }
    }

    @Test func alphaIsCompositedOnWhite() throws {
        let rgba = Raster(width: 1, height: 2, channels: 4, pixels: [255, 0, 0, 0, 0, 0, 255, 128])
        let rgb = try ImageCodec.decodeRGB(try ImageCodec.encodePNG(rgba))
        #expect(rgb.pixels[0..<3] == [255, 255, 255])
        // 0 * 128/255 + 255 * 127/255 = 127.0 -> 127; blue 255.
        #expect(rgb.pixels[3..<6] == [127, 127, 255])
    }

    @Test func paletteIndexMapKeepsIndices() throws {
        var map = Raster(width: 5, height: 3, channels: 1)
        for i in map.pixels.indices { map.pixels[i] = UInt8(i % 4) }
        let palette: [UInt8] = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]
        let png = try ImageCodec.encodePNG(map, palette: palette)
        #expect(try ImageCodec.probe(png).paletteSize == 4)
        #expect(try ImageCodec.decodeIndexMap(png).pixels == map.pixels)
        let rgb = try ImageCodec.decodeRGB(png)
        #expect(rgb.pixels[3..<6] == [255, 0, 0])
    }

    @Test func jpegRoundTripIsClose() throws {
        var image = Raster(width: 64, height: 48, channels: 3)
        for y in 0..<48 {
            for x in 0..<64 { for c in 0..<3 { image.pixels[(y * 64 + x) * 3 + c] = UInt8(x * 2 + y + c * 20) } }
        }
        let jpeg = try ImageCodec.encodeJPEG(image, quality: 95)
        let info = try ImageCodec.probe(jpeg)
        #expect(info.format == .jpeg && info.width == 64 && info.height == 48 && info.channels == 3)
        let decoded = try ImageCodec.decodeRGB(jpeg)
        let meanError = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / image.pixels.count
        #expect(meanError <= 2)
        let half = try ImageCodec.decodeRGB(jpeg, jpegScale: 2)
        #expect(half.width == 32 && half.height == 24)
    }

    @Test func grayJPEGDecodesToRGB() throws {
        let jpeg = try ImageCodec.encodeJPEG(gradient(width: 16, height: 16, channels: 1))
        let rgb = try ImageCodec.decodeRGB(jpeg)
        #expect(rgb.channels == 3)
        #expect(rgb.pixels[0] == rgb.pixels[1] && rgb.pixels[1] == rgb.pixels[2])
    }

    @Test func badInputGivesTypedErrors() throws {
        let jpeg = try ImageCodec.encodeJPEG(gradient(width: 64, height: 64, channels: 3))
        let png = try ImageCodec.encodePNG(gradient(width: 64, height: 64, channels: 3))
        func code(_ body: () throws -> Void) -> ImagingError.Code? {
            do { try body(); return nil } catch let error as ImagingError { return error.code } catch { return nil }
        }
        #expect(code { _ = try ImageCodec.probe(Array("hello".utf8)) } == .notAnImage)
        #expect(code { _ = try ImageCodec.probe([]) } == .notAnImage)
        #expect(code { _ = try ImageCodec.probe(Array(jpeg.prefix(jpeg.count / 2))) } == .truncated)
        #expect(code { _ = try ImageCodec.probe(Array(png.prefix(png.count / 2))) } == .truncated)
        #expect(code { _ = try ImageCodec.decodeRGB(Array(png.prefix(png.count / 2))) } == .truncated)
        #expect(code { _ = try ImageCodec.probe(Array(jpeg.prefix(20))) } == .corrupt)
        var broken = png
        broken[20] ^= 0xFF // IHDR width byte: CRC mismatch
        #expect(code { _ = try ImageCodec.probe(broken) } == .corrupt)
        #expect(code { _ = try ImageCodec.decodeRGB(jpeg, maxPixels: 100) } == .tooLarge)
        #expect(code { _ = try ImageCodec.decodeIndexMap(png) } == .corrupt)
    }

    /// Every strict prefix of a valid file is refused with the codec's own error (never accepted,
    /// never another error type), and the whole file still decodes.
    @Test func everyPrefixOfAFileFailsCleanly() throws {
        let jpeg = try ImageCodec.encodeJPEG(gradient(width: 24, height: 24, channels: 3))
        let png = try ImageCodec.encodePNG(gradient(width: 24, height: 24, channels: 3))
        for (name, file) in [("jpeg", jpeg), ("png", png)] {
            for length in 0..<file.count {
                do {
                    _ = try ImageCodec.decodeRGB(Array(file.prefix(length)))
                    Issue.record("\(name): a \(length)-byte prefix of \(file.count) bytes was accepted")
                } catch is ImagingError {
                } catch {
                    Issue.record("\(name): a \(length)-byte prefix threw \(type(of: error)), not ImagingError: \(error)")
                }
            }
            #expect(try ImageCodec.decodeRGB(file).width == 24)
        }
    }
}
