public import BuildConfig
import BuildSupport
public import Catalog
import Formats
import Foundation
import Models
import Tensor
import Text

/// One embedded sample as the shard stage reads it.
public typealias ShardItem = Catalog.EmbeddedSample

/// The shard stage: per unit one safetensors shard `shards/shard-NNNNN.safetensors` of the
/// λ-ECLIPSE training rows (schema 2): the interleaved text features (the caption's last hidden
/// state with every position of each subject's label tokens overwritten by that subject's image
/// embedding, later subjects winning), the pooled embedding of the unmodified caption, the
/// attention mask, the target image embedding, up to `max_subjects` subject embeddings with
/// their count and token masks, and the control embedding (the Canny image's, else the zero
/// image's) with a flag, plus the zero-image embedding itself (schema 2, for the trainer's control
/// dropout). Catalog: `shards` (size, SHA-256) and `shard_rows` (row, split).
public struct ShardStage: UnitProcessor {
    public typealias Item = ShardItem
    public static let schemaVersion = ShardSchema.version

    public let config: ShardConfig
    public var stage: String { "shard" }
    public let configHash: String
    public let configJSON: String
    let layout: BuildLayout
    let tokenizer: CLIPTokenizer
    let input: Catalog

    public init(pipeline: PipelineConfig, input: Catalog) throws {
        config = pipeline.shard
        self.input = input
        layout = BuildLayout(root: pipeline.buildDir)
        tokenizer = try pipeline.tag.clipTokenizer()
        // Embed's key from the catalog: shard runs no model, so it reads the weights only when
        // no embed unit was done with this config (to name the key that is missing, or for a
        // build with nothing to embed).
        let keys = StageKeys(pipeline: pipeline)
        let embed = try keys.recordedEmbed(in: input) ?? keys.embed(modelDigest: StageKeys.modelDigest(directory: pipeline.embed.model))
        configHash = keys.shard(embed: embed)
        configJSON = ConfigLoader.canonicalJSON(pipeline)
        try StageOrder.requireDone("embed", configHash: embed, unitsHolding: .keptByCrop, in: input)
    }

    /// A shard stage for items built in memory (tests): no catalog, no stage order.
    package init(config: ShardConfig, buildDir: String) throws {
        self.config = config
        input = try Catalog(path: ":memory:")
        layout = BuildLayout(root: buildDir)
        tokenizer = try CLIPTokenizer()
        configHash = "in-process"
        configJSON = "{}"
    }

