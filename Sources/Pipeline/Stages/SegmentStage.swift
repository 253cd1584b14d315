public import BuildConfig
import BuildSupport
public import Catalog
import Foundation
import Imaging
import Models
import Tensor
import Text

/// One sample the tag stage kept, as the segment stage reads it.
public typealias SegmentItem = Catalog.SegmentSample

/// The segment stage: subject masks for samples that have none, from CLIPSeg and the nouns the
/// tag stage found, by Kosmos-G's recipe (`SegmentMask`). One vision pass per image serves all
/// its nouns; each distinct prompt of a batch is encoded once. Each non-empty mask is recorded
/// in `added_masks` (kind `clipseg`, label = the noun's lemma, score = mean probability inside,
/// box, COCO RLE) with its `noun_labels` link to the tag stage's noun, so crop and shard treat
/// it like an input mask. Units follow the ingest stage's; tag must have run.
public struct SegmentStage: UnitProcessor {
    public typealias Item = SegmentItem

    public let config: SegmentConfig
    public var stage: String { "segment" }
    public let configHash: String
    public let configJSON: String
    /// Whether the model directory holds random weights (demo).
    public let randomWeights: Bool
    let model: CLIPSegModel
    /// The model's tokenizer for prompts; the tag stage's for token positions.
    let promptTokenizer: CLIPTokenizer
    let finder: NounFinder
    let substituteAtNoun: Bool
    let recipe: PreprocessRecipe
    let files: SourceFiles
    let layout: BuildLayout
    let input: Catalog
    let threads: Int

    /// The engines the model's products run on (the run summary's `engines` line).
    public var engines: String? { Precision(rawValue: config.precision).map(Precision.engines) }

    public init(pipeline: PipelineConfig, input: Catalog) throws {
        config = pipeline.segment
        self.input = input
        guard config.enabled else {
            throw PipelineError(.usage, "the segment stage is off in this pipeline: set segment.enabled: true (and segment.model)", key: "segment.enabled")
        }
        let keys = StageKeys(pipeline: pipeline)
        configHash = try keys.segment()
        do {
            let precision = Precision(rawValue: config.precision) ?? .f32
            if precision == .bf16 { FileHandle.standardError.write(Data("segment: \(Precision.bf16Notice)\n".utf8)) }
            guard case .clipseg(let clipseg) = try LoadedModel.load(directory: config.model, precision: precision) else {
                throw PipelineError(.config, "\(config.model) is not a CLIPSeg model (model_type clipseg)", key: "segment.model")
            }
            model = clipseg
        } catch let error as ModelError {
            throw PipelineError(.config, "cannot load the model: \(error)", key: "segment.model")
        }
        guard config.imageSize % model.config.vision.patchSize == 0 else {
            throw PipelineError(.config, "must be a multiple of the model's patch size \(model.config.vision.patchSize)", key: "segment.image_size")
        }
        finder = try pipeline.tag.nounFinder()
        promptTokenizer = (try? CLIPTokenizer(directory: config.model)) ?? finder.tokenizer
        // The end token is the vocabulary's last id.
        guard model.config.text.vocabularySize > max(promptTokenizer.endID, promptTokenizer.startID) else {
            throw PipelineError(.config, "the model's vocabulary has \(model.config.text.vocabularySize) tokens; its tokenizer needs "
                                + "\(max(promptTokenizer.endID, promptTokenizer.startID) + 1)", key: "segment.model")
        }
        substituteAtNoun = pipeline.tag.substituteAtNoun
        var recipe = PreprocessRecipe.clipseg
        (recipe.resizeShortestSide, recipe.cropSize) = (config.imageSize, config.imageSize)
        self.recipe = recipe
        randomWeights = RandomCLIP.isRandom(directory: config.model)
        files = try SourceFiles(catalog: input)
        layout = BuildLayout(root: pipeline.buildDir)
        configJSON = ConfigLoader.canonicalJSON(pipeline)
        threads = config.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : config.threads
        try StageOrder.requireDone("tag", configHash: try keys.tag(), unitsHolding: .accepted, in: input)
    }

