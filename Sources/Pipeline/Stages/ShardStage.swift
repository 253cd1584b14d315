public import Catalog
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
    public static let schemaVersion = 2

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
        tokenizer = pipeline.tag.tokenizer.isEmpty ? try CLIPTokenizer() : try CLIPTokenizer(directory: pipeline.tag.tokenizer)
        // Embed's key from the catalog: shard runs no model, so it reads the weights only when
        // no embed unit was done with this config (to name the key that is missing, or for a
        // build with nothing to embed).
        let keys = StageKeys(pipeline: pipeline)
        let embed = try keys.recordedEmbed(in: input) ?? keys.embed(modelDigest: StageKeys.modelDigest(directory: pipeline.embed.model))
        configHash = keys.shard(embed: embed)
        configJSON = ConfigLoader.canonicalJSON(pipeline)
        try StageOrder.requireDone("embed", configHash: embed, unitsHolding: .keptByCrop, in: input)
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
        var files: [String: SafetensorsFile] = [:]
        func file(_ path: String) throws -> SafetensorsFile {
            if let f = files[path] { return f }
            let f = try SafetensorsFile(path: layout.absolute(path))
            files[path] = f
            return f
        }
        // Each feature tensor converted to float32 once per unit.
        var tensors: [String: Weight] = [:]
        func tensor(_ path: String, _ name: String) throws -> Weight {
            if let t = tensors[path + "\u{0}" + name] { return t }
            let t = try file(path).floats(name)
            tensors[path + "\u{0}" + name] = t
            return t
        }
        var outcomes: [Outcome] = []
        var kept: [(item: ShardItem, subjects: [(k: Int, row: Int, positions: [Int])])] = []
        for item in items {
            let subjects = Array(item.subjects.filter { !$0.positions.isEmpty }.prefix(config.maxSubjects))
            if subjects.isEmpty {
                outcomes.append(.skipped("no_subject_tokens", "no kept subject has label tokens in the caption"))
            } else {
                outcomes.append(.ok)
                kept.append((item, subjects))
            }
        }
        let s = config.maxSubjects, n = kept.count
        var dims: (d: Int, p: Int) = (0, 0)
        var interleaved: [Float] = [], plain: [Float] = [], textEmbeds: [Float] = [], targets: [Float] = []
        var subjectEmbeds: [Float] = [], control: [Float] = []
        var masks: [UInt8] = [], subjectMasks: [UInt8] = [], counts: [Int] = [], hasCanny: [UInt8] = []
        progress.advance(by: items.count - kept.count)
        for (item, subjects) in kept {
            let features = try file(item.featurePath)
            func row(_ name: String, _ index: Int) throws -> [Float] {
                let t = try tensor(item.featurePath, name)
                let width = t.shape.dropFirst().reduce(1, *)
                guard index >= 0, (index + 1) * width <= t.count else {
                    throw PipelineError(.io, "row \(index) of \(name) is outside \(t.shape)", file: item.featurePath)
                }
                return Array(UnsafeBufferPointer(start: t.pointer + index * width, count: width))
            }
            defer { progress.advance() }
            let hidden = try row("text_last_hidden_state", item.featureRow)
            let p = try tensor(item.featurePath, "text_embeds").shape[1]
            let d = hidden.count / 77
            guard d == p else {
                throw PipelineError(.config, "text width \(d) differs from the projection \(p): the substitution needs them equal", key: "embed.model")
            }
            dims = (d, p)
            var mixed = hidden
            var tokenMask = [UInt8](repeating: 0, count: s * 77)
            var subjectRows = [Float](repeating: 0, count: s * p)
            for (j, subject) in subjects.enumerated() {
                let embedding = try row("subject_embeds", subject.row)
                for i in 0..<p { subjectRows[j * p + i] = embedding[i] }
                for position in subject.positions where position < 77 {
                    for i in 0..<d { mixed[position * d + i] = embedding[i] }
                    tokenMask[j * 77 + position] = 1
                }
            }
            interleaved += mixed
            if config.plainText { plain += hidden }
            textEmbeds += try row("text_embeds", item.featureRow)
            targets += try row("image_embeds", item.featureRow)
            subjectEmbeds += subjectRows
            subjectMasks += tokenMask
            counts.append(subjects.count)
            masks += tokenizer.tokenize(item.caption).attentionMask.map { UInt8($0) }
            if let canny = item.cannyRow, features.entries["canny_embeds"] != nil {
                control += try row("canny_embeds", canny)
                hasCanny.append(1)
            } else {
                control += try row("zero_image_embeds", 0)
                hasCanny.append(0)
            }
        }
        let id = String(format: "shard-%05d", unit), path = "shards/\(id).safetensors"
        var output: [(String, [UInt8])] = []
        var digest = "", size = 0
        if n > 0 {
            // The zero-image embedding, for the trainer's control dropout.
            let zeroImage = try tensor(kept[0].item.featurePath, "zero_image_embeds")
            guard zeroImage.count >= dims.p else {
                throw PipelineError(.io, "zero_image_embeds holds \(zeroImage.count) values, not \(dims.p)", file: kept[0].item.featurePath)
            }
            var entries = [
                floats("interleaved_text", [n, 77, dims.d], interleaved),
                floats("text_embeds", [n, dims.p], textEmbeds),
                .init(name: "attention_mask", dtype: "U8", shape: [n, 77], bytes: masks),
                floats("target_image_embeds", [n, dims.p], targets),
                floats("subject_embeds", [n, s, dims.p], subjectEmbeds),
                .init(name: "subject_count", dtype: "I64", shape: [n], bytes: counts.flatMap { c in (0..<8).map { UInt8((c >> (8 * $0)) & 0xFF) } }),
                .init(name: "subject_token_mask", dtype: "U8", shape: [n, s, 77], bytes: subjectMasks),
                floats("control_embeds", [n, dims.p], control),
                .init(name: "has_canny", dtype: "U8", shape: [n], bytes: hasCanny),
                floats("zero_image_embeds", [1, dims.p], Array(UnsafeBufferPointer(start: zeroImage.pointer, count: dims.p))),
            ]
            if config.plainText { entries.append(floats("text_last_hidden_state", [n, 77, dims.d], plain)) }
            let first = try file(kept[0].item.featurePath).metadata
            let metadata = ["schema": "eclipse-shard", "schema_version": String(Self.schemaVersion), "config_hash": configHash,
                            "clip_model": first["model"] ?? "", "clip_model_sha256": first["model_sha256"] ?? "",
                            "random_weights": first["random_weights"] ?? "false", "tokenizer": "clip-bpe-49408",
                            "sample_ids": kept.map(\.item.sampleID).joined(separator: ",")]
            let bytes = Safetensors.serialize(entries, metadata: metadata)
            (digest, size) = (SHA256.hex(bytes), bytes.count)
            output.append((path, bytes))
        }
        let shard = n > 0 ? Catalog.ShardFile(id: id, path: path, rows: n, bytes: size, sha256: digest, schemaVersion: Self.schemaVersion,
                                              configHash: configHash) : nil
        let rows = kept.map { ($0.item.sampleID, config.split(of: $0.item.sampleID)) }
        let verdicts = zip(items, outcomes).map { ($0.sampleID, $1) }
        return UnitOutput(files: output) { catalog, db in
            try catalog.recordShard(unit: unit, id: id, file: shard, rows: rows, verdicts: verdicts, in: db)
            return outcomes
        }
    }

    func floats(_ name: String, _ shape: [Int], _ values: [Float]) -> Safetensors.Entry {
        Safetensors.Entry(name: name, shape: shape, floats: values, half: config.dtype == "f16")
    }
}
