import BuildSupport
public import Catalog
import Foundation
import Imaging
public import Text

/// Attaches masks made elsewhere to samples already in the catalog: JSONL records, or
/// Grounded-SAM's output layout. Each record is checked on its own (the sample it names, its
/// label against the caption's nouns, its mask's size against the image) and gets a verdict;
/// a bad record touches nothing else. Accepted masks are stored as COCO RLE in `added_masks`
/// with the kind of their format; tag links them to nouns as it does input masks.
public struct MaskImport {
    /// The input layouts.
    public enum Format: String, Sendable {
        /// One JSON object per line: `{"sample_id" | "source" + "key", "label", "score", "box",
        /// "mask": RLE | polygons | "PNG path"}`.
        case jsonl
        /// Grounded-SAM's demo output, also what Subject-Diffusion stores: per sample a folder
        /// (or a file pair) with `mask.json`, the list of `{value, label, logit, box}` (value 0 the
        /// background), beside `mask.png`, the instance map whose pixel value k is mask k.
        case groundedSAM = "grounded-sam"
    }

    let catalog: Catalog
    let files: SourceFiles
    let finder: NounFinder
    let maxPixels: Int
    /// The source whose keys name samples (else records name sample ids).
    let source: String?

    /// - Parameter finder: the tag stage's noun finder (`TagConfig.nounFinder()`), which checks labels.
    public init(catalog: Catalog, finder: NounFinder, source: String?, maxPixels: Int) throws {
        self.catalog = catalog
        files = try SourceFiles(catalog: catalog)
        self.finder = finder
        self.source = source
        self.maxPixels = maxPixels
    }

    /// One record as read, before it is checked.
    struct Parsed {
        var sampleID: String?
        var source: String?
        var key: String?
        var label: String?
        var score: Double?
        var box: [Double]?
        var mask: MaskData?
        /// Why the record cannot be read, when it cannot.
        var problem: (Reason, String)?
    }

    /// Where a record's mask is.
    enum MaskData {
        case segmentation(COCOMask.Segmentation)
        case png(path: String)
        case instanceValue(path: String, value: Int)
    }

    /// The verdicts of every record in `path`, with the units of the samples they touch.
    public func read(_ path: String, format: Format) throws -> (records: [Catalog.ImportRecord], units: [String: Int]) {
        let parsed = switch format {
        case .jsonl: try parseJSONL(path)
        case .groundedSAM: try parseGroundedSAM(path)
        }
        var state = State()
        let records = try parsed.map { try check($0, format: format, state: &state) }
        return (records, state.units)
    }

    /// What the records of one import share: the units of the samples given masks, and the last
    /// instance map and each sample's image size (several records name the same ones).
    struct State {
        var units: [String: Int] = [:]
        var instanceMap: (path: String, map: Raster)?
        var sizes: [String: (width: Int, height: Int)] = [:]
    }

    func check(_ record: Parsed, format: Format, state: inout State) throws -> Catalog.ImportRecord {
        if let (reason, message) = record.problem { return .init(sampleID: record.sampleID, outcome: .failed(reason, message)) }
        let target: Catalog.ImportTarget?
        if let id = record.sampleID { target = try catalog.acceptedSample(id: id) } else {
            target = try catalog.acceptedSample(source: record.source ?? "", key: record.key ?? "")
        }
        guard let target else {
            let name = record.sampleID.map { "sample id \($0)" } ?? "key '\(record.key ?? "")' of source '\(record.source ?? "")'"
            return .init(sampleID: record.sampleID, outcome: .skipped(.unknownSample, "no accepted sample has \(name)"))
        }
        func verdict(_ outcome: Outcome) -> Catalog.ImportRecord { .init(sampleID: target.sampleID, outcome: outcome) }
        // A mask without a label links to no noun: it could only reach shard to be dropped there.
        guard let label = record.label, !label.trimmingCharacters(in: .whitespaces).isEmpty else {
            return verdict(.failed(.badRecord, "record has no label"))
        }
        if finder.match(labels: [label], caption: target.caption).first?.noun == nil {
            return verdict(.skipped(.labelNotInCaption, "label '\(label)' matches no noun of the caption"))
        }
        let size: (width: Int, height: Int)
        do {
            size = try state.sizes[target.sampleID] ?? imageSize(target)
            state.sizes[target.sampleID] = size
        } catch {
            return verdict(.failed(reading: error, context: "the sample's image: "))
        }
        let mask: Mask
        do {
            mask = try self.mask(record.mask!, width: size.width, height: size.height, instanceMap: &state.instanceMap)
        } catch let error as FileIO.Refusal {
            return verdict(.failed(error.reason, error.message))
        } catch let error as SizeMismatch {
            return verdict(.skipped(.maskSizeMismatch, error.message))
        } catch {
            return verdict(.failed(.badMask, "\(error)"))
        }
        let given = record.box.flatMap { PixelBox(covering: $0, width: size.width, height: size.height) }
        guard let box = given ?? mask.box, mask.area > 0 else { return verdict(.skipped(.emptyMask, "the mask has no pixel")) }
        state.units[target.sampleID] = target.unit
        let kind = switch (format, record.mask!) {
        case (.groundedSAM, _): "grounded_sam"
        case (_, .png): "jsonl_png"
        case (_, .segmentation(.polygons)): "jsonl_polygon"
        default: "jsonl_rle"
        }
        return .init(sampleID: target.sampleID, outcome: .ok,
                     mask: Catalog.AddedMaskRow(k: 0, kind: kind, label: record.label, score: record.score, box: box.array,
                                                rle: COCOMask.rleJSON(mask)))
    }

