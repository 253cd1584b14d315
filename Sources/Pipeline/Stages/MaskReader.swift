import BuildSupport
public import Catalog
public import Imaging

/// Reads the masks an entry records (instance maps, binary PNGs, COCO RLE and polygons; the RLE
/// of segment and imported masks) at the size of its decoded image. Shared by the crop stage and
/// the build report, so both see the same pixels. Caches decoded instance maps, which several masks of one sample share.
public struct MaskReader {
    let files: SourceFiles
    let maxPixels: Int
    var maps: [String: Raster] = [:]

    public init(files: SourceFiles, maxPixels: Int) {
        self.files = files
        self.maxPixels = maxPixels
    }

    /// The records with each instance map listed without a value expanded to one record per
    /// value it holds (k = k·256 + value), as the crop stage counts subjects.
    public mutating func expanded(_ records: [MaskRecord], source: String) throws -> [MaskRecord] {
        var out: [MaskRecord] = []
        for record in records {
            guard record.kind == "instance_map", record.value == nil else { out.append(record); continue }
            let map = try instanceMap(record.ref ?? "", source: source)
            for value in Self.values(of: map) {
                var one = record
                one.value = Int(value)
                one.k = record.k * 256 + Int(value)
                out.append(one)
            }
        }
        return out
    }

    /// The non-zero values an instance map holds, ascending.
    static func values(of map: Raster) -> [UInt8] {
        var present = [Bool](repeating: false, count: 256)
        map.pixels.withUnsafeBufferPointer { pixels in
            for value in pixels { present[Int(value)] = true }
        }
        return (1..<256).filter { present[$0] }.map { UInt8($0) }
    }

    mutating func instanceMap(_ ref: String, source: String) throws -> Raster {
        if let map = maps[ref] { return map }
        let map = try ImageCodec.decodeIndexMap(files.read(ref, source: source, maxBytes: 1 << 28), maxPixels: maxPixels)
        maps[ref] = map
        return map
    }

    /// One record's mask for an image of `width` x `height`.
    /// - Throws: `FileIO.Refusal` for a file that cannot be read, `ImagingError` for a mask that
    ///   cannot be decoded or does not fit the image, `JSONValue` errors for bad COCO data.
    public mutating func mask(_ record: MaskRecord, source: String, width: Int, height: Int) throws -> Mask {
        func checked(_ m: Mask) throws -> Mask {
            guard m.width == width && m.height == height else {
                throw ImagingError(.corrupt, "mask is \(m.width)x\(m.height), the image \(width)x\(height)")
            }
            return m
        }
        switch record.kind {
        case "instance_map":
            let map = try instanceMap(record.ref ?? "", source: source)
            guard let value = record.value else { return try checked(Mask(nonZeroOf: map)) }
            return try checked(Mask(instanceMap: map, value: value))
        case "binary_png":
            return try checked(Mask(binaryImage: files.read(record.ref ?? "", source: source, maxBytes: 1 << 28), maxPixels: maxPixels))
        case let kind where kind == "coco_rle" || kind == "coco_polygon" || AddedMask.kinds.contains(kind):
            // Segment and imported masks are a COCO RLE of the image's size, recorded in the catalog.
            return try COCOMask.mask(Self.segmentation(record.dataJSON), width: width, height: height)
        default:
            throw ImagingError(.corrupt, "unknown mask kind '\(record.kind)'")
        }
    }

    /// A COCO `segmentation` value (polygon lists, or RLE with string or list counts).
    static func segmentation(_ json: String?) throws -> COCOMask.Segmentation {
        let data = try JSONValue.parse(Array((json ?? "null").utf8))
        if let polygons = data.array {
            return .polygons(polygons.map { $0.array?.compactMap(\.number) ?? [] })
        }
        let size = data["size"]?.array?.compactMap(\.int) ?? []
        guard size.count == 2 else { throw ImagingError(.corrupt, "RLE without a size") }
        if let string = data["counts"]?.string {
            return .rleString(string, height: size[0], width: size[1])
        }
        return .rleCounts(data["counts"]?.array?.compactMap(\.int) ?? [], height: size[0], width: size[1])
    }
}
