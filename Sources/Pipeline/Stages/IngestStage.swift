public import BuildConfig
import BuildSupport
public import Catalog
import Foundation
import Imaging

/// The ingest stage: reads each manifest entry's image header (or whole image), caption, JSON and
/// mask references, computes the content id, and records the entry with its status in the
/// catalog. Bad entries are recorded with a reason; the stage goes on.
public struct IngestStage: UnitProcessor {
    public typealias Item = EntryDescriptor

    public let pipeline: PipelineConfig
    public let manifest: ManifestConfig
    public var stage: String { "ingest" }
    public let configHash: String
    public let configJSON: String

    /// - Throws: ``PipelineError`` when the manifest cannot be read.
    public init(pipeline: PipelineConfig) throws {
        self.pipeline = pipeline
        manifest = try ManifestConfig.load(path: pipeline.manifest)
        configJSON = ConfigLoader.canonicalJSON(ResolvedConfig(pipeline: pipeline, manifest: manifest))
        configHash = StageKeys.ingest(pipeline: pipeline, manifest: manifest)
    }

    struct ResolvedConfig: Encodable {
        var pipeline: PipelineConfig
        var manifest: ManifestConfig
    }

    /// The manifest reader for this stage's config.
    public var reader: ManifestReader { ManifestReader(manifest: manifest, ingest: pipeline.ingest) }

    public func prepare(_ catalog: Catalog) throws {
        try reader.validate()
        for source in reader.roots() {
            try catalog.recordSource(name: source.name, format: source.format, root: source.root, optionsJSON: source.options)
        }
    }