    struct SizeMismatch: Error {
        var message: String
    }

    /// The image's size as the stages decode it (EXIF orientation applied).
    func imageSize(_ target: Catalog.ImportTarget) throws -> (width: Int, height: Int) {
        let bytes = try files.read(target.imageRef, source: target.source, maxBytes: 1 << 30)
        let info = try ImageCodec.probe(bytes, checkEnd: false)
        let orientation = info.format == .jpeg ? EXIF.orientation(ofJPEG: bytes) : 1
        return orientation >= 5 ? (info.height, info.width) : (info.width, info.height)
    }

    func mask(_ data: MaskData, width: Int, height: Int, instanceMap: inout (path: String, map: Raster)?) throws -> Mask {
        func sized(_ m: Mask) throws -> Mask {
            guard m.width == width && m.height == height else {
                throw SizeMismatch(message: "the mask is \(m.width)x\(m.height), the image \(width)x\(height)")
            }
            return m
        }
        func read(_ path: String) throws -> [UInt8] {
            guard FileManager.default.fileExists(atPath: path) else { throw FileIO.Refusal(.missingMask, "no such file: \(path)") }
            return try FileIO.read(path, maxBytes: 1 << 28)
        }
        switch data {
        case .segmentation(let segmentation):
            switch segmentation {
            case .rleCounts(_, let h, let w), .rleString(_, let h, let w):
                guard h == height && w == width else { throw SizeMismatch(message: "the RLE is \(w)x\(h), the image \(width)x\(height)") }
            case .polygons: break
            }
            return try COCOMask.mask(segmentation, width: width, height: height)
        case .png(let path):
            return try sized(Mask(binaryImage: read(path), maxPixels: maxPixels))
        case .instanceValue(let path, let value):
            if instanceMap?.path != path { instanceMap = (path, try ImageCodec.decodeIndexMap(read(path), maxPixels: maxPixels)) }
            return try sized(Mask(instanceMap: instanceMap!.map, value: value))
        }
    }
}

extension MaskImport {
    /// What an import did: records by verdict and reason, and the units to run again.
    public static func summary(name: String, _ records: [Catalog.ImportRecord], redo: [Int]) -> String {
        var counts: [String: Int] = [:]
        for r in records where !r.outcome.isOK { counts["\(r.outcome.status):\(r.outcome.reason?.rawValue ?? "?")", default: 0] += 1 }
        var lines = ["import '\(name)': \(records.count) records, \(records.filter { $0.outcome.isOK }.count) masks attached"]
        lines += counts.keys.sorted().map { "  \($0): \(counts[$0]!)" }
        lines.append(redo.isEmpty ? "  no unit changed"
                     : "  \(redo.count) units to redo from tag on (units \(redo.prefix(8).map(String.init).joined(separator: ", "))\(redo.count > 8 ? ", …" : "")): run tag, segment, crop, embed, shard (make dataset)")
        return lines.joined(separator: "\n")
    }
}
