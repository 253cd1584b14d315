@testable import Imaging
import Testing

/// The AVX2 resampling passes against the portable loops: the same bytes for every filter,
/// channel count, shrink and enlargement, source box and pass order (the portable loops are
/// the ones ReferenceTests also check against Pillow's files).
@Suite struct ResampleKernelTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func raster(width: Int, height: Int, channels: Int, seed: UInt64) -> Raster {
        var g = Generator(state: seed)
        var image = Raster(width: width, height: height, channels: channels)
        // Smooth areas, hard edges and saturated values, so clipping at 0 and 255 is exercised.
        for i in 0..<image.pixels.count {
            let r = g.below(10)
            image.pixels[i] = r < 3 ? 0 : r < 6 ? 255 : UInt8(g.below(256))
        }
        return image
    }

    @Test(arguments: Resample.Filter.allCases)
    func avx2PassesGiveThePortableBytes(filter: Resample.Filter) {
        var g = Generator(state: 7)
        var compared = 0
        for trial in 0..<60 {
            let channels = [1, 3, 3, 4][trial % 4]
            let width = 1 + g.below(trial < 30 ? 90 : 700), height = 1 + g.below(trial < 30 ? 90 : 400)
            let image = Self.raster(width: width, height: height, channels: channels, seed: UInt64(trial))
            let outWidth = 1 + g.below(trial % 3 == 0 ? 3 * width : max(1, width / 2 + 1))
            let outHeight = 1 + g.below(trial % 5 == 0 ? 3 * height : max(1, height / 2 + 1))
            var box: (Float, Float, Float, Float)?
            if trial % 7 == 3 {
                let x0 = Float(g.below(max(1, width / 3))) + 0.25, y0 = Float(g.below(max(1, height / 3)))
                box = (x0, y0, max(x0 + 0.5, Float(width) - Float(g.below(max(1, width / 3)))), Float(height))
            }
            for order in [Resample.PassOrder.pillow13, .pillow12] {
                let fast = Resample.resize(image, width: outWidth, height: outHeight, filter: filter, box: box,
                                           order: order, portable: false)
                let plain = Resample.resize(image, width: outWidth, height: outHeight, filter: filter, box: box,
                                            order: order, portable: true)
                #expect(fast.width == plain.width && fast.height == plain.height && fast.channels == plain.channels)
                let differing = zip(fast.pixels, plain.pixels).filter { $0 != $1 }.count
                #expect(differing == 0, "\(filter) \(width)x\(height)x\(channels) -> \(outWidth)x\(outHeight) box \(String(describing: box)): \(differing) bytes differ")
                compared += fast.pixels.count
            }
        }
        #expect(compared > 100_000)
    }

    /// A photo-sized shrink (the CLIP recipe's case) whose last taps end at the buffer's end.
    @Test func photoSizedShrinkToTheLastByte() {
        let image = Self.raster(width: 1999, height: 1333, channels: 3, seed: 99)
        for (w, h) in [(335, 224), (224, 149), (1, 1), (1999, 7)] {
            let fast = Resample.resize(image, width: w, height: h, filter: .bicubic, box: nil, order: .pillow13, portable: false)
            let plain = Resample.resize(image, width: w, height: h, filter: .bicubic, box: nil, order: .pillow13, portable: true)
            #expect(fast.pixels == plain.pixels, "\(w)x\(h)")
        }
    }
}