    public func process(unit: Int, firstPosition: Int, items: [EntryDescriptor]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    public func process(unit: Int, firstPosition: Int, items: [EntryDescriptor], progress: ItemProgress) throws -> UnitOutput {
        let config = pipeline.ingest
        let entries = ParallelMap.map(Array(items.enumerated())) { i, item in
            defer { progress.advance() }
            return Self.ingest(item, position: firstPosition + i, unit: unit, config: config)
        }
        return UnitOutput { catalog, db in
            try catalog.replaceEntries(unit: unit, entries, in: db).map(\.outcome)
        }
    }

    /// Reads and checks one entry. Never throws: every problem becomes a failed record.
    static func ingest(_ entry: EntryDescriptor, position: Int, unit: Int, config: IngestConfig) -> EntryRecord {
        var record = EntryRecord(position: position, unit: unit, source: entry.source, sourceKey: entry.key)
        func fail(_ refusal: FileIO.Refusal) -> EntryRecord {
            record.outcome = .failed(refusal.reason, refusal.message)
            return record
        }
        if let problem = entry.problem { return fail(problem) }
        guard let imageRef = entry.image else { return fail(.init(.missingImage, "no image")) }
        record.imageRef = imageRef.json
        do throws(FileIO.Refusal) {
            let image = try read(imageRef, root: entry.root, isConfined: entry.isConfined, maxBytes: config.maxFileBytes)
            record.imageBytes = image.count
            let info: ImageInfo
            do {
                info = try ImageCodec.probe(image)
                if info.width * info.height > config.maxPixels {
                    throw ImagingError(.tooLarge, "\(info.width)x\(info.height) exceeds the cap of \(config.maxPixels) pixels")
                }
                if config.verify == "decode" { _ = try ImageCodec.decodeRGB(image, maxPixels: config.maxPixels) }
            } catch let error as ImagingError {
                throw FileIO.Refusal(Reason(error.code), error.message)
            } catch {
                throw FileIO.Refusal(.corruptImage, "\(error)")
            }
            record.width = info.width
            record.height = info.height
            record.format = info.format.rawValue

            var json: SampleJSON?
            if let jsonRef = entry.json {
                let bytes = try read(jsonRef, root: entry.root, isConfined: entry.isConfined, maxBytes: 1 << 20)
                do { json = try SampleJSON(JSONValue.parse(bytes)) } catch {
                    throw FileIO.Refusal(.badJSON, "the entry's JSON: \(error)")
                }
                record.metadataJSON = String(decoding: bytes, as: UTF8.self)
            }

            let caption: String
            switch entry.caption {
            case .text(let text): caption = text
            case .file(let ref):
                let bytes = try read(ref, root: entry.root, isConfined: entry.isConfined, maxBytes: max(config.maxCaptionBytes * 4, 1 << 16))
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    throw FileIO.Refusal(.nonUTF8Caption, "caption file is not valid UTF-8")
                }
                caption = text
            case .none:
                guard let text = json?.caption else {
                    throw FileIO.Refusal(.missingCaption, "no caption (no .txt file or caption field)")
                }
                caption = text
            }
            let trimmed = caption.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw FileIO.Refusal(.missingCaption, "caption is empty") }
            guard trimmed.utf8.count <= config.maxCaptionBytes else {
                throw FileIO.Refusal(.captionTooLong, "caption has \(trimmed.utf8.count) bytes, the cap is \(config.maxCaptionBytes)")
            }
            record.caption = trimmed
            record.masks = try masks(entry, json: json, root: entry.root)
            guard record.masks.count <= config.maxMasks else {
                throw FileIO.Refusal(.tooManyMasks, "\(record.masks.count) masks, the cap is \(config.maxMasks)")
            }
            var hasher = SHA256()
            hasher.update(image)
            hasher.update(trimmed)
            record.sampleID = hasher.finalize().hexPrefix(16)
            return record
        } catch {
            return fail(error)
        }
    }

    static func read(_ ref: FileRef, root: String, isConfined: Bool = false, maxBytes: Int) throws(FileIO.Refusal) -> [UInt8] {
        switch ref {
        case .file(let relative):
            let path = isConfined ? root + "/" + relative : try FileIO.confine(relative, to: root)
            return try FileIO.read(path, maxBytes: maxBytes)
        case .tarMember(let tar, _, let offset, let size):
            return try FileIO.read(root + "/" + tar, offset: offset, size: size, maxBytes: maxBytes)
        }
    }

    /// Mask references: instance-map values from the Subject-Diffusion JSON, binary PNGs, COCO.
    static func masks(_ entry: EntryDescriptor, json: SampleJSON?, root: String) throws(FileIO.Refusal) -> [MaskRecord] {
        var records: [MaskRecord] = []
        for mask in entry.masks {
            switch mask {
            case .instanceMap(let ref):
                if case .file(let path) = ref, !entry.isConfined { _ = try FileIO.confine(path, to: root) }
                let refJSON = ref.json
                let listed = (json?.mask ?? []).filter { $0.value > 0 }
                if listed.isEmpty {
                    records.append(MaskRecord(k: records.count, kind: "instance_map", ref: refJSON))
                }
                for item in listed {
                    records.append(MaskRecord(
                        k: records.count, kind: "instance_map", ref: refJSON, value: Int(item.value), label: item.label,
                        score: item.logit, boxJSON: item.box.map { JSONText.render(.array($0.map { .double($0) })) }))
                }
            case .binary(let ref, let label, let box):
                if case .file(let path) = ref { _ = try FileIO.confine(path, to: root) }
                records.append(MaskRecord(k: records.count, kind: "binary_png", ref: ref.json, label: label,
                                          boxJSON: box.map { JSONText.render(.array($0.map { .double($0) })) }))
            case .coco(let kind, let label, let box, let data):
                records.append(MaskRecord(k: records.count, kind: kind, label: label,
                                          boxJSON: JSONText.render(.array(box.map { .double($0) })), dataJSON: data))
            }
        }
        if json?.mask != nil && !entry.masks.contains(where: { if case .instanceMap = $0 { return true }; return false }) {
            throw FileIO.Refusal(.missingMask, "the JSON lists masks but the entry has no instance-map PNG")
        }
        return records
    }
}

/// The fields of a per-sample JSON the ingest stage reads: img2dataset's `caption`, and
/// Subject-Diffusion's `mask: [{value, label, logit, box}]` (value 0 is the background).
struct SampleJSON {
    struct Mask {
        /// Instance value; some writers store it as a float.
        var value: Double
        var label: String?
        var logit: Double?
        var box: [Double]?
    }

    var caption: String?
    var mask: [Mask]?

    init(_ json: JSONValue) throws(JSONValue.ParseError) {
        guard json.members != nil else { throw JSONValue.ParseError(offset: 0, message: "not an object") }
        caption = json["caption"]?.string
        guard let list = json["mask"] else { return }
        guard let items = list.array else { throw JSONValue.ParseError(offset: 0, message: "'mask' is not a list") }
        mask = try items.map { item throws(JSONValue.ParseError) in
            guard let value = item["value"]?.number else {
                throw JSONValue.ParseError(offset: 0, message: "a mask item has no numeric 'value'")
            }
            return Mask(value: value, label: item["label"]?.string, logit: item["logit"]?.number,
                        box: item["box"]?.array?.compactMap(\.number))
        }
    }
}
