import BuildSupport
import Foundation
internal import Yams

/// A pipeline config (`pipelines/<name>.yaml`): the build it makes, the manifest it reads, and
/// each stage's settings. Relative paths are relative to the file that holds them.
public struct PipelineConfig: Codable, Sendable, Equatable {
    /// The build's name.
    public var name: String
    /// Build directory (absolute once loaded).
    public var buildDir: String
    /// Manifest file (absolute once loaded).
    public var manifest: String
    /// Samples per work unit.
    public var unitSize: Int
    /// The ingest stage.
    public var ingest: IngestConfig
    /// The tag stage.
    public var tag: TagConfig
    /// The segment stage (off by default).
    public var segment: SegmentConfig
    /// The crop stage.
    public var crop: CropConfig
    /// The embed stage.
    public var embed: EmbedConfig
    /// The shard stage.
    public var shard: ShardConfig
    /// Prior training (`prior train`).
    public var train: TrainConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, buildDir = "build_dir", manifest, unitSize = "unit_size", ingest, tag, segment, crop, embed, shard, train
    }

    public init(name: String, buildDir: String, manifest: String, unitSize: Int = 1000, ingest: IngestConfig = .init(),
                tag: TagConfig = .init(), segment: SegmentConfig = .init(), crop: CropConfig = .init(), embed: EmbedConfig = .init(),
                shard: ShardConfig = .init(), train: TrainConfig = .init()) {
        self.name = name
        self.buildDir = buildDir
        self.manifest = manifest
        self.unitSize = unitSize
        self.ingest = ingest
        self.tag = tag
        self.segment = segment
        self.crop = crop
        self.embed = embed
        self.shard = shard
        self.train = train
    }

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(PipelineConfig(name: "", buildDir: "", manifest: ""), CodingKeys.self, [
            .required(.name, \.name),
            // The build folder defaults to one named after the build, beside the pipelines folder.
            ConfigField { config, c in config.buildDir = try c.decodeIfPresent(String.self, forKey: .buildDir) ?? "../builds/\(config.name)" },
            .required(.manifest, \.manifest), .field(.unitSize, \.unitSize), .field(.ingest, \.ingest), .field(.tag, \.tag),
            .field(.segment, \.segment), .field(.crop, \.crop), .field(.embed, \.embed), .field(.shard, \.shard), .field(.train, \.train),
        ])
    }

    /// Checks values that decoding cannot.
    public func validate() throws {
        guard unitSize >= 1 else { throw PipelineError(.config, "must be at least 1", key: "unit_size") }
        try ingest.validate()
        try segment.validate()
        try crop.validate()
        try embed.validate()
        try shard.validate()
        try train.validate()
    }

    /// Loads a pipeline file, applies `--set key.path=value` overrides, resolves relative paths.
    /// - Throws: ``PipelineError`` `.config` naming the file and key for unknown keys, bad
    ///   values and malformed YAML.
    public static func load(path: String, overrides: [String] = []) throws -> PipelineConfig {
        var config: PipelineConfig = try ConfigLoader.load(path: path, overrides: overrides)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        config.buildDir = ConfigLoader.resolve(config.buildDir, against: base)
        config.manifest = ConfigLoader.resolve(config.manifest, against: base)
        if !config.embed.model.isEmpty { config.embed.model = ConfigLoader.resolve(config.embed.model, against: base) }
        if !config.segment.model.isEmpty { config.segment.model = ConfigLoader.resolve(config.segment.model, against: base) }
        if !config.train.prior.isEmpty { config.train.prior = ConfigLoader.resolve(config.train.prior, against: base) }
        if !config.tag.tokenizer.isEmpty { config.tag.tokenizer = ConfigLoader.resolve(config.tag.tokenizer, against: base) }
        try config.validate()
        return config
    }

    /// The resolved config as canonical JSON (sorted keys): what a run stores.
    public func canonicalJSON() -> String { ConfigLoader.canonicalJSON(self) }
}

/// Settings of the ingest stage.
public struct IngestConfig: Codable, Sendable, Equatable {
    /// Refuse images with more pixels than this (checked from the header).
    public var maxPixels: Int = 178_956_970
    /// Refuse image files larger than this many bytes.
    public var maxFileBytes: Int = 64 << 20
    /// Refuse captions longer than this many UTF-8 bytes.
    public var maxCaptionBytes: Int = 4096
    /// Refuse entries with more masks than this.
    public var maxMasks: Int = 64
    /// `header`: read headers and check the end marker; `decode`: decode every image fully.
    public var verify: String = "header"
    /// COCO: `all` captions of an image as separate samples, or only the `first`.
    public var cocoCaptions: String = "all"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxPixels = "max_pixels", maxFileBytes = "max_file_bytes", maxCaptionBytes = "max_caption_bytes"
        case maxMasks = "max_masks", verify, cocoCaptions = "coco_captions"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        self = try decoder.decodeSection(IngestConfig(), CodingKeys.self, [
            .field(.maxPixels, \.maxPixels), .field(.maxFileBytes, \.maxFileBytes),
            .field(.maxCaptionBytes, \.maxCaptionBytes), .field(.maxMasks, \.maxMasks),
            .field(.verify, \.verify), .field(.cocoCaptions, \.cocoCaptions),
        ])
    }

    func validate() throws {
        guard ["header", "decode"].contains(verify) else {
            throw PipelineError(.config, "must be 'header' or 'decode', not '\(verify)'", key: "ingest.verify")
        }
        guard ["all", "first"].contains(cocoCaptions) else {
            throw PipelineError(.config, "must be 'all' or 'first', not '\(cocoCaptions)'", key: "ingest.coco_captions")
        }
        for (key, value) in [("max_pixels", maxPixels), ("max_file_bytes", maxFileBytes),
                             ("max_caption_bytes", maxCaptionBytes), ("max_masks", maxMasks)] where value < 1 {
            throw PipelineError(.config, "must be at least 1", key: "ingest.\(key)")
        }
    }
}

