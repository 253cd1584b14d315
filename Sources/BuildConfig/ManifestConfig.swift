import BuildSupport
import Foundation

/// A dataset manifest (`manifests/<dataset>.yaml`): the input sources, in order. Entry positions
/// (and so work units) are numbered across the sources in this order.
public struct ManifestConfig: Codable, Sendable, Equatable {
    /// The dataset's name.
    public var name: String
    /// Input sources, read in order.
    public var sources: [SourceConfig]

    enum CodingKeys: String, CodingKey, CaseIterable { case name, sources }

    public init(name: String, sources: [SourceConfig]) {
        self.name = name
        self.sources = sources
    }

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(ManifestConfig(name: "", sources: []), CodingKeys.self,
                                         [.required(.name, \.name), .required(.sources, \.sources)])
    }

    /// Loads a manifest and resolves each source's paths against the manifest's folder.
    /// - Throws: ``PipelineError`` `.config`.
    public static func load(path: String) throws -> ManifestConfig {
        var manifest: ManifestConfig = try ConfigLoader.load(path: path, overrides: [])
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        var names = Set<String>()
        for i in manifest.sources.indices {
            manifest.sources[i].path = ConfigLoader.resolve(manifest.sources[i].path, against: base)
            if manifest.sources[i].name == nil {
                manifest.sources[i].name = URL(fileURLWithPath: manifest.sources[i].path).lastPathComponent
            }
            let name = manifest.sources[i].name!
            guard names.insert(name).inserted else {
                throw PipelineError(.config, "two sources are named '\(name)'; give each a distinct name",
                                    file: path, key: "sources[\(i)].name")
            }
        }
        guard !manifest.sources.isEmpty else {
            throw PipelineError(.config, "a manifest needs at least one source", file: path, key: "sources")
        }
        return manifest
    }
}

/// One input source of a manifest.
public struct SourceConfig: Codable, Sendable, Equatable {
    /// The input layouts the ingest stage reads.
    public enum Format: String, Codable, Sendable, CaseIterable {
        /// A folder tree of `key.jpg` + `key.txt` (+ `key.json`, `key.png`).
        case folder
        /// WebDataset tar files (img2dataset or Subject-Diffusion layout).
        case webdataset
        /// JSON lines, one object per sample.
        case jsonl
        /// Comma-separated values with a header row.
        case csv
        /// Tab-separated values with a header row.
        case tsv
        /// A COCO root: an image folder plus captions and instances JSON.
        case coco
    }

    /// A unique name (defaults to the last path component).
    public var name: String?
    /// The layout.
    public var format: Format
    /// The folder, tar file or folder of tars, list file, or COCO root.
    public var path: String
    /// WebDataset layout: `auto`, `img2dataset` or `subject-diffusion`.
    public var layout: String = "auto"
    /// List column holding the image path (relative to the list file's folder).
    public var imageColumn: String = "image"
    /// List column holding the caption.
    public var captionColumn: String = "caption"
    /// List column holding the key (defaults to the image path without extension).
    public var keyColumn: String = "key"
    /// List column holding an instance-map PNG path.
    public var maskColumn: String = "mask"
    /// COCO: image folder under `path`.
    public var images: String = "images"
    /// COCO: captions JSON under `path`.
    public var captions: String = "annotations/captions.json"
    /// COCO: instances JSON under `path` (optional file).
    public var instances: String = "annotations/instances.json"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, format, path, layout, imageColumn = "image_column", captionColumn = "caption_column"
        case keyColumn = "key_column", maskColumn = "mask_column", images, captions, instances
    }

    public init(name: String? = nil, format: Format, path: String) {
        self.name = name
        self.format = format
        self.path = path
    }

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(SourceConfig(format: .folder, path: ""), CodingKeys.self, [
            .field(.name, \.name),
            .choice(.format, \.format, required: true, known: Format.allCases.map(\.rawValue)) { Format(rawValue: $0) },
            .required(.path, \.path),
            .choice(.layout, \.layout, known: Self.layouts) { Self.layouts.contains($0) ? $0 : nil },
            .field(.imageColumn, \.imageColumn), .field(.captionColumn, \.captionColumn), .field(.keyColumn, \.keyColumn),
            .field(.maskColumn, \.maskColumn), .field(.images, \.images), .field(.captions, \.captions),
            .field(.instances, \.instances),
        ])
    }

    /// The WebDataset layouts `layout` may name.
    static let layouts = ["auto", "img2dataset", "subject-diffusion"]
}
