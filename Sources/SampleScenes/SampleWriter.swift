import BuildSupport
import Foundation
import Imaging

/// Writes generated scenes in every input layout the ingest stage reads, plus deliberate
/// defects (truncated, non-image, missing caption, non-UTF-8, duplicate, escaping paths).
public struct SampleWriter {
    /// The layouts, in the order the embedded manifest lists them.
    public enum Layout: String, CaseIterable, Sendable {
        case folder, img2dataset = "wds-img2dataset", subjectDiffusion = "wds-subject-diffusion"
        case jsonl, csv, tsv, coco
    }

    public let generator: SceneGenerator
    public let output: String
    /// Scenes per layout.
    public let perLayout: Int
    public let layouts: [Layout]
    public let defects: Bool
    /// Samples per tar shard.
    public var samplesPerTar = 16

    static let marker = ".eclipse-sample"

    /// - Parameter sizeRange: the scenes' side lengths (default the generator's 256...384; photo
    ///   sizes such as 1024...2048 for benchmarks on the images people have).
    public init(seed: UInt64, output: String, perLayout: Int, layouts: [Layout] = Layout.allCases, defects: Bool,
                sizeRange: ClosedRange<Int>? = nil) {
        var generator = SceneGenerator(seed: seed)
        if let sizeRange { generator.sizeRange = sizeRange }
        self.generator = generator
        self.output = URL(fileURLWithPath: output).standardizedFileURL.path
        self.perLayout = perLayout
        self.layouts = layouts
        self.defects = defects
    }

    /// Writes everything, replacing an earlier sample in `output` (and refusing to touch a
    /// folder that is not one).
    /// - Returns: counts of scenes written per layout.
    public func write() throws -> [String: Int] {
        let fm = FileManager.default
        if fm.fileExists(atPath: output) {
            guard fm.fileExists(atPath: output + "/" + Self.marker) else {
                throw PipelineError(.usage, "exists and is not a generated sample; refusing to overwrite", file: output)
            }
            try fm.removeItem(atPath: output)
        }
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        try write(Array("seed \(generator.seed), \(perLayout) scenes per layout\n".utf8), "\(Self.marker)")
        var counts: [String: Int] = [:]
        for (index, layout) in Layout.allCases.enumerated() where layouts.contains(layout) {
            let scenes = (0..<perLayout).map { index * 100_000 + $0 }
            switch layout {
            case .folder: try writeFolder(scenes)
            case .img2dataset: try writeTars(scenes, folder: layout.rawValue, subjectDiffusion: false)
            case .subjectDiffusion: try writeTars(scenes, folder: layout.rawValue, subjectDiffusion: true)
            case .jsonl, .csv, .tsv: try writeList(scenes, kind: layout)
            case .coco: try writeCOCO(scenes)
            }
            counts[layout.rawValue] = scenes.count
        }
        return counts
    }