    /// The units (the ingest stage's) with samples the tag stage kept, each loaded lazily.
    public func units() throws -> (units: AnyIterator<WorkUnit<SegmentItem>>, samples: Int) {
        let input = self.input
        return try WorkUnit.units(input.unitCounts(.keptByTag)) { try input.segmentSamples(unit: $0) }
    }

    /// One sample's verdict and masks, as a scratch batch stores it.
    struct Result: Codable, Sendable {
        var sampleID: String
        var outcome: Outcome
        var masks: [Catalog.AddedMaskRow]
    }

    public func process(unit: Int, firstPosition: Int, items: [SegmentItem]) throws -> UnitOutput {
        try process(unit: unit, firstPosition: firstPosition, items: items, progress: ItemProgress())
    }

    public func process(unit: Int, firstPosition: Int, items: [SegmentItem], progress: ItemProgress) throws -> UnitOutput {
        // Finished batches are kept until the unit is committed: an interrupted run's rerun reads
        // them back, so an interrupt costs at most the batch in progress.
        let scratch = UnitScratch(layout: layout, stage: stage, unit: unit, configHash: configHash)
        var done: [Result] = []
        for start in stride(from: 0, to: items.count, by: config.batch) {
            let batch = Array(items[start..<min(items.count, start + config.batch)])
            let (results, reused) = try scratch.results(String(format: "samples-%06d", start), inputs: Self.digest(batch), count: batch.count) {
                try segment(batch, progress: progress)
            }
            if reused { progress.advance(by: batch.count) }
            done += results
        }
        scratch.announce(stage: stage, unit: unit)
        let records = zip(items, done).map { item, result in
            Catalog.SegmentRecord(sampleID: result.sampleID, outcome: result.outcome, masks: result.masks, labels: links(result.masks, item))
        }
        return UnitOutput(files: []) { catalog, db in
            try catalog.recordSegment(unit: unit, records, in: db)
            return records.map(\.outcome)
        }
    }

    /// Names everything a batch's results depend on besides the config.
    static func digest(_ batch: [SegmentItem]) -> String {
        var text = ""
        for item in batch {
            text += "\(item.sampleID)|\(item.source)|\(item.imageRef)|\(item.hasMasks)|"
            text += item.nouns.map { "\($0.index):\($0.text):\($0.lemma)" }.joined(separator: "\u{1F}") + "\n"
        }
        return UnitScratch.digest([Array(text.utf8)])
    }

    /// Each mask's link to the noun it was made for, with the token positions the subject's
    /// embedding replaces (the tag stage's rules, the lemma as the label).
    func links(_ masks: [Catalog.AddedMaskRow], _ item: SegmentItem) -> [Catalog.NounLabelRow] {
        guard !masks.isEmpty else { return [] }
        let matches = finder.match(labels: masks.map { $0.label ?? "" }, caption: item.caption)
        return zip(masks, matches).map { mask, match in
            Catalog.NounLabelRow(k: mask.k, label: match.label, nounIndex: mask.k - AddedMask.segmentBase,
                                 tokenPositions: match.positions(substituteAtNoun: substituteAtNoun), spanPositions: match.spanPositions,
                                 rule: match.rule(substituteAtNoun: substituteAtNoun).rawValue)
        }
    }

    /// The nouns a sample is segmented for: the first noun of each lemma, in caption order, up
    /// to `max_nouns`.
    func prompts(_ item: SegmentItem) -> [(index: Int, text: String, lemma: String)] {
        var seen = Set<String>(), out: [(index: Int, text: String, lemma: String)] = []
        for noun in item.nouns where out.count < config.maxNouns && seen.insert(noun.lemma).inserted {
            out.append(noun)
        }
        return out
    }

    /// A sample decoded and preprocessed, or its verdict when it is not segmented.
    struct Prepared {
        var image: (width: Int, height: Int) = (0, 0)
        var pixels: [Float] = []
        var nouns: [(index: Int, text: String, lemma: String)] = []
        var verdict: Outcome?
    }

