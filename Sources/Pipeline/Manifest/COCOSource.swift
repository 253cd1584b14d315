import BuildConfig
import BuildSupport
import Foundation

/// Entries of a COCO dataset: every (image, caption) pair of the captions JSON, with the image's
/// instance annotations (polygons or RLE) as masks.
///
/// COCO's annotation files are single JSON documents whose annotations are not grouped by image,
/// so they are parsed whole (memory grows with the annotation files, not with image data).
struct COCOSource {
    let name: String
    let config: SourceConfig
    let captionsPerImage: String

    func entries() throws -> AnyIterator<EntryDescriptor> {
        let root = config.path
        let captionsPath = root + "/" + config.captions
        let captions = try Self.load(captionsPath)
        var images: [(id: Int, file: String)] = []
        for image in captions["images"]?.array ?? [] {
            if let id = image["id"]?.int, let file = image["file_name"]?.string { images.append((id, file)) }
        }
        images.sort { $0.id < $1.id }
        var captionsByImage: [Int: [(id: Int, text: String)]] = [:]
        for annotation in captions["annotations"]?.array ?? [] {
            guard let image = annotation["image_id"]?.int else { continue }
            captionsByImage[image, default: []].append((annotation["id"]?.int ?? 0, annotation["caption"]?.string ?? ""))
        }
        var masksByImage: [Int: [MaskSource]] = [:]
        let instancesPath = root + "/" + config.instances
        if FileManager.default.fileExists(atPath: instancesPath) {
            let instances = try Self.load(instancesPath)
            var categories: [Int: String] = [:]
            for c in instances["categories"]?.array ?? [] {
                if let id = c["id"]?.int { categories[id] = c["name"]?.string ?? "\(id)" }
            }
            let annotations = (instances["annotations"]?.array ?? []).sorted { ($0["id"]?.int ?? 0) < ($1["id"]?.int ?? 0) }
            for a in annotations {
                guard let image = a["image_id"]?.int, let segmentation = a["segmentation"] else { continue }
                let label = categories[a["category_id"]?.int ?? -1] ?? "unknown"
                let bbox = a["bbox"]?.array?.compactMap(\.number) ?? []
                let box = bbox.count == 4 ? [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]] : bbox
                let kind = segmentation.array != nil ? "coco_polygon" : "coco_rle"
                masksByImage[image, default: []].append(.coco(kind: kind, label: label, box: box, data: segmentation.canonical))
            }
        }
        let imagesFolder = config.images
        let firstOnly = captionsPerImage == "first"
        var imageIndex = 0
        var pending: [EntryDescriptor] = []
        return AnyIterator {
            while pending.isEmpty {
                guard imageIndex < images.count else { return nil }
                let image = images[imageIndex]
                imageIndex += 1
                var texts = (captionsByImage[image.id] ?? []).sorted { $0.id < $1.id }
                if firstOnly { texts = Array(texts.prefix(1)) }
                let ref = FileRef.file(imagesFolder + "/" + image.file)
                if texts.isEmpty {
                    pending = [EntryDescriptor(source: name, key: "\(image.id)", root: root, image: ref,
                                               masks: masksByImage[image.id] ?? [])]
                } else {
                    pending = texts.reversed().map { caption in
                        EntryDescriptor(source: name, key: "\(image.id)/\(caption.id)", root: root, image: ref,
                                        caption: .text(caption.text), masks: masksByImage[image.id] ?? [])
                    }
                }
            }
            return pending.popLast()
        }
    }

    static func load(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError(.manifest, "cannot read COCO JSON", file: path)
        }
        do { return try JSONValue.parse(data) } catch {
            throw PipelineError(.manifest, "\(error)", file: path)
        }
    }
}
