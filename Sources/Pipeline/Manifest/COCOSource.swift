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
        guard let captionsData = FileManager.default.contents(atPath: captionsPath),
              let captions = JSONText.parse(Array(captionsData)) as? [String: Any] else {
            throw PipelineError(.manifest, "cannot read COCO captions JSON", file: captionsPath)
        }
        var images: [(id: Int, file: String)] = []
        for image in captions["images"] as? [[String: Any]] ?? [] {
            if let id = (image["id"] as? NSNumber)?.intValue, let file = image["file_name"] as? String {
                images.append((id, file))
            }
        }
        images.sort { $0.id < $1.id }
        var captionsByImage: [Int: [(id: Int, text: String)]] = [:]
        for annotation in captions["annotations"] as? [[String: Any]] ?? [] {
            guard let image = (annotation["image_id"] as? NSNumber)?.intValue else { continue }
            let id = (annotation["id"] as? NSNumber)?.intValue ?? 0
            captionsByImage[image, default: []].append((id, annotation["caption"] as? String ?? ""))
        }
        var masksByImage: [Int: [MaskSource]] = [:]
        let instancesPath = root + "/" + config.instances
        if FileManager.default.fileExists(atPath: instancesPath) {
            guard let data = FileManager.default.contents(atPath: instancesPath),
                  let instances = JSONText.parse(Array(data)) as? [String: Any] else {
                throw PipelineError(.manifest, "cannot parse COCO instances JSON", file: instancesPath)
            }
            var categories: [Int: String] = [:]
            for c in instances["categories"] as? [[String: Any]] ?? [] {
                if let id = (c["id"] as? NSNumber)?.intValue { categories[id] = c["name"] as? String ?? "\(id)" }
            }
            let annotations = (instances["annotations"] as? [[String: Any]] ?? [])
                .sorted { (($0["id"] as? NSNumber)?.intValue ?? 0) < (($1["id"] as? NSNumber)?.intValue ?? 0) }
            for a in annotations {
                guard let image = (a["image_id"] as? NSNumber)?.intValue, let segmentation = a["segmentation"] else { continue }
                let label = categories[(a["category_id"] as? NSNumber)?.intValue ?? -1] ?? "unknown"
                let bbox = (a["bbox"] as? [Any])?.compactMap(JSONText.number) ?? []
                let box = bbox.count == 4 ? [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]] : bbox
                let kind = segmentation is [Any] ? "coco_polygon" : "coco_rle"
                masksByImage[image, default: []].append(.coco(kind: kind, label: label, box: box,
                                                              data: JSONText.canonical(segmentation)))
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
}