    private func write(_ bytes: [UInt8], _ relative: String) throws {
        let path = output + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw PipelineError(.io, "cannot write", file: path)
        }
    }

    static func key(_ scene: Int) -> String { String(format: "%09d", scene) }

    static let instancePalette: [UInt8] = {
        var p: [UInt8] = [0, 0, 0]
        let colours: [(UInt8, UInt8, UInt8)] = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200),
                                                (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230)]
        for c in colours { p += [c.0, c.1, c.2] }
        return p
    }()

    struct Encoded {
        var scene: Scene
        var jpeg: [UInt8]
        var instancePNG: [UInt8]
    }

    private func encode(_ index: Int) throws -> Encoded {
        let scene = generator.scene(index)
        return Encoded(scene: scene, jpeg: try ImageCodec.encodeJPEG(scene.image, quality: 90),
                       instancePNG: try ImageCodec.encodePNG(scene.instances, palette: Self.instancePalette))
    }

    /// Subject-Diffusion JSON: the caption and `mask: [{value, label, logit, box}]`, value 0 = background.
    static func subjectDiffusionJSON(_ scene: Scene) -> [UInt8] {
        var masks: [JSONText.Value] = [.object(["value": .int(0), "label": .string("background"), "logit": .double(1),
                                                "box": .array([.int(0), .int(0), .int(scene.image.width), .int(scene.image.height)])])]
        for (i, o) in scene.objects.enumerated() {
            let logit = 0.35 + 0.6 * Double((o.value * 37 + i * 11) % 100) / 100
            masks.append(.object(["value": .int(o.value), "label": .string(o.kind.rawValue),
                                  "logit": .double((logit * 1000).rounded() / 1000),
                                  "box": .array(o.box.map { .int($0) })]))
        }
        return Array(JSONText.object(["caption": .string(scene.caption), "mask": .array(masks),
                                      "width": .int(scene.image.width), "height": .int(scene.image.height)]).utf8)
    }

    private func writeFolder(_ scenes: [Int]) throws {
        let base = Layout.folder.rawValue
        for index in scenes {
            let e = try encode(index)
            let stem = "\(base)/\(String(format: "%05d", index % 100_000 / 1000))/\(Self.key(index))"
            try write(e.jpeg, stem + ".jpg")
            try write(Array(e.scene.caption.utf8), stem + ".txt")
            try write(Self.subjectDiffusionJSON(e.scene), stem + ".json")
            try write(e.instancePNG, stem + ".png")
        }
        guard defects, let first = scenes.first else { return }
        let e = try encode(first)
        let bad = "\(base)/bad/"
        try write(Array(e.jpeg.prefix(e.jpeg.count * 6 / 10)), bad + "truncated.jpg")
        try write(Array("a truncated photo".utf8), bad + "truncated.txt")
        try write(Array("this is not an image\n".utf8), bad + "notimage.jpg")
        try write(Array("a text file named like an image".utf8), bad + "notimage.txt")
        try write(e.jpeg, bad + "nocaption.jpg")
        try write(try encode(first + 50_000).jpeg, bad + "latin1.jpg")
        try write([0x61, 0x20, 0x63, 0x61, 0x66, 0xE9, 0x20, 0x74, 0x61, 0x62, 0x6C, 0x65], bad + "latin1.txt")
        try write(e.jpeg, bad + "zz-duplicate.jpg")
        try write(Array(e.scene.caption.utf8), bad + "zz-duplicate.txt")
        try write(try encode(first + 50_001).jpeg, bad + "empty.jpg")
        try write(Array("  \n".utf8), bad + "empty.txt")
        try write(Array("a link that leaves the dataset".utf8), bad + "escape.txt")
        // Text defects for the tag stage: a caption with no object noun, and masks whose labels
        // the caption does not name.
        for (name, offset, caption) in [("nonoun", 50_002, "so pretty and so nice, isn't it?"),
                                         ("mislabel", 50_003, "a beautiful sunset over the mountains")] {
            var other = try encode(first + offset)
            other.scene.caption = caption
            try write(other.jpeg, bad + name + ".jpg")
            try write(Array(caption.utf8), bad + name + ".txt")
            try write(Self.subjectDiffusionJSON(other.scene), bad + name + ".json")
            try write(other.instancePNG, bad + name + ".png")
        }
        try FileManager.default.createSymbolicLink(atPath: output + "/" + bad + "escape.jpg", withDestinationPath: "/etc/hostname")
    }

    private func writeTars(_ scenes: [Int], folder: String, subjectDiffusion: Bool) throws {
        var shard = 0
        for chunk in stride(from: 0, to: scenes.count, by: samplesPerTar) {
            var tar = TarWriter()
            for index in scenes[chunk..<min(chunk + samplesPerTar, scenes.count)] {
                let e = try encode(index)
                let key = Self.key(index)
                tar.add(name: key + ".jpg", data: e.jpeg)
                tar.add(name: key + ".txt", data: Array(e.scene.caption.utf8))
                if subjectDiffusion {
                    tar.add(name: key + ".json", data: Self.subjectDiffusionJSON(e.scene))
                    tar.add(name: key + ".png", data: e.instancePNG)
                } else {
                    let meta = JSONText.object([
                        "url": .string("https://example.invalid/\(key).jpg"), "key": .string(key), "status": .string("success"),
                        "error_message": .null, "caption": .string(e.scene.caption),
                        "width": .int(e.scene.image.width), "height": .int(e.scene.image.height),
                        "original_width": .int(e.scene.image.width), "original_height": .int(e.scene.image.height),
                        "sha256": .string(SHA256.hex(e.jpeg)),
                    ])
                    tar.add(name: key + ".json", data: Array(meta.utf8))
                }
            }
            if defects && chunk == 0 && subjectDiffusion, let first = scenes.first {
                let e = try encode(first)
                tar.add(name: "../escape.jpg", data: e.jpeg)
                tar.add(name: "/abs/evil.jpg", data: e.jpeg)
                tar.add(name: "linked.jpg", data: [], type: UInt8(ascii: "2"), linkName: "/etc/passwd")
                // The first key again, with other content: a duplicate key.
                tar.add(name: Self.key(first) + ".jpg", data: try encode(first + 50_002).jpeg)
                tar.add(name: Self.key(first) + ".txt", data: Array("a reused key".utf8))
            }
            try write(tar.finish(), "\(folder)/\(String(format: "%05d", shard)).tar")
            shard += 1
        }
    }

    private func writeList(_ scenes: [Int], kind: Layout) throws {
        let base = "lists"
        var lines: [String] = []
        let separator = kind == .tsv ? "\t" : ","
        func field(_ s: String) -> String {
            kind == .csv && (s.contains(",") || s.contains("\"")) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        if kind != .jsonl { lines.append(["key", "image", "caption", "mask"].joined(separator: separator)) }
        for index in scenes {
            let e = try encode(index)
            let key = Self.key(index)
            try write(e.jpeg, "\(base)/images/\(key).jpg")
            if kind == .jsonl {
                var masks: [JSONText.Value] = []
                for o in e.scene.objects {
                    var binary = Raster(width: e.scene.image.width, height: e.scene.image.height, channels: 1)
                    for i in binary.pixels.indices where Int(e.scene.instances.pixels[i]) == o.value { binary.pixels[i] = 255 }
                    let path = "masks/\(key)_\(o.value).png"
                    try write(try ImageCodec.encodePNG(binary), "\(base)/\(path)")
                    masks.append(.object(["path": .string(path), "label": .string(o.kind.rawValue),
                                          "box": .array(o.box.map { .int($0) })]))
                }
                lines.append(JSONText.object(["key": .string(key), "image": .string("images/\(key).jpg"),
                                              "caption": .string(e.scene.caption), "masks": .array(masks)]))
            } else {
                try write(e.instancePNG, "\(base)/masks/\(key).png")
                lines.append([key, "images/\(key).jpg", field(e.scene.caption), "masks/\(key).png"].joined(separator: separator))
            }
        }
        if defects {
            switch kind {
            case .jsonl:
                lines.append(#"{"key": "escape", "image": "../../../etc/passwd", "caption": "a path that climbs out"}"#)
                lines.append(#"{"key": "remote", "image": "https://example.invalid/a.jpg", "caption": "not downloaded"}"#)
                lines.append(#"{"key": "missing", "image": "images/nowhere.jpg", "caption": "a missing file"}"#)
                lines.append(#"{"key": "broken", "image": "images/x.jpg", "caption": "#)
            case .csv:
                lines.append("short,images/x.jpg")
            default:
                lines.append(["absolute", "/etc/hostname", "an absolute path", ""].joined(separator: separator))
            }
        }
        try write(Array((lines.joined(separator: "\n") + "\n").utf8), "\(base)/sample.\(kind.rawValue)")
    }

    private func writeCOCO(_ scenes: [Int]) throws {
        let base = Layout.coco.rawValue
        var images: [JSONText.Value] = []
        var captions: [JSONText.Value] = []
        var instances: [JSONText.Value] = []
        var captionID = 1, annotationID = 1
        for (n, index) in scenes.enumerated() {
            let e = try encode(index)
            let id = n + 1
            let w = e.scene.image.width, h = e.scene.image.height
            let file = String(format: "%012d.jpg", id)
            try write(e.jpeg, "\(base)/images/\(file)")
            images.append(.object(["id": .int(id), "file_name": .string(file), "width": .int(w), "height": .int(h)]))
            var rng = SeededRandom(seed: generator.seed, stream: UInt64(index) &+ 7_777_777)
            let second = SceneGenerator.caption(e.scene.objects, background: e.scene.background, rng: &rng)
            for text in [e.scene.caption, second] {
                captions.append(.object(["id": .int(captionID), "image_id": .int(id), "caption": .string(text)]))
                captionID += 1
            }
            for o in e.scene.objects {
                let segmentation: JSONText.Value
                if let outline = o.outline {
                    segmentation = .array([.array(outline.map { .double(($0 * 100).rounded() / 100) })])
                } else {
                    let counts = COCOMask.counts(of: Mask(instanceMap: e.scene.instances, value: o.value))
                    let encoded: JSONText.Value = annotationID % 2 == 0
                        ? .string(COCOMask.string(fromCounts: counts)) : .array(counts.map { .int($0) })
                    segmentation = .object(["size": .array([.int(h), .int(w)]), "counts": encoded])
                }
                let box = [o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]]
                instances.append(.object([
                    "id": .int(annotationID), "image_id": .int(id),
                    "category_id": .int(ObjectClass.allCases.firstIndex(of: o.kind)! + 1),
                    "segmentation": segmentation, "area": .int(o.area), "bbox": .array(box.map { .int($0) }),
                    "iscrowd": .int(o.outline == nil && annotationID % 2 == 1 ? 1 : 0),
                ]))
                annotationID += 1
            }
        }
        let categories: [JSONText.Value] = ObjectClass.allCases.enumerated().map {
            .object(["id": .int($0.offset + 1), "name": .string($0.element.rawValue), "supercategory": .string("object")])
        }
        try write(Array(JSONText.object(["images": .array(images), "annotations": .array(captions)]).utf8),
                  "\(base)/annotations/captions.json")
        try write(Array(JSONText.object(["images": .array(images), "annotations": .array(instances),
                                         "categories": .array(categories)]).utf8),
                  "\(base)/annotations/instances.json")
    }
}