    func prepare(_ item: SegmentItem) -> Prepared {
        var p = Prepared()
        if item.hasMasks && !config.withInputMasks {
            p.verdict = .skipped(.hasMasks, "the sample has masks of its own (segment.with_input_masks: false)")
            return p
        }
        p.nouns = prompts(item)
        guard !p.nouns.isEmpty else {
            p.verdict = .skipped(.noNouns, "the caption has no object noun to segment")
            return p
        }
        do {
            let bytes = try files.read(item.imageRef, source: item.source, maxBytes: 1 << 30)
            let image = try ImageCodec.decodeRGB(bytes, maxPixels: config.maxPixels)
            p.image = (image.width, image.height)
            p.pixels = recipe.pixelValues(image)
        } catch {
            p.verdict = .failed(reading: error)
        }
        return p
    }

    /// Segments a batch: decodes in parallel, one vision pass for the batch's images, one text
    /// pass for its distinct prompts, then each (image, noun) mask in parallel.
    func segment(_ batch: [SegmentItem], progress: ItemProgress) throws -> [Result] {
        let prepared = ParallelMap.map(batch) { prepare($0) }
        let segmented = prepared.indices.filter { prepared[$0].verdict == nil }
        var pairs: [(image: Int, conditional: Int)] = [], prompts: [String] = [], promptIndex: [String: Int] = [:]
        var owners: [(item: Int, noun: (index: Int, text: String, lemma: String))] = []
        for (image, i) in segmented.enumerated() {
            for noun in prepared[i].nouns {
                let prompt = config.prompt.replacingOccurrences(of: "{noun}", with: noun.text)
                let index = promptIndex[prompt] ?? prompts.count
                if index == prompts.count { promptIndex[prompt] = index; prompts.append(prompt) }
                pairs.append((image, index))
                owners.append((i, noun))
            }
        }
        var logits: [Float] = []
        let side = model.logitSide(imageSize: config.imageSize)
        if !segmented.isEmpty {
            logits = try BLAS.withThreads(threads) {
                let activations = try model.activations(pixelValues: segmented.flatMap { prepared[$0].pixels }, batch: segmented.count,
                                                        size: config.imageSize)
                let tokens = prompts.map { promptTokenizer.tokenize($0) }
                let conditionals = try model.conditionalEmbeddings(ids: tokens.map(\.ids), attentionMask: tokens.map(\.attentionMask))
                return try model.decode(activations, conditionals: conditionals, pairs: pairs)
            }
        }
        let settings = SegmentMask.Settings(threshold: Float(config.threshold), dilationDivisor: config.dilationDivisor,
                                            largestComponent: config.largestComponent)
        let masks: [Catalog.AddedMaskRow?] = ParallelMap.map(Array(owners.indices)) { pair in
            let (i, noun) = owners[pair]
            let map = Array(logits[(pair * side * side)..<((pair + 1) * side * side)])
            let (mask, score) = SegmentMask.mask(logits: map, width: side, height: side, imageWidth: prepared[i].image.width,
                                                 imageHeight: prepared[i].image.height, settings: settings)
            // Kosmos-G drops a noun whose mask is empty.
            guard let box = mask.box else { return nil }
            return Catalog.AddedMaskRow(k: AddedMask.segmentBase + noun.index, kind: "clipseg", label: noun.lemma,
                                        score: (score * 1e6).rounded() / 1e6, box: box.array, rle: COCOMask.rleJSON(mask))
        }
        var found: [Int: [Catalog.AddedMaskRow]] = [:]
        for (owner, mask) in zip(owners, masks) where mask != nil { found[owner.item, default: []].append(mask!) }
        progress.advance(by: batch.count)
        return zip(batch, prepared).enumerated().map { i, pair in
            let (item, p) = pair
            if let verdict = p.verdict { return Result(sampleID: item.sampleID, outcome: verdict, masks: []) }
            guard let own = found[i] else {
                return Result(sampleID: item.sampleID, outcome: .skipped(.noMaskAboveThreshold,
                    "no pixel of the masks of \(p.nouns.map(\.lemma).joined(separator: ", ")) is above \(config.threshold)"), masks: [])
            }
            return Result(sampleID: item.sampleID, outcome: .ok, masks: own)
        }
    }
}
