import Foundation
@testable import Imaging
import Testing

/// The libdeflate path for index maps against libpng alone: the same pixels for every file it
/// takes, and for damaged files the same outcome (pixels or error message) as libpng's.
@Suite struct IndexMapPathTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func be32(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
    }

    /// (offset, type, data length) of each chunk.
    static func chunks(_ png: [UInt8]) -> [(at: Int, type: String, length: Int)] {
        var out: [(Int, String, Int)] = []
        var at = 8
        while at + 12 <= png.count {
            let n = be32(png, at)
            out.append((at, String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self), n))
            at += 12 + n
        }
        return out
    }

    static func fixCRC(_ png: inout [UInt8], chunkAt at: Int) {
        let n = be32(png, at)
        let crc = crc32(png[(at + 4)..<(at + 8 + n)])
        for i in 0..<4 { png[at + 8 + n + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i)) }
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        var c = [UInt8](repeating: 0, count: 4) + Array(type.utf8) + data + [0, 0, 0, 0]
        for i in 0..<4 { c[i] = UInt8(truncatingIfNeeded: data.count >> (24 - 8 * i)) }
        fixCRC(&c, chunkAt: 0)
        return Array(c[0...])
    }

    /// Valid index maps: gray and palette, small and large (several IDAT chunks), noisy and flat,
    /// written by libpng with its adaptive filters and by Pillow (the fixtures).
    static func validFiles() throws -> [(String, [UInt8])] {
        var files: [(String, [UInt8])] = []
        var state: UInt64 = 1
        func next() -> UInt8 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return UInt8(state >> 56) }
        for (w, h) in [(1, 1), (7, 3), (64, 64), (301, 173), (640, 480)] {
            var map = Raster(width: w, height: h, channels: 1)
            for y in 0..<h {
                for x in 0..<w {
                    // Regions with edges, a gradient, and noise in a band: libpng picks every filter.
                    let region: Int = (x * 5 / max(1, w) + y * 3 / max(1, h)) % 4
                    let ramp = UInt8((x + 2 * y) % 256), flat = UInt8(region * 40)
                    map.pixels[y * w + x] = y % 17 == 5 ? next() : region == 3 ? ramp : flat
                }
            }
            files.append(("gray \(w)x\(h)", try ImageCodec.encodePNG(map)))
            files.append(("gray rle \(w)x\(h)", try ImageCodec.encodePNG(map, strategy: .rle)))
            var indices = map
            for i in indices.pixels.indices { indices.pixels[i] %= 6 }
            var palette: [UInt8] = []
            for i in 0..<6 { palette += [UInt8(i * 40), UInt8(255 - i * 40), 7] }
            files.append(("palette \(w)x\(h)", try ImageCodec.encodePNG(indices, palette: palette)))
        }
        // A palette map with transparency (tRNS after PLTE), as Pillow writes for "P" images with one.
        let palette = files[files.count - 1].1
        let afterPLTE = chunks(palette).first { $0.type == "PLTE" }.map { $0.at + 12 + $0.length }!
        files.append(("palette with tRNS", Array(palette[..<afterPLTE]) + chunk("tRNS", [0, 128, 255]) + Array(palette[afterPLTE...])))
        for name in ["input_gray.png", "canny_b_30_60.png", "canny_input_photo.png", "resize_gray.png"] {
            files.append((name, Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + name)))))
        }
        return files
    }

    static func outcome(_ png: [UInt8], _ path: ImageCodec.IndexMapPath) -> String {
        do {
            let map = try ImageCodec.decodeIndexMap(png, maxPixels: .max, path: path)
            return "\(map.width)x\(map.height) \(map.pixels.hashValue) \(map.pixels.prefix(64))"
        } catch {
            return "error: \(error)"
        }
    }

    @Test func theLibdeflatePathTakesValidMapsAndGivesLibpngsBytes() throws {
        var multipleIDAT = 0
        for (name, png) in try Self.validFiles() {
            let libpng = try ImageCodec.decodeIndexMap(png, maxPixels: .max, path: .libpng)
            let fast = try #require(try? ImageCodec.decodeIndexMap(png, maxPixels: .max, path: .libdeflate), "\(name) not taken")
            #expect(fast.pixels == libpng.pixels && fast.width == libpng.width, "\(name)")
            if Self.chunks(png).filter({ $0.type == "IDAT" }).count > 1 { multipleIDAT += 1 }
        }
        #expect(multipleIDAT >= 2)
        // Not taken: 16-bit and low bit depths (libpng decodes them as before).
        for name in ["fmt_gray1.png", "fmt_gray16.png", "fmt_palette_trns.png"] {
            let png = Array(try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/" + name)))
            #expect(throws: (any Error).self) { try ImageCodec.decodeIndexMap(png, maxPixels: .max, path: .libdeflate) }
            #expect(Self.outcome(png, .either) == Self.outcome(png, .libpng), "\(name)")
        }
    }

    @Test func damagedMapsGiveLibpngsOutcome() throws {
        var compared = 0, failing = 0
        for (name, png) in try Self.validFiles() {
            let chunks = Self.chunks(png)
            let idat = chunks.first { $0.type == "IDAT" }!
            let iend = chunks.last!
            var variants: [(String, [UInt8])] = []
            for cut in [png.count - 1, png.count - 12, idat.at + 8 + idat.length / 2, idat.at + 3, 40] where cut > 8 && cut < png.count {
                variants.append(("truncated at \(cut)", Array(png[..<cut])))
            }
            for (what, fix) in [("flipped", false), ("flipped, CRC fixed", true)] {
                for position in [2, idat.length / 2, idat.length - 2] where position >= 0 && position < idat.length {
                    var v = png
                    v[idat.at + 8 + position] ^= 0x5A
                    if fix { Self.fixCRC(&v, chunkAt: idat.at) }
                    variants.append(("\(what) IDAT byte \(position)", v))
                }
            }
            var noIEND = png
            noIEND.removeSubrange(iend.at..<png.count)
            variants.append(("no IEND", noIEND))
            variants.append(("bytes after IEND", png + [1, 2, 3]))
            let afterIHDR = chunks[1].at
            variants.append(("unknown critical chunk", Array(png[..<afterIHDR]) + Self.chunk("ABCD", [1]) + Array(png[afterIHDR...])))
            variants.append(("ancillary chunk", Array(png[..<afterIHDR]) + Self.chunk("teXt", Array("k\u{0}v".utf8)) + Array(png[afterIHDR...])))
            variants.append(("chunk after IEND", png + Self.chunk("IDAT", [0])))
            var badWidth = png
            badWidth[16 + 3] &+= 1
            variants.append(("IHDR changed, CRC not", badWidth))
            Self.fixCRC(&badWidth, chunkAt: 8)
            variants.append(("IHDR width changed", badWidth))
            for (what, v) in variants {
                let either = Self.outcome(v, .either), libpng = Self.outcome(v, .libpng)
                #expect(either == libpng, "\(name), \(what): \(either) vs libpng \(libpng)")
                compared += 1
                if libpng.hasPrefix("error") { failing += 1 }
            }
        }
        #expect(compared > 200 && failing > 100)
    }
}