/// YAML loading shared by pipeline and manifest files.
package enum ConfigLoader {
    static func load<T: Decodable>(path: String, overrides: [String]) throws -> T {
        let text: String
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw PipelineError(.config, "no such file", file: path) }
        guard !isFolder.boolValue else { throw PipelineError(.config, "is a folder, not a YAML file", file: path) }
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PipelineError(.config, "cannot read as UTF-8 text", file: path)
        }
        var tree: Any = [String: Any]()
        do {
            // Yams' untyped loader force-unwraps non-scalar mapping keys (`{a: 1}: x` traps; found
            // by the fuzz harness): refuse them from the composed node tree first.
            if let node = try Yams.compose(yaml: text) { try requireScalarKeys(node) }
            tree = try Yams.load(yaml: text) ?? [String: Any]()
            for override in overrides { tree = try apply(override, to: tree) }
            let normalised = try Yams.dump(object: tree)
            return try YAMLDecoder().decode(T.self, from: normalised)
        } catch var error as PipelineError {
            error.file = error.file ?? path
            throw error
        } catch let DecodingError.keyNotFound(key, context) {
            throw PipelineError(.config, "required key is missing", file: path, key: ConfigKeyPath.render(context.codingPath + [key]))
        } catch let DecodingError.dataCorrupted(context) where context.underlyingError is PipelineError {
            var error = context.underlyingError as! PipelineError
            error.file = error.file ?? path
            throw error
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw PipelineError(.config, "expected \(ConfigKeyPath.expected(type)), got \(ConfigKeyPath.value(at: context.codingPath, in: tree))",
                                file: path, key: ConfigKeyPath.render(context.codingPath))
        } catch let DecodingError.dataCorrupted(context) {
            throw PipelineError(.config, "bad value \(ConfigKeyPath.value(at: context.codingPath, in: tree)): \(context.debugDescription)",
                                file: path, key: ConfigKeyPath.render(context.codingPath))
        } catch {
            throw PipelineError(.config, "malformed YAML: \(error)", file: path)
        }
    }

    /// Throws when any mapping key is not a plain scalar.
    static func requireScalarKeys(_ node: Node, depth: Int = 0) throws {
        guard depth < 256 else { throw PipelineError(.config, "malformed YAML: nested more than 256 levels") }
        switch node {
        case .scalar, .alias:
            return
        case .sequence(let sequence):
            for item in sequence { try requireScalarKeys(item, depth: depth + 1) }
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard case .scalar = key else {
                    throw PipelineError(.config, "malformed YAML: a mapping key must be a plain scalar, not \(key.mapping != nil ? "a mapping" : key.sequence != nil ? "a sequence" : "an alias") (line \(key.mark?.line ?? 0))")
                }
                try requireScalarKeys(value, depth: depth + 1)
            }
        }
    }

    /// Applies one `a.b.c=value` override; the value is parsed as a YAML scalar.
    static func apply(_ override: String, to tree: Any) throws -> Any {
        guard let eq = override.firstIndex(of: "=") else {
            throw PipelineError(.config, "override '\(override)' is not key.path=value")
        }
        let keys = override[..<eq].split(separator: ".").map(String.init)
        let valueText = String(override[override.index(after: eq)...])
        let value = (try? Yams.load(yaml: valueText)).flatMap { $0 } ?? valueText
        guard !keys.isEmpty else { throw PipelineError(.config, "override '\(override)' has an empty key") }
        func set(_ node: Any, _ keys: ArraySlice<String>) -> Any {
            var map = node as? [String: Any] ?? [:]
            let key = keys.first!
            map[key] = keys.count == 1 ? value : set(map[key] ?? [String: Any](), keys.dropFirst())
            return map
        }
        return set(tree, keys[...])
    }

    static func resolve(_ path: String, against base: URL) -> String {
        path.hasPrefix("/") ? URL(fileURLWithPath: path).standardizedFileURL.path
            : base.appendingPathComponent(path).standardizedFileURL.path
    }

    package static func canonicalJSON<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
