import Catalog
import Foundation
import Imaging

/// The build report's pictures: a sample's thumbnail with its mask outlines, and crop thumbnails.
extension BuildReport {
    /// One mask drawn on a thumbnail, for the legend.
    struct DrawnMask {
        var k: Int
        var label: String
        var color: (UInt8, UInt8, UInt8)
        /// Why the mask could not be drawn, when it could not.
        var problem: String?
    }

    /// Distinct colours for outlines (Kelly's / Trubetskoy's high-contrast set).
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
        (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (128, 0, 0),
    ]

    /// The sample's image scaled to `thumbnailSide` on its long side with every mask's outline
    /// and a light fill drawn over it, as a JPEG data URL; nil with the reason when the image
    /// cannot be read.
    func thumbnail(_ record: Catalog.SampleRecord) -> (url: String?, masks: [DrawnMask], problem: String?) {
        guard let ref = record.imageRef else { return (nil, [], "no image recorded") }
        let image: Raster
        do {
            image = try ImageCodec.decodeRGB(files.read(ref, source: record.source, maxBytes: 1 << 30), maxPixels: options.maxPixels).rgb()
        } catch let error as FileIO.Refusal {
            return (nil, [], error.message)
        } catch {
            return (nil, [], "\(error)")
        }
        let scale = Double(options.thumbnailSide) / Double(max(image.width, image.height))
        let (tw, th) = (max(1, Int((Double(image.width) * min(1, scale)).rounded())), max(1, Int((Double(image.height) * min(1, scale)).rounded())))
        var small = Resample.resize(image, width: tw, height: th, filter: .bilinear)
        var reader = MaskReader(files: files, maxPixels: options.maxPixels)
        var drawn: [DrawnMask] = []
        let records = (try? reader.expanded(record.masks, source: record.source)) ?? record.masks
        for (i, mask) in records.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            var entry = DrawnMask(k: mask.k, label: mask.label ?? "object", color: color)
            do {
                let full = try reader.mask(mask, source: record.source, width: image.width, height: image.height)
                Self.outline(Self.sampled(full, width: tw, height: th), color: color, on: &small)
            } catch let error as FileIO.Refusal {
                entry.problem = error.message
            } catch let error as ImagingError {
                entry.problem = error.message
            } catch {
                entry.problem = "\(error)"
            }
            drawn.append(entry)
        }
        guard let jpeg = try? ImageCodec.encodeJPEG(small, quality: 85) else { return (nil, drawn, "could not encode the thumbnail") }
        return ("data:image/jpeg;base64," + Data(jpeg).base64EncodedString(), drawn, nil)
    }

    /// A mask sampled at the centres of a smaller grid's pixels (nearest neighbour).
    static func sampled(_ mask: Mask, width: Int, height: Int) -> Mask {
        var bits = [UInt8](repeating: 0, count: width * height)
        let sx = Double(mask.width) / Double(width), sy = Double(mask.height) / Double(height)
        for y in 0..<height {
            let my = min(mask.height - 1, Int((Double(y) + 0.5) * sy))
            for x in 0..<width {
                let mx = min(mask.width - 1, Int((Double(x) + 0.5) * sx))
                bits[y * width + x] = mask.bits[my * mask.width + mx]
            }
        }
        return Mask(width: width, height: height, bits: bits)
    }

    /// Tints the mask's pixels a quarter towards `color` and paints its boundary (set pixels
    /// with an unset 4-neighbour or on the image edge) in `color`.
    static func outline(_ mask: Mask, color: (UInt8, UInt8, UInt8), on image: inout Raster) {
        let (w, h) = (mask.width, mask.height)
        let rgb = [color.0, color.1, color.2]
        for y in 0..<h {
            for x in 0..<w where mask.bits[y * w + x] != 0 {
                let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1
                    || mask.bits[y * w + x - 1] == 0 || mask.bits[y * w + x + 1] == 0
                    || mask.bits[(y - 1) * w + x] == 0 || mask.bits[(y + 1) * w + x] == 0
                for c in 0..<3 {
                    let i = (y * w + x) * 3 + c
                    image.pixels[i] = edge ? rgb[c] : UInt8((Int(image.pixels[i]) * 3 + Int(rgb[c])) / 4)
                }
            }
        }
    }

    /// A crop (relative to the build) as a PNG data URL at most `side` pixels on its long side.
    func cropThumbnail(_ object: String, side: Int) -> String? {
        guard let bytes = try? FileIO.read(buildRoot + "/" + object, maxBytes: 1 << 28),
              let crop = try? ImageCodec.decodeRGB(bytes).rgb() else { return nil }
        let scale = min(1, Double(side) / Double(max(crop.width, crop.height)))
        let small = Resample.resize(crop, width: max(1, Int((Double(crop.width) * scale).rounded())),
                                    height: max(1, Int((Double(crop.height) * scale).rounded())), filter: .bilinear)
        guard let png = try? ImageCodec.encodePNG(small) else { return nil }
        return "data:image/png;base64," + Data(png).base64EncodedString()
    }
}
