public import BuildConfig
import BuildSupport
public import Catalog
import Formats
import Foundation
import Imaging
import Models
import Tensor
import Text

/// One cropped sample as the embed stage reads it.
public typealias EmbedItem = Catalog.CroppedSample

/// The embed stage: CLIP features of each cropped sample. Per unit one safetensors file
/// `features/embed/unit-NNNNN.safetensors` holds, row-aligned with the unit's samples, the
/// caption's text last hidden state [N, 77, D] and pooled text embedding [N, P], the whole
/// image's embedding (the target) [N, P], every kept subject's crop embedding [S, P], each Canny
/// image's embedding [C, P], and the zero-image embedding [1, P] (the no-Canny control); the
/// `features` table maps each sample to its rows. Units follow the ingest stage's; samples the
/// crop stage kept are embedded, so crop must have run.
public struct EmbedStage: UnitProcessor {
    public typealias Item = EmbedItem

    public let config: EmbedConfig
    public var stage: String { "embed" }
    public let configHash: String
    public let configJSON: String
    /// Hex SHA-256 of the model's weights file.
    public let modelHash: String
    /// Whether the model directory holds random weights (demo).
    public let randomWeights: Bool
    let model: CLIPModel
    let text: CLIPModel.Text
    let vision: CLIPModel.Vision
    let tokenizer: CLIPTokenizer
    let recipe: PreprocessRecipe
    let files: SourceFiles
    let layout: BuildLayout
    let input: Catalog
    /// OpenBLAS threads for the encoders (`embed.threads`; 0 in the config: every core).
    let threads: Int

    /// The engines the model's products run on (the run summary's `engines` line).
    public var engines: String? { Precision(rawValue: config.precision).map(Precision.engines) }

    public init(pipeline: PipelineConfig, input: Catalog) throws {
        config = pipeline.embed
        self.input = input
        layout = BuildLayout(root: pipeline.buildDir)
        guard !config.model.isEmpty else {
            throw PipelineError(.config, "set the CLIP model directory (make models, or the demo's random model)", key: "embed.model")
        }
        do {
            let precision = Precision(rawValue: config.precision) ?? .f32
            if precision == .bf16 { FileHandle.standardError.write(Data("embed: \(Precision.bf16Notice)\n".utf8)) }
            guard case .clip(let clip) = try LoadedModel.load(directory: config.model, precision: precision), let t = clip.text,
                  let v = clip.vision else {
                throw PipelineError(.config, "\(config.model) is not a CLIP with text and vision towers", key: "embed.model")
            }
            (model, text, vision) = (clip, t, v)
        } catch let error as ModelError {
            throw PipelineError(.config, "cannot load the model: \(error)", key: "embed.model")
        }
        tokenizer = try pipeline.tag.clipTokenizer()
        guard text.config.vocabularySize >= 49408 else {
            throw PipelineError(.config, "the model's vocabulary has \(text.config.vocabularySize) tokens; CLIP's tokenizer needs 49408",
                                key: "embed.model")
        }
        var recipe = PreprocessRecipe.clip
        recipe.resizeShortestSide = vision.config.imageSize
        recipe.cropSize = vision.config.imageSize
        self.recipe = recipe
        randomWeights = RandomCLIP.isRandom(directory: config.model)
        files = try SourceFiles(catalog: input)
        let keys = StageKeys(pipeline: pipeline)
        modelHash = try StageKeys.modelDigest(directory: config.model)
        configHash = try keys.embed(modelDigest: modelHash)
        configJSON = ConfigLoader.canonicalJSON(pipeline)
        try StageOrder.requireDone("crop", configHash: try keys.crop(), unitsHolding: .keptByTag, in: input)
        threads = config.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : config.threads
    }

