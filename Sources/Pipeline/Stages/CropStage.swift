public import BuildConfig
import BuildSupport
public import Catalog
import Foundation
import Imaging

/// One accepted sample with its mask references, as the crop stage reads it from the catalog.
public struct CropItem: Sendable {
    public var sampleID: String
    public var source: String
    public var imageRef: String
    public var masks: [MaskRecord]
    /// Mask k -> index of the caption noun its label matched (the tag stage's match).
    public var nounIndex: [Int: Int] = [:]
    /// The image's size before a downloader resized it, where its JSON records one
    /// (img2dataset's `original_width` / `original_height`).
    public var originalSize: (width: Int, height: Int)?

    public init(sampleID: String, source: String, imageRef: String, masks: [MaskRecord], nounIndex: [Int: Int] = [:],
                originalSize: (width: Int, height: Int)? = nil) {
        (self.sampleID, self.source, self.imageRef, self.masks, self.nounIndex, self.originalSize) = (sampleID, source, imageRef, masks, nounIndex, originalSize)
    }

    /// From the catalog's record; ingest parsed the JSON already, so a size that is not an
    /// integer is no recorded size.
    init(_ sample: Catalog.MaskedSample) {
        self.init(sampleID: sample.sampleID, source: sample.source, imageRef: sample.imageRef, masks: sample.masks, nounIndex: sample.nounIndex)
        if let text = sample.metadataJSON, text.contains("original_width"), let json = try? JSONValue.parse(Array(text.utf8)),
           let width = json["original_width"]?.int, let height = json["original_height"]?.int, width > 0, height > 0 {
            originalSize = (width, height)
        }
    }
}

/// The crop stage: for each sample with masks, applies the paper's image and subject filters,
/// writes each kept subject composited on white, cropped to its box and padded square as a
/// content-addressed PNG under `objects/crops/`, optionally the Canny edge image under
/// `objects/canny/`, and records subjects and per-sample status in the catalog. Units follow
/// the ingest stage's; samples the tag stage skipped are left out, so tag must have run.
public struct CropStage: UnitProcessor {
    public typealias Item = CropItem

    public let config: CropConfig
    public var stage: String { "crop" }
    public let configHash: String
    public let configJSON: String
    let files: SourceFiles
    let input: Catalog
    let layout: BuildLayout
    /// Whether the segment stage's masks are read (it is enabled in the pipeline).
    let segmentMasks: Bool

    /// - Parameter input: the catalog holding the ingest stage's entries (the build's).
    public init(pipeline: PipelineConfig, input: Catalog) throws {
        config = pipeline.crop
        self.input = input
        layout = BuildLayout(root: pipeline.buildDir)
        files = try SourceFiles(catalog: input)
        let keys = StageKeys(pipeline: pipeline)
        configJSON = ConfigLoader.canonicalJSON(pipeline)
        configHash = try keys.crop()
        try StageOrder.requireDone("tag", configHash: try keys.tag(), unitsHolding: .accepted, in: input)
        segmentMasks = pipeline.segment.enabled
        if segmentMasks {
            try StageOrder.requireDone("segment", configHash: try keys.segment(), unitsHolding: .keptByTag, in: input)
        }
    }

    /// A crop stage over sources given directly, for running its per-item work in process
    /// (`crop(_:)`, `process(unit:…)`) on items built in memory: no catalog to read, no order check.
    package init(config: CropConfig, sourceRoots: [String: String], buildDir: String) throws {
        self.config = config
        files = SourceFiles(roots: sourceRoots)
        layout = BuildLayout(root: buildDir)
        input = try Catalog(path: ":memory:")
        configHash = "in-process"
        configJSON = "{}"
        segmentMasks = false
    }

