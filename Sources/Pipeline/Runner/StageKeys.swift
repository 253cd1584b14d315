public import BuildConfig
import BuildSupport
public import Catalog
import Formats
import Foundation
import Models
import Text

/// The chain of stage keys (the config hashes the catalog records units under) for one pipeline
/// config, each computed once from the config and the digests of the resources it names,
/// without constructing any stage: no tagger is compiled and no model is loaded to learn a key.
///
/// Each key covers its stage's settings and the key of the stage it reads, so a change anywhere
/// upstream changes every key below it:
///
///     ingest = H(unit size, ingest settings, the manifest's sources)
///     tag    = H(tagger, BPE and entity tables, custom tokenizer files, tag settings, ingest)
///     segment = H(segment settings less model path and threads, tag, the CLIPSeg weights' SHA-256)
///     crop   = H(crop settings, segment when enabled, else tag)
///     embed  = H(embed settings less model path and threads, crop, the weights' SHA-256)
///     shard  = H(shard settings, embed, shard schema)
///
/// Segment hashes its CLIPSeg weights when enabled (a disabled segment stage leaves every key as
/// it was before the stage existed). Embed hashes its weights (`modelDigest(directory:)`). The shard
/// stage takes embed's key from the catalog instead (`recordedEmbed(in:)`): the digest of the
/// weights embed ran with is in its feature files' metadata.
public final class StageKeys {
    public let pipeline: PipelineConfig
    private var memo: [String: String] = [:]

    public init(pipeline: PipelineConfig) {
        self.pipeline = pipeline
    }

    private func remembered(_ name: String, _ make: () throws -> String) rethrows -> String {
        if let key = memo[name] { return key }
        let key = try make()
        memo[name] = key
        return key
    }

    /// The first 16 hex digits of the SHA-256 of `bytes`: every key's form.
    static func key(_ bytes: [UInt8]) -> String { String(SHA256.hex(bytes).prefix(16)) }

    struct IngestHashed: Encodable {
        var unitSize: Int
        var ingest: IngestConfig
        var sources: [SourceConfig]
    }

    /// The ingest key for a manifest already loaded (the ingest stage has it). Source paths
    /// count as the manifest gives them, relative to its folder, so the same data and manifest
    /// in another folder (another checkout, another machine), or built into another build
    /// folder, have the same keys and byte-identical outputs.
    static func ingest(pipeline: PipelineConfig, manifest: ManifestConfig) -> String {
        let folder = URL(fileURLWithPath: pipeline.manifest).deletingLastPathComponent().path
        let sources = manifest.sources.map { source in
            var relative = source
            relative.path = Catalog.relative(source.path, to: folder)
            return relative
        }
        return key(Array(ConfigLoader.canonicalJSON(IngestHashed(unitSize: pipeline.unitSize, ingest: pipeline.ingest,
                                                                 sources: sources)).utf8))
    }

    /// - Throws: ``PipelineError`` when the manifest cannot be read.
    public func ingest() throws -> String {
        try remembered("ingest") { Self.ingest(pipeline: pipeline, manifest: try ManifestConfig.load(path: pipeline.manifest)) }
    }

    /// - Throws: ``PipelineError`` when the manifest or the bundled text resources cannot be read.
    public func tag() throws -> String {
        try remembered("tag") {
            let config = pipeline.tag
            var hashed = try TextResources.bundledBytes()
            if !config.tokenizer.isEmpty { hashed += TextResources.tokenizerBytes(directory: config.tokenizer) }
            // The tokenizer's files are hashed above; where they live is not part of the key.
            var settings = config
            settings.tokenizer = config.tokenizer.isEmpty ? "" : "custom"
            hashed += Array((ConfigLoader.canonicalJSON(settings) + (try ingest())).utf8)
            return Self.key(hashed)
        }
    }

    /// - Throws: ``PipelineError`` when the segment stage is enabled without a model, or its
    ///   weights cannot be read.
    public func segment() throws -> String {
        try remembered("segment") {
            var settings = pipeline.segment
            guard settings.enabled, !settings.model.isEmpty else {
                throw PipelineError(.config, "set the CLIPSeg model directory (make models, or make-sample --random-clipseg)", key: "segment.model")
            }
            let digest: String
            do { digest = try Self.modelDigest(directory: settings.model) } catch {
                throw PipelineError(.config, "cannot read the CLIPSeg weights in \(settings.model): \(error)", key: "segment.model")
            }
            // The weights are in the key by digest, not by where they live; threads change no result.
            settings.model = ""
            settings.threads = 0
            return Self.key(Array((ConfigLoader.canonicalJSON(settings) + (try tag()) + digest).utf8))
        }
    }

    /// Crop reads the segment stage's masks when it is enabled, so its key follows segment's.
    public func crop() throws -> String {
        try remembered("crop") {
            let upstream = pipeline.segment.enabled ? "segment " + (try segment()) : try tag()
            return Self.key(Array((ConfigLoader.canonicalJSON(pipeline.crop) + upstream).utf8))
        }
    }

    /// The SHA-256 of a model directory's weights: of its one file, or of the newline-joined
    /// digests of its shards. Reads every byte (about 5 s for ViT-bigG/14 here).
    public static func modelDigest(directory: String) throws -> String {
        let files = try LoadedModel.weightFiles(directory: directory)
        if files.count == 1 { return try SHA256.hex(file: files[0]) }
        return SHA256.hex(Array(try files.map { try SHA256.hex(file: $0) }.joined(separator: "\n").utf8))
    }

    /// The embed key for weights of digest `modelDigest`.
    public func embed(modelDigest: String) throws -> String {
        var settings = pipeline.embed
        // The weights are in the key by digest, not by where they live; threads change no result.
        settings.model = ""
        settings.threads = 0
        return Self.key(Array((ConfigLoader.canonicalJSON(settings) + (try crop()) + modelDigest).utf8))
    }

    public func shard(embed: String) -> String {
        Self.key(Array((ConfigLoader.canonicalJSON(pipeline.shard) + embed + "|schema \(ShardStage.schemaVersion)").utf8))
    }

    /// Embed's key as the catalog records it, when it is the key of this config with the weights
    /// embed ran with (their digest read from a feature file's metadata, so the weights are not
    /// read again); nil when no done embed unit was made with this config.
    public func recordedEmbed(in catalog: Catalog) throws -> String? {
        for (hash, path) in try catalog.doneUnitFiles(stage: "embed") {
            let file = try SafetensorsFile(path: BuildLayout(root: pipeline.buildDir).absolute(path))
            guard let digest = file.metadata["model_sha256"] else { continue }
            if try embed(modelDigest: digest) == hash { return hash }
        }
        return nil
    }
}