    /// The units (the ingest stage's) with embedded samples, each loaded lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<ShardItem>>, samples: Int) {
        let input = self.input
        return try WorkUnit.units(input.unitCounts(.embedded)) { try input.embeddedSamples(unit: $0) }
    }

    public func process(unit: Int, firstPosition: Int, items: [ShardItem]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    public func process(unit: Int, firstPosition: Int, items: [ShardItem], progress: ItemProgress) throws -> UnitOutput {
        var outcomes: [Outcome] = []
        var kept: [(item: ShardItem, subjects: [(k: Int, row: Int, positions: [Int])])] = []
        for item in items {
            let subjects = Array(item.subjects.filter { !$0.positions.isEmpty }.prefix(config.maxSubjects))
            if subjects.isEmpty {
                outcomes.append(.skipped(.noSubjectTokens, "no kept subject has label tokens in the caption"))
            } else {
                outcomes.append(.ok)
                kept.append((item, subjects))
            }
        }
        progress.advance(by: items.count - kept.count)
        let features = FeatureReader(layout: layout)
        var columns = ShardColumns(maxSubjects: config.maxSubjects, plainText: config.plainText)
        for (item, subjects) in kept {
            try columns.append(item, subjects: subjects, from: features, attentionMask: tokenizer.tokenize(item.caption).attentionMask)
            progress.advance()
        }
        let id = String(format: "shard-%05d", unit), path = "shards/\(id).safetensors"
        var output: [(String, [UInt8])] = []
        var shard: Catalog.ShardFile?
        if let first = kept.first?.item.featurePath {
            let bytes = Safetensors.serialize(try columns.entries(zeroImage: features.zeroImage(first, width: columns.p), floats: config.dtype == "f16" ? .f16 : .f32),
                                              metadata: try metadata(features.file(first).metadata, sampleIDs: kept.map(\.item.sampleID)))
            output.append((path, bytes))
            shard = Catalog.ShardFile(id: id, path: path, rows: kept.count, bytes: bytes.count, sha256: SHA256.hex(bytes),
                                      schemaVersion: Self.schemaVersion, configHash: configHash)
        }
        let rows = kept.map { ($0.item.sampleID, config.split(of: $0.item.sampleID)) }
        let verdicts = zip(items, outcomes).map { ($0.sampleID, $1) }
        return UnitOutput(files: output) { catalog, db in
            try catalog.recordShard(unit: unit, id: id, file: shard, rows: rows, verdicts: verdicts, in: db)
            return outcomes
        }
    }

    /// The shard's metadata: schema, config, the CLIP model (from the first feature file), rows.
    /// `clip_precision` (bf16) only when the features were computed below float32.
    func metadata(_ features: [String: String], sampleIDs: [String]) -> [String: String] {
        var metadata = ["schema": ShardSchema.name, "schema_version": String(Self.schemaVersion), "config_hash": configHash,
                        "clip_model": features["model"] ?? "", "clip_model_sha256": features["model_sha256"] ?? "",
                        "random_weights": features["random_weights"] ?? "false", "tokenizer": "clip-bpe-49408",
                        "sample_ids": sampleIDs.joined(separator: ",")]
        if let precision = features["precision"] { metadata["clip_precision"] = precision }
        return metadata
    }

}

/// The embed stage's unit files as the shard stage reads them: each file mapped once, each
/// tensor converted to float32 once per unit.
final class FeatureReader {
    let layout: BuildLayout
    private var files: [String: SafetensorsFile] = [:]
    private var tensors: [String: Weight] = [:]

    init(layout: BuildLayout) { self.layout = layout }

    func file(_ path: String) throws -> SafetensorsFile {
        if let f = files[path] { return f }
        let f = try SafetensorsFile(path: layout.absolute(path))
        files[path] = f
        return f
    }

    func tensor(_ path: String, _ tensor: FeatureSchema.Tensor) throws -> Weight {
        let key = path + "\u{0}" + tensor.rawValue
        if let t = tensors[key] { return t }
        let t = try file(path).floats(tensor.rawValue)
        tensors[key] = t
        return t
    }

    /// Row `index` of a tensor (its leading dimension).
    func row(_ path: String, _ tensor: FeatureSchema.Tensor, _ index: Int) throws -> [Float] {
        let t = try self.tensor(path, tensor)
        guard let row = t.rows(index..<(index + 1)) else {
            throw PipelineError(.io, "row \(index) of \(tensor.rawValue) is outside \(t.shape)", file: path)
        }
        return row
    }

    /// The zero-image embedding of a unit file, for the trainer's control dropout.
    func zeroImage(_ path: String, width: Int) throws -> [Float] {
        let zero = try tensor(path, .zeroImageEmbeds)
        guard zero.count >= width else { throw PipelineError(.io, "zero_image_embeds holds \(zero.count) values, not \(width)", file: path) }
        return zero.values(0..<width)
    }
}

/// A shard's columns, one row appended per kept sample.
struct ShardColumns {
    let maxSubjects: Int, plainText: Bool
    /// Text width and projection width (equal: the substitution writes image embeddings into
    /// text positions).
    private(set) var d = 0, p = 0, rows = 0
    var interleaved: [Float] = [], plain: [Float] = [], textEmbeds: [Float] = [], targets: [Float] = []
    var subjectEmbeds: [Float] = [], control: [Float] = []
    var masks: [UInt8] = [], subjectMasks: [UInt8] = [], counts: [Int] = [], hasCanny: [UInt8] = []