    /// The units (the ingest stage's) with samples the crop stage kept, each loaded lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<EmbedItem>>, samples: Int) {
        let input = self.input
        return try WorkUnit.units(input.unitCounts(.keptByCrop)) { try input.croppedSamples(unit: $0) }
    }

    /// One sample's model inputs, or why it has none.
    struct Prepared: Sendable {
        var ids: [Int] = [], mask: [Int] = []
        var image: [Float] = [], subjects: [[Float]] = [], canny: [Float]?
        /// The failed verdict, when an input could not be read.
        var failure: Outcome?
    }

    func prepare(_ item: EmbedItem) -> Prepared {
        var p = Prepared()
        (p.ids, p.mask) = tokenizer.tokenize(item.caption)
        do {
            let bytes = try files.read(item.imageRef, source: item.source, maxBytes: 1 << 30)
            p.image = recipe.pixelValues(try ImageCodec.decodeRGB(bytes))
        } catch {
            p.failure = .failed(reading: error)
            return p
        }
        for (k, object) in item.subjects {
            do {
                let bytes = try FileIO.read(layout.absolute(object), maxBytes: 1 << 28)
                p.subjects.append(recipe.pixelValues(try ImageCodec.decodeRGB(bytes)))
            } catch {
                p.failure = .failed(.missingCrop, "subject \(k): \(object): \(error)")
                return p
            }
        }
        if config.canny, let canny = item.canny {
            do {
                p.canny = recipe.pixelValues(try ImageCodec.decodeRGB(try FileIO.read(layout.absolute(canny), maxBytes: 1 << 28)))
            } catch {
                p.failure = .failed(.missingCanny, "\(canny): \(error)")
            }
        }
        return p
    }

    public func process(unit: Int, firstPosition: Int, items: [EmbedItem]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    public func process(unit: Int, firstPosition: Int, items: [EmbedItem], progress: ItemProgress) throws -> UnitOutput {
        // Progress in item-equivalents: decoding and preprocessing count for a fifth of a unit,
        // the encoded rows (texts, images, subjects, Canny images) for the rest.
        let decoded = ItemProgress()
        let prepared = ParallelMap.map(items) { item in
            defer {
                decoded.advance()
                progress.reach(decoded.value / 5)
            }
            return prepare(item)
        }
        let ok = prepared.indices.filter { prepared[$0].failure == nil }
        // Rows: every ok sample's text and image; subjects and Canny images after them.
        var images: [Float] = [], subjectRows: [[Int: Int]] = [], cannyRows: [Int?] = []
        var subjectPixels: [Float] = [], cannyPixels: [Float] = []
        var subjectCount = 0, cannyCount = 0
        for i in ok {
            let p = prepared[i]
            images += p.image
            var rows: [Int: Int] = [:]
            for (j, s) in p.subjects.enumerated() { rows[items[i].subjects[j].k] = subjectCount; subjectCount += 1; subjectPixels += s }
            subjectRows.append(rows)
            if let c = p.canny { cannyRows.append(cannyCount); cannyCount += 1; cannyPixels += c } else { cannyRows.append(nil) }
        }
        var tensors: [Safetensors.Entry] = []
        let p = text.projection
        let totalRows = max(1, 2 * ok.count + subjectCount + cannyCount)
        var rowsDone = 0
        func encoded(_ rows: Int) {
            rowsDone += rows
            progress.reach(items.count / 5 + (items.count - items.count / 5) * rowsDone / totalRows)
        }
        // Finished batches are kept until the unit is committed: an interrupted run's rerun reads
        // them back, so an interrupt costs at most the batch in progress.
        let scratch = UnitScratch(layout: layout, stage: stage, unit: unit, configHash: configHash)
        if !ok.isEmpty {
            tensors += try embedTexts(ok.map { prepared[$0] }, scratch: scratch, encoded: encoded)
            tensors.append(entry(.imageEmbeds, [ok.count, p], try embedImages(images, count: ok.count, scratch: (scratch, "image"), encoded: encoded)))
            tensors.append(entry(.subjectEmbeds, [subjectCount, p],
                                 try embedImages(subjectPixels, count: subjectCount, scratch: (scratch, "subject"), encoded: encoded)))
            if cannyCount > 0 {
                tensors.append(entry(.cannyEmbeds, [cannyCount, p], try embedImages(cannyPixels, count: cannyCount, scratch: (scratch, "canny"), encoded: encoded)))
            }
            let plane = 3 * vision.config.imageSize * vision.config.imageSize
            tensors.append(entry(.zeroImageEmbeds, [1, p], try embedImages([Float](repeating: 0, count: plane), count: 1)))
        }
        scratch.announce(stage: stage, unit: unit)
        let path = String(format: "features/embed/unit-%05d.safetensors", unit)
        let sampleIDs = ok.map { items[$0].sampleID }
        var metadata = ["schema": FeatureSchema.name, "model": (config.model as NSString).lastPathComponent, "model_sha256": modelHash,
                        "random_weights": randomWeights ? "true" : "false", "config_hash": configHash,
                        "sample_ids": sampleIDs.joined(separator: ",")]
        // Absent means f32, so files of float32 builds are as they were before the setting existed.
        if config.precision != "f32" { metadata["precision"] = config.precision }
        let files: [(String, [UInt8])] = ok.isEmpty ? [] : [(path, Safetensors.serialize(tensors, metadata: metadata))]
        var records: [(sampleID: String, outcome: Outcome, features: Catalog.FeatureRow?)] = []
        var row = 0
        for (item, p) in zip(items, prepared) {
            guard let failure = p.failure else {
                let subjects = subjectRows[row].keys.sorted().map { ($0, subjectRows[row][$0]!) }
                records.append((item.sampleID, .ok, Catalog.FeatureRow(path: path, row: row, subjectRows: subjects, cannyRow: cannyRows[row])))
                row += 1
                continue
            }
            records.append((item.sampleID, failure, nil))
        }
        return UnitOutput(files: files) { catalog, db in
            try catalog.recordEmbed(unit: unit, records, in: db)
            return records.map(\.outcome)
        }
    }

    /// The captions' last hidden states (when configured) and pooled embeddings, in batches, each
    /// kept in `scratch`; `encoded` hears of each batch's rows.
    func embedTexts(_ rows: [Prepared], scratch: UnitScratch, encoded: (Int) -> Void) throws -> [Safetensors.Entry] {
        let p = text.projection, d = text.config.hiddenSize
        var hidden: [Float] = [], textEmbeds: [Float] = []
        let hiddenPerRow = config.textHiddenStates ? CLIPText.contextLength * d : 0
        try BLAS.withThreads(threads) {
            for start in stride(from: 0, to: rows.count, by: config.batch) {
                let batch = rows[start..<min(rows.count, start + config.batch)]
                let ids = batch.map(\.ids), mask = batch.map(\.mask)
                let inputs = UnitScratch.digest(values: [ids.joined().map { Int64($0) }, mask.joined().map { Int64($0) }])
                let values = try scratch.floats(String(format: "text-%06d", start), inputs: inputs, count: batch.count * (hiddenPerRow + p)) {
                    let r = try text.encode(ids: ids, attentionMask: mask)
                    return (config.textHiddenStates ? r.lastHiddenState : []) + r.textEmbeds
                }
                hidden += values[0..<(batch.count * hiddenPerRow)]
                textEmbeds += values[(batch.count * hiddenPerRow)...]
                encoded(batch.count)
            }
        }
        var tensors: [Safetensors.Entry] = []
        if config.textHiddenStates { tensors.append(entry(.textLastHiddenState, [rows.count, CLIPText.contextLength, d], hidden)) }
        tensors.append(entry(.textEmbeds, [rows.count, p], textEmbeds))
        return tensors
    }

    /// Image embeddings of `count` preprocessed images, in batches, each kept in `scratch` under
    /// its name and start row when given; `encoded` hears of each batch's rows.
    func embedImages(_ pixels: [Float], count: Int, scratch: (UnitScratch, String)? = nil, encoded: (Int) -> Void = { _ in }) throws -> [Float] {
        let plane = 3 * vision.config.imageSize * vision.config.imageSize
        var out: [Float] = []
        try BLAS.withThreads(threads) {
            for start in stride(from: 0, to: count, by: config.batch) {
                let end = min(count, start + config.batch)
                let batch = Array(pixels[(start * plane)..<(end * plane)])
                let compute = { try self.vision.encode(pixelValues: batch, batch: end - start).imageEmbeds }
                if let (scratch, name) = scratch {
                    let inputs = UnitScratch.digest(values: [batch])
                    out += try scratch.floats(String(format: "%@-%06d", name, start), inputs: inputs, count: (end - start) * text.projection, compute: compute)
                } else {
                    out += try compute()
                }
                encoded(end - start)
            }
        }
        return out
    }

    func entry(_ tensor: FeatureSchema.Tensor, _ shape: [Int], _ values: [Float]) -> Safetensors.Entry {
        Safetensors.Entry(name: tensor.rawValue, shape: shape, floats: values, half: config.dtype == "f16")
    }
}