    /// The units (the ingest stage's) with samples the tag stage kept, each loaded lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<CropItem>>, samples: Int) {
        let (input, segmentMasks) = (self.input, self.segmentMasks)
        return try WorkUnit.units(input.unitCounts(.keptByTag)) { try input.maskedSamples(unit: $0, segmentMasks: segmentMasks).map(CropItem.init) }
    }

    /// What happened to one sample: the catalog's record and the files it adds.
    struct Result: Sendable {
        var record: Catalog.CropRecord
        var files: [(String, [UInt8])] = []
    }

    /// A result as a scratch batch stores it (files with their bytes).
    struct StoredResult: Codable {
        var sampleID: String
        var outcome: Outcome
        var subjects: [Catalog.SubjectRow]
        var canny: String?
        var paths: [String]
        var contents: [Data]

        init(_ r: Result) {
            (sampleID, outcome) = (r.record.sampleID, r.record.outcome)
            (subjects, canny) = (r.record.subjects, r.record.canny)
            paths = r.files.map(\.0)
            contents = r.files.map { Data($0.1) }
        }

        var result: Result {
            Result(record: Catalog.CropRecord(sampleID: sampleID, outcome: outcome,
                                              subjects: subjects, canny: canny),
                   files: zip(paths, contents).map { ($0, Array($1)) })
        }
    }

    public func process(unit: Int, firstPosition: Int, items: [CropItem]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    /// Samples per batch kept in the unit's scratch space until the unit is committed.
    static let scratchBatch = 32

    public func process(unit: Int, firstPosition: Int, items: [CropItem], progress: ItemProgress) throws -> UnitOutput {
        // Finished batches are kept until the unit is committed: an interrupted run's rerun reads
        // them back, so an interrupt costs at most the batch in progress.
        let scratch = UnitScratch(layout: layout, stage: stage, unit: unit, configHash: configHash)
        var done: [Result] = []
        for start in stride(from: 0, to: items.count, by: Self.scratchBatch) {
            let batch = Array(items[start..<min(items.count, start + Self.scratchBatch)])
            // Read back from an interrupted run; a batch another version wrote is computed again.
            let (stored, reused) = try scratch.results(String(format: "samples-%06d", start), inputs: Self.digest(batch), count: batch.count) {
                crop(batch, progress: progress).map(StoredResult.init)
            }
            if reused { progress.advance(by: batch.count) }
            done += stored.map(\.result)
        }
        scratch.announce(stage: stage, unit: unit)
        var files: [String: [UInt8]] = [:]
        for r in done { for (path, bytes) in r.files { files[path] = bytes } }
        let records = done.map(\.record)
        return UnitOutput(files: files.keys.sorted().map { ($0, files[$0]!) }) { catalog, db in
            try catalog.recordCrop(unit: unit, records, in: db)
            return records.map(\.outcome)
        }
    }

    /// Crops a batch of samples concurrently.
    func crop(_ batch: [CropItem], progress: ItemProgress) -> [Result] {
        ParallelMap.map(batch) { item in
            defer { progress.advance() }
            return crop(item)
        }
    }

    /// Names everything a batch's results depend on besides the config: each sample's id, image,
    /// masks, noun links and recorded original size.
    static func digest(_ batch: [CropItem]) -> String {
        var text = ""
        for item in batch {
            text += "\(item.sampleID)|\(item.source)|\(item.imageRef)|\(item.originalSize.map { "\($0.width)x\($0.height)" } ?? "-")|"
            text += item.nounIndex.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",") + "|"
            text += item.masks.map { String(describing: $0) }.joined(separator: ";") + "\n"
        }
        return UnitScratch.digest([Array(text.utf8)])
    }

    /// Crops and Canny images are written with zlib's RLE strategy, chosen by measurement: 2.5x
    /// faster than the standard strategy on crops at the same size (docs/BENCHMARKS.md). The
    /// pixels do not depend on it, so it is not part of the stage's key: a build resumed across
    /// the change keeps its earlier crops, which decode to the same pixels.
    static let pngStrategy = ImageCodec.PNGStrategy.rle

    static func objectPath(_ kind: String, _ bytes: [UInt8]) -> String {
        let digest = SHA256.hex(bytes)
        return "objects/\(kind)/\(digest.prefix(2))/\(digest).png"
    }

    /// Crops one sample. Never throws: problems become its outcome.
    func crop(_ item: CropItem) -> Result {
        func finish(_ outcome: Outcome, subjects: [Catalog.SubjectRow] = []) -> Result {
            Result(record: Catalog.CropRecord(sampleID: item.sampleID, outcome: outcome, subjects: subjects, canny: nil))
        }
        guard !item.masks.isEmpty else { return finish(.skipped(.noMasks, "the sample has no masks")) }
        let bytes: [UInt8], image: Raster
        do {
            bytes = try files.read(item.imageRef, source: item.source, maxBytes: 1 << 30)
            image = try ImageCodec.decodeRGB(bytes, maxPixels: config.maxPixels)
        } catch {
            return finish(.failed(reading: error))
        }
        let decoded = (width: image.width, height: image.height)
        let checked = config.minImageSideOf == "original" ? item.originalSize ?? decoded : decoded
        guard min(checked.width, checked.height) >= config.minImageSide else {
            let what = checked == decoded ? "" : " originally (before resizing)"
            return finish(.skipped(.imageTooSmall, "\(checked.width)x\(checked.height)\(what) is below \(config.minImageSide) px"))
        }
        let white = SubjectCrop.whiteFraction(image)
        guard white <= config.maxWhiteFraction else {
            return finish(.skipped(.tooWhite, String(format: "%.1f%% white pixels", white * 100)))
        }
        var result: Result
        switch subjects(of: item, in: image) {
        case .maskFailed(let outcome): return finish(outcome)
        case .judged(let found): result = found
        }
        let kept = result.record.subjects.filter { $0.outcome.isOK }.count
        let verdict: Outcome? =
            kept < max(1, config.minSubjects) ? .skipped(.noSubjects, "no subject passed the filters")
            : kept > config.maxSubjects ? .skipped(.tooManySubjects, "\(kept) subjects passed, the maximum is \(config.maxSubjects)")
            : nil
        if let verdict {
            // The sample is skipped: its subjects stay recorded, none keeps a crop.
            return finish(verdict, subjects: result.record.subjects.map { subject in
                var s = subject
                if s.outcome.isOK { (s.outcome, s.object) = (.skipped(.sampleSkipped), nil) }
                return s
            })
        }
        if config.canny, let (path, png) = cannyImage(bytes, image) {
            result.record.canny = path
            result.files.append((path, png))
        }
        return result
    }

    /// A sample's subjects, or the outcome of a mask that could not be read.
    enum Subjects {
        case judged(Result)
        case maskFailed(Outcome)
    }

    /// Every mask's subject judged by the paper's filters; kept ones cropped. A mask that cannot
    /// be read fails the whole sample.
    func subjects(of item: CropItem, in image: Raster) -> Subjects {
        var result = Result(record: Catalog.CropRecord(sampleID: item.sampleID, outcome: .ok, subjects: [], canny: nil))
        var reader = MaskReader(files: files, maxPixels: config.maxPixels)
        func failure(_ error: any Error) -> Outcome {
            switch error {
            case let refusal as FileIO.Refusal: .failed(refusal.reason == .missingFile ? .missingMask : refusal.reason, refusal.message)
            case let imaging as ImagingError: .failed(.badMask, imaging.message)
            default: .failed(.badMask, "\(error)")
            }
        }
        // An instance map listed without values (no mask list) holds one subject per value.
        let records: [MaskRecord]
        do { records = try reader.expanded(item.masks, source: item.source) } catch { return .maskFailed(failure(error)) }
        for record in records {
            let mask: Mask
            do {
                mask = try reader.mask(record, source: item.source, width: image.width, height: image.height)
            } catch {
                return .maskFailed(failure(error))
            }
            var row = judge(record, mask: mask, image: image, nounIndex: item.nounIndex[record.k])
            if row.outcome.isOK, let box = row.box {
                do {
                    let crop = SubjectCrop.crop(image, mask: mask, box: PixelBox(x0: box[0], y0: box[1], x1: box[2], y1: box[3]))
                    let png = try ImageCodec.encodePNG(crop, strategy: Self.pngStrategy)
                    row.object = Self.objectPath("crops", png)
                    result.files.append((row.object!, png))
                } catch {
                    // Never a 0-byte crop recorded as kept.
                    return .maskFailed(.failed(.encodeFailed, "could not encode subject \(record.k)'s crop as PNG: \(error)"))
                }
            }
            result.record.subjects.append(row)
        }
        return .judged(result)
    }

    /// One subject's verdict: its box (given, else the mask's), area, fill and box share, and
    /// the first filter it fails (`ok` when none).
    func judge(_ record: MaskRecord, mask: Mask, image: Raster, nounIndex: Int?) -> Catalog.SubjectRow {
        var row = Catalog.SubjectRow(k: record.k, label: record.label ?? "object", nounIndex: nounIndex, box: nil, area: 0, fill: 0,
                                     boxAreaRatio: 0, score: record.score, object: nil, outcome: .skipped(.emptyMask))
        let given = record.boxJSON.flatMap { try? JSONValue.parse(Array($0.utf8)) }?.array?.compactMap(\.number)
        guard let box = given.flatMap({ PixelBox(covering: $0, width: image.width, height: image.height) }) ?? mask.box else {
            return row
        }
        row.box = box.array
        row.area = mask.area(in: box)
        row.fill = Double(row.area) / Double(box.area)
        row.boxAreaRatio = Double(box.area) / Double(image.width * image.height)
        let failed: Reason? =
            row.area == 0 ? .emptyMask
            : record.score.map({ $0 < config.minScore }) == true ? .lowScore
            : row.boxAreaRatio <= config.minBoxArea ? .boxTooSmall
            : row.boxAreaRatio >= config.maxBoxArea ? .boxTooLarge
            : row.fill < config.minFill ? .lowFill
            : nil
        row.outcome = failed.map { .skipped($0) } ?? .ok
        return row
    }

    /// The Canny edge image as a content-addressed PNG. JPEGs: libjpeg's own gray output, as
    /// cv2.imread(..., GRAYSCALE); others: the decoded RGB.
    func cannyImage(_ bytes: [UInt8], _ image: Raster) -> (String, [UInt8])? {
        let gray = ImageFormat.sniff(bytes) == .jpeg
            ? (try? ImageCodec.decodeGray(bytes, maxPixels: config.maxPixels)) ?? image.grayscale()
            : image.grayscale()
        guard let png = try? ImageCodec.encodePNG(Canny.edges(gray, low: config.cannyLow, high: config.cannyHigh), strategy: Self.pngStrategy)
        else { return nil }
        return (Self.objectPath("canny", png), png)
    }
}