    init(maxSubjects: Int, plainText: Bool) {
        (self.maxSubjects, self.plainText) = (maxSubjects, plainText)
    }

    /// One sample: its caption's hidden state with every position of each subject's label
    /// tokens overwritten by that subject's image embedding (later subjects winning).
    mutating func append(_ item: ShardItem, subjects: [(k: Int, row: Int, positions: [Int])], from features: FeatureReader,
                         attentionMask: [Int]) throws {
        let path = item.featurePath, s = maxSubjects
        let hidden = try features.row(path, .textLastHiddenState, item.featureRow)
        let p = try features.tensor(path, .textEmbeds).shape[1]
        let t = CLIPText.contextLength, d = hidden.count / t
        guard d == p else {
            throw PipelineError(.config, "text width \(d) differs from the projection \(p): the substitution needs them equal", key: "embed.model")
        }
        (self.d, self.p) = (d, p)
        var mixed = hidden
        var tokenMask = [UInt8](repeating: 0, count: s * t)
        var subjectRows = [Float](repeating: 0, count: s * p)
        for (j, subject) in subjects.enumerated() {
            let embedding = try features.row(path, .subjectEmbeds, subject.row)
            for i in 0..<p { subjectRows[j * p + i] = embedding[i] }
            for position in subject.positions where position < t {
                for i in 0..<d { mixed[position * d + i] = embedding[i] }
                tokenMask[j * t + position] = 1
            }
        }
        interleaved += mixed
        if plainText { plain += hidden }
        textEmbeds += try features.row(path, .textEmbeds, item.featureRow)
        targets += try features.row(path, .imageEmbeds, item.featureRow)
        subjectEmbeds += subjectRows
        subjectMasks += tokenMask
        counts.append(subjects.count)
        masks += attentionMask.map { UInt8($0) }
        if let canny = item.cannyRow, try features.file(path).entries[FeatureSchema.Tensor.cannyEmbeds.rawValue] != nil {
            control += try features.row(path, .cannyEmbeds, canny)
            hasCanny.append(1)
        } else {
            control += try features.row(path, .zeroImageEmbeds, 0)
            hasCanny.append(0)
        }
        rows += 1
    }

    /// The shard's tensors (``ShardSchema``), floats stored as `floats` (the configured dtype).
    func entries(zeroImage: [Float], floats: DType) -> [Safetensors.Entry] {
        func entry(_ tensor: ShardSchema.Tensor, _ values: [Float]) -> Safetensors.Entry {
            let shape = ShardSchema.shape(tensor, rows: rows, maxSubjects: maxSubjects, textWidth: d, projection: p)
            return Safetensors.Entry(name: tensor.rawValue, shape: shape, floats: values, half: floats == .f16)
        }
        func entry(_ tensor: ShardSchema.Tensor, bytes: [UInt8]) -> Safetensors.Entry {
            Safetensors.Entry(name: tensor.rawValue, dtype: ShardSchema.dtype(tensor, floats: floats),
                              shape: ShardSchema.shape(tensor, rows: rows, maxSubjects: maxSubjects, textWidth: d, projection: p), bytes: bytes)
        }
        var entries = [
            entry(.interleavedText, interleaved),
            entry(.textEmbeds, textEmbeds),
            entry(.attentionMask, bytes: masks),
            entry(.targetImageEmbeds, targets),
            entry(.subjectEmbeds, subjectEmbeds),
            Safetensors.Entry(name: ShardSchema.Tensor.subjectCount.rawValue, shape: [rows], int64s: counts),
            entry(.subjectTokenMask, bytes: subjectMasks),
            entry(.controlEmbeds, control),
            entry(.hasCanny, bytes: hasCanny),
            entry(.zeroImageEmbeds, zeroImage),
        ]
        if plainText { entries.append(entry(.textLastHiddenState, plain)) }
        return entries
    }
}
