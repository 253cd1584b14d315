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

    /// - Parameter input: the catalog holding the ingest stage's entries (the build's).
    public init(pipeline: PipelineConfig, input: Catalog) throws {
        config = pipeline.crop
        self.input = input
        layout = BuildLayout(root: pipeline.buildDir)
        files = try SourceFiles(catalog: input)
        let keys = StageKeys(pipeline: pipeline)
        configJSON = ConfigLoader.canonicalJSON(pipeline)
        configHash = try keys.crop()
        try StageOrder.requireDone("tag", configHash: try keys.tag(), unitsWhere: "e.status = 'ok'", in: input)
    }

    /// Accepted samples that the tag stage kept.
    static let kept = """
        e.status = 'ok' AND NOT EXISTS (SELECT 1 FROM sample_status t
            WHERE t.stage = 'tag' AND t.sample_id = e.sample_id AND t.status <> 'ok')
        """

    /// The units (the ingest stage's) with accepted samples, loading each unit's samples lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<CropItem>>, samples: Int) {
        try WorkUnit.fromCatalog(input.database, countSQL: "SELECT e.unit, COUNT(*) FROM entries e WHERE \(Self.kept) GROUP BY e.unit ORDER BY e.unit",
                                 load: { try Self.load(unit: $0, from: $1) })
    }

    static func load(unit: Int, from db: Database) throws -> [CropItem] {
        var items: [CropItem] = []
        var byPosition: [Int: Int] = [:]
        var bySample: [String: Int] = [:]
        try db.forEach("""
            SELECT e.position, e.sample_id, e.source, e.image_ref, e.metadata_json FROM entries e WHERE e.unit = ? AND \(kept)
            ORDER BY e.position
            """, [unit]) { row in
            bySample[row[1].string ?? ""] = items.count
            byPosition[row[0].int!] = items.count
            var item = CropItem(sampleID: row[1].string ?? "", source: row[2].string ?? "", imageRef: row[3].string ?? "", masks: [])
            // Ingest parsed this JSON already; a value that is not an integer is no recorded size.
            if let text = row[4].string, text.contains("original_width"), let json = try? JSONValue.parse(Array(text.utf8)),
               let width = json["original_width"]?.int, let height = json["original_height"]?.int, width > 0, height > 0 {
                item.originalSize = (width, height)
            }
            items.append(item)
        }
        try db.forEach("""
            SELECT m.position, m.k, m.kind, m.ref, m.value, m.label, m.score, m.box_json, m.data_json
            FROM masks m JOIN entries e ON e.position = m.position
            WHERE e.unit = ? AND \(kept) ORDER BY m.position, m.k
            """, [unit]) { r in
            guard let i = byPosition[r[0].int!] else { return }
            items[i].masks.append(MaskRecord(k: r[1].int!, kind: r[2].string ?? "", ref: r[3].string, value: r[4].int,
                                             label: r[5].string, score: r[6].double, boxJSON: r[7].string, dataJSON: r[8].string))
        }
        try db.forEach("""
            SELECT l.sample_id, l.k, l.noun_idx FROM noun_labels l JOIN entries e ON e.sample_id = l.sample_id
            WHERE e.unit = ? AND \(kept) AND l.noun_idx IS NOT NULL
            """, [unit]) { r in
            guard let i = bySample[r[0].string ?? ""] else { return }
            items[i].nounIndex[r[1].int!] = r[2].int!
        }
        return items
    }

    /// What happened to one sample.
    struct Result: Sendable {
        var sampleID: String
        var status = "ok"
        var reason: String?
        var message: String?
        var subjects: [SubjectRow] = []
        var canny: String?
        var files: [(String, [UInt8])] = []
    }

    /// A result as a scratch batch stores it (files with their bytes).
    struct StoredResult: Codable {
        var sampleID: String
        var status: String
        var reason: String?, message: String?
        var subjects: [SubjectRow]
        var canny: String?
        var paths: [String]
        var contents: [Data]

        init(_ r: Result) {
            (sampleID, status, reason, message, subjects, canny) = (r.sampleID, r.status, r.reason, r.message, r.subjects, r.canny)
            paths = r.files.map(\.0)
            contents = r.files.map { Data($0.1) }
        }

        var result: Result {
            Result(sampleID: sampleID, status: status, reason: reason, message: message, subjects: subjects, canny: canny,
                   files: zip(paths, contents).map { ($0, Array($1)) })
        }
    }

    struct SubjectRow: Sendable, Codable {
        var k: Int
        var label: String
        var nounIndex: Int?
        var box: PixelBox?
        var area: Int
        var fill: Double
        var boxAreaRatio: Double
        var score: Double?
        var object: String?
        var status: String
        var reason: String?
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
            let bytes = try scratch.batch(String(format: "samples-%06d", start), inputs: Self.digest(batch)) {
                try JSONEncoder().encode(crop(batch, progress: progress).map(StoredResult.init)).map { $0 }
            }
            let stored = try JSONDecoder().decode([StoredResult].self, from: Data(bytes))
            guard stored.count == batch.count else { throw PipelineError(.io, "scratch batch of \(stored.count) samples, expected \(batch.count)") }
            done += stored.map(\.result)
            if scratch.reused > 0 && scratch.computed == 0 { progress.reach(done.count) }
        }
        scratch.announce(stage: stage, unit: unit)
        var files: [String: [UInt8]] = [:]
        for r in done { for (path, bytes) in r.files { files[path] = bytes } }
        return UnitOutput(files: files.keys.sorted().map { ($0, files[$0]!) }) { _, db in
            for r in done {
                try db.run("DELETE FROM subjects WHERE sample_id = ?", [r.sampleID])
                try db.run("DELETE FROM sample_objects WHERE sample_id = ? AND stage = 'crop'", [r.sampleID])
                try db.run("""
                    INSERT OR REPLACE INTO sample_status (stage, sample_id, unit, status, reason, message)
                    VALUES ('crop', ?, ?, ?, ?, ?)
                    """, [r.sampleID, unit, r.status, r.reason, r.message])
                for s in r.subjects {
                    try db.run("""
                        INSERT INTO subjects (sample_id, k, label, noun_idx, box_json, mask_area, fill_ratio, box_area_ratio,
                            score, crop_object, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [r.sampleID, s.k, s.label, s.nounIndex, s.box.map { JSONText.render(.array($0.array.map { .int($0) })) },
                              s.area, (s.fill * 1e6).rounded() / 1e6, (s.boxAreaRatio * 1e6).rounded() / 1e6, s.score,
                              s.object, s.status, s.reason])
                }
                if let canny = r.canny {
                    try db.run("INSERT INTO sample_objects (sample_id, stage, kind, object) VALUES (?, 'crop', 'canny', ?)",
                               [r.sampleID, canny])
                }
            }
            return done.map { ItemOutcome(status: $0.status, reason: $0.reason) }
        }
    }

    /// Crops a batch of samples concurrently.
    func crop(_ batch: [CropItem], progress: ItemProgress) -> [Result] {
        var results = [Result?](repeating: nil, count: batch.count)
        // `crop(_:)` reads only the immutable config and source roots, never the catalog handle.
        nonisolated(unsafe) let stage = self
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                out[i] = stage.crop(batch[i])
                progress.advance()
            }
        }
        return results.map { $0! }
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

    static func objectPath(_ kind: String, _ bytes: [UInt8]) -> String {
        let digest = SHA256.hex(bytes)
        return "objects/\(kind)/\(digest.prefix(2))/\(digest).png"
    }

    /// Crops one sample. Never throws: problems become its status.
    func crop(_ item: CropItem) -> Result {
        var result = Result(sampleID: item.sampleID)
        func finish(_ status: String, _ reason: String, _ message: String) -> Result {
            result.status = status
            result.reason = reason
            result.message = message
            result.files = []
            result.canny = nil
            return result
        }
        guard !item.masks.isEmpty else { return finish("skipped", "no_masks", "the sample has no masks") }
        let bytes: [UInt8], image: Raster
        do {
            bytes = try files.read(item.imageRef, source: item.source, maxBytes: 1 << 30)
            image = try ImageCodec.decodeRGB(bytes, maxPixels: config.maxPixels)
        } catch let error as FileIO.Refusal {
            return finish("failed", error.reason, error.message)
        } catch let error as ImagingError {
            return finish("failed", error.code.rawValue, error.message)
        } catch {
            return finish("failed", "unreadable", "\(error)")
        }
        let decoded = (width: image.width, height: image.height)
        let checked = config.minImageSideOf == "original" ? item.originalSize ?? decoded : decoded
        guard min(checked.width, checked.height) >= config.minImageSide else {
            let what = checked == decoded ? "" : " originally (before resizing)"
            return finish("skipped", "image_too_small", "\(checked.width)x\(checked.height)\(what) is below \(config.minImageSide) px")
        }
        let white = SubjectCrop.whiteFraction(image)
        guard white <= config.maxWhiteFraction else {
            return finish("skipped", "too_white", String(format: "%.1f%% white pixels", white * 100))
        }
        var reader = MaskReader(files: files, maxPixels: config.maxPixels)
        let imageArea = Double(image.width * image.height)
        // An instance map listed without values (no mask list) holds one subject per value.
        let records: [MaskRecord]
        do {
            records = try reader.expanded(item.masks, source: item.source)
        } catch let error as FileIO.Refusal {
            return finish("failed", error.reason == "missing_file" ? "missing_mask" : error.reason, error.message)
        } catch {
            return finish("failed", "bad_mask", "\(error)")
        }
        for record in records {
            var row = SubjectRow(k: record.k, label: record.label ?? "object", nounIndex: item.nounIndex[record.k], box: nil, area: 0, fill: 0, boxAreaRatio: 0,
                                 score: record.score, object: nil, status: "skipped", reason: nil)
            let mask: Mask
            do {
                mask = try reader.mask(record, source: item.source, width: image.width, height: image.height)
            } catch let error as FileIO.Refusal {
                return finish("failed", error.reason == "missing_file" ? "missing_mask" : error.reason, error.message)
            } catch let error as ImagingError {
                return finish("failed", "bad_mask", error.message)
            } catch {
                return finish("failed", "bad_mask", "\(error)")
            }
            let given = record.boxJSON.flatMap { try? JSONValue.parse(Array($0.utf8)) }?.array?.compactMap(\.number)
            guard let box = given.flatMap({ PixelBox(covering: $0, width: image.width, height: image.height) }) ?? mask.box else {
                row.reason = "empty_mask"
                result.subjects.append(row)
                continue
            }
            row.box = box
            row.area = mask.area(in: box)
            row.fill = Double(row.area) / Double(box.area)
            row.boxAreaRatio = Double(box.area) / imageArea
            if row.area == 0 {
                row.reason = "empty_mask"
            } else if let score = record.score, score < config.minScore {
                row.reason = "low_score"
            } else if row.boxAreaRatio <= config.minBoxArea {
                row.reason = "box_too_small"
            } else if row.boxAreaRatio >= config.maxBoxArea {
                row.reason = "box_too_large"
            } else if row.fill < config.minFill {
                row.reason = "low_fill"
            } else {
                row.status = "ok"
                let png: [UInt8]
                do {
                    png = try ImageCodec.encodePNG(SubjectCrop.crop(image, mask: mask, box: box))
                } catch {
                    // Never a 0-byte crop recorded as kept.
                    return finish("failed", "encode_failed", "could not encode subject \(record.k)'s crop as PNG: \(error)")
                }
                let path = Self.objectPath("crops", png)
                row.object = path
                result.files.append((path, png))
            }
            result.subjects.append(row)
        }
        let kept = result.subjects.filter { $0.status == "ok" }.count
        let verdict: (reason: String, message: String)? =
            kept < max(1, config.minSubjects) ? ("no_subjects", "no subject passed the filters")
            : kept > config.maxSubjects ? ("too_many_subjects", "\(kept) subjects passed, the maximum is \(config.maxSubjects)")
            : nil
        if let verdict {
            // The sample is skipped: its subjects stay recorded, none keeps a crop.
            let subjects = result.subjects.map { subject -> SubjectRow in
                var s = subject
                if s.status == "ok" { (s.status, s.reason, s.object) = ("skipped", "sample_skipped", nil) }
                return s
            }
            var skipped = finish("skipped", verdict.reason, verdict.message)
            skipped.subjects = subjects
            return skipped
        }
        if config.canny {
            // JPEGs: libjpeg's own gray output, as cv2.imread(..., GRAYSCALE); others: the decoded RGB.
            let gray = ImageFormat.sniff(bytes) == .jpeg
                ? (try? ImageCodec.decodeGray(bytes, maxPixels: config.maxPixels)) ?? image.grayscale()
                : image.grayscale()
            if let png = try? ImageCodec.encodePNG(Canny.edges(gray, low: config.cannyLow, high: config.cannyHigh)) {
                let path = Self.objectPath("canny", png)
                result.canny = path
                result.files.append((path, png))
            }
        }
        return result
    }
}
