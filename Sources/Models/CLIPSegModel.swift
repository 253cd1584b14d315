import Formats
import Foundation
import Tensor

/// CLIPSeg's settings beyond its two CLIP towers (transformers' `CLIPSegConfig`).
public struct CLIPSegConfig: Sendable, Equatable {
    public var text: TowerConfig
    public var vision: TowerConfig
    public var projection: Int
    /// Vision layers whose outputs the decoder reads (`hidden_states[i + 1]`), shallow first.
    public var extractLayers: [Int]
    /// The decoder's width.
    public var reduceDim: Int
    /// The decoder layer (0 = the first, which reads the deepest activation) the prompt's FiLM
    /// conditioning is applied before.
    public var conditionalLayer: Int
    /// Conv 3x3 + two transposed convolutions of kernel patch/4 (rd64-refined), instead of one
    /// transposed convolution of kernel patch.
    public var complexTransposedConvolution: Bool
    /// The decoder layers' tower: the vision tower's norm epsilon, the reduce width, the decoder
    /// heads and intermediate size, ReLU.
    public var decoder: TowerConfig

    // transformers' defaults for keys a config may omit.
    nonisolated(unsafe) static let visionDefaults: [String: Any] = ModelConfig.clipVisionDefaults

    init(_ json: [String: Any]) throws {
        text = try TowerConfig(json["text_config"] as? [String: Any] ?? [:], defaults: ModelConfig.clipTextDefaults, what: "text_config")
        vision = try TowerConfig(json["vision_config"] as? [String: Any] ?? [:], defaults: Self.visionDefaults, what: "vision_config")
        projection = json["projection_dim"] as? Int ?? 512
        extractLayers = json["extract_layers"] as? [Int] ?? [3, 6, 9]
        reduceDim = json["reduce_dim"] as? Int ?? 64
        conditionalLayer = json["conditional_layer"] as? Int ?? 0
        complexTransposedConvolution = json["use_complex_transposed_convolution"] as? Bool ?? false
        let heads = json["decoder_num_attention_heads"] as? Int ?? 4
        let intermediate = json["decoder_intermediate_size"] as? Int ?? 2048
        decoder = try TowerConfig(["hidden_size": reduceDim, "intermediate_size": intermediate, "num_attention_heads": heads,
                                   "num_hidden_layers": extractLayers.count, "hidden_act": "relu",
                                   "layer_norm_eps": Double(vision.layerNormEps)], defaults: [:], what: "decoder")
        guard !extractLayers.isEmpty, extractLayers.allSatisfy({ (0..<vision.layers).contains($0) }) else {
            throw ModelError(.badConfig, "extract_layers \(extractLayers) must name layers of the \(vision.layers)-layer vision tower")
        }
        guard (0..<extractLayers.count).contains(conditionalLayer) else {
            throw ModelError(.badConfig, "conditional_layer \(conditionalLayer) is not one of the \(extractLayers.count) decoder layers")
        }
        guard !complexTransposedConvolution || (vision.patchSize % 4 == 0 && reduceDim % 2 == 0) else {
            throw ModelError(.badConfig, "the complex transposed convolution needs patch_size divisible by 4 and an even reduce_dim")
        }
    }
}

/// CLIPSeg as transformers' `CLIPSegForImageSegmentation` computes it (CIDAS/clipseg-rd64-refined
/// and its layouts): a CLIP vision tower run at any square size with its position embeddings
/// interpolated bicubically, the outputs of `extract_layers` reduced to `reduce_dim` and summed
/// deepest first through post-norm transformer layers, FiLM-conditioned on the prompt's projected
/// text embedding, then turned into one logit per pixel by transposed convolutions.
///
/// The three parts are separate calls so that a caller segmenting one image with several prompts
/// runs the vision tower once and the text tower once per distinct prompt.
public final class CLIPSegModel: Sendable {
    public let config: CLIPSegConfig
    /// The text tower with its projection (`get_text_features`: the prompts' conditional embeddings).
    public let text: CLIPModel.Text
    let vision: CLIPModel.Vision
    let filmMul: (Weight, Weight), filmAdd: (Weight, Weight)
    /// `decoder.reduces.i` (applied to the i-th deepest activation).
    let reduces: [(Weight, Weight)]
    let decoder: TransformerEncoder
    let head: Head

    /// The transposed-convolution head, weights as PyTorch stores them.
    enum Head: Sendable {
        /// `ConvTranspose2d(reduce, 1, patch, stride patch)`.
        case simple(Weight, Weight)
        /// `Conv2d(reduce, reduce, 3, padding 1)`, ReLU, `ConvTranspose2d(reduce, reduce/2, k, k)`, ReLU,
        /// `ConvTranspose2d(reduce/2, 1, k, k)` with k = patch / 4.
        case complex(conv: (Weight, Weight), up1: (Weight, Weight), up2: (Weight, Weight))
    }

    init(config: CLIPSegConfig, weights: WeightSet) throws {
        self.config = config
        let r = config.reduceDim, p = config.projection, names = TransformerEncoder.Names.clip("decoder")
        text = try CLIPModel.Text(config: config.text, projection: p, weights: weights, prefix: "clip.")
        vision = try CLIPModel.Vision(config: config.vision, projection: p, weights: weights, prefix: "clip.")
        func linear(_ name: String, _ o: Int, _ i: Int) throws -> (Weight, Weight) {
            (try weights.take(name + ".weight", [o, i]), try weights.take(name + ".bias", [o]))
        }
        filmMul = try linear("decoder.film_mul", r, p)
        filmAdd = try linear("decoder.film_add", r, p)
        reduces = try config.extractLayers.indices.map { try linear("decoder.reduces.\($0)", r, config.vision.hiddenSize) }
        decoder = try TransformerEncoder(config: config.decoder,
                                         names: TransformerEncoder.Names(prefix: { "decoder.layers.\($0)." }, norm1: names.norm1,
                                                                         norm2: names.norm2, q: names.q, k: names.k, v: names.v,
                                                                         out: names.out, fc1: names.fc1, fc2: names.fc2),
                                         weights: weights, postNorm: true)
        let t = "decoder.transposed_convolution", patch = config.vision.patchSize
        if config.complexTransposedConvolution {
            let k = patch / 4
            head = .complex(conv: (try weights.take("\(t).0.weight", [r, r, 3, 3]), try weights.take("\(t).0.bias", [r])),
                            up1: (try weights.take("\(t).2.weight", [r, r / 2, k, k]), try weights.take("\(t).2.bias", [r / 2])),
                            up2: (try weights.take("\(t).4.weight", [r / 2, 1, k, k]), try weights.take("\(t).4.bias", [1])))
        } else {
            head = .simple(try weights.take("\(t).weight", [r, 1, patch, patch]), try weights.take("\(t).bias", [1]))
        }
        try weights.finish { $0.hasSuffix("position_ids") || $0.hasSuffix("logit_scale") }
    }

    /// The side of the logits for images of `size` pixels a side.
    public func logitSide(imageSize size: Int) -> Int {
        let g = size / config.vision.patchSize
        return config.complexTransposedConvolution ? g * (config.vision.patchSize / 4) * (config.vision.patchSize / 4)
            : g * config.vision.patchSize
    }

    // MARK: Text

    /// The prompts' conditional embeddings [rows, projection] (`get_text_features`).
    public func conditionalEmbeddings(ids: [[Int]], attentionMask: [[Int]]?) throws -> [Float] {
        try text.encode(ids: ids, attentionMask: attentionMask).textEmbeds
    }

    // MARK: Vision

    /// The vision tower's outputs at `extract_layers` for a batch of images.
    public struct Activations: Sendable {
        /// Images in the batch.
        public let batch: Int
        /// Tokens per image (1 + patches).
        public let tokens: Int
        /// One [batch, tokens, hidden] array per extract layer, shallow first.
        let layers: [[Float]]
    }

    /// Runs the vision tower (up to the deepest extract layer) on pixel values
    /// [batch, channels, size, size], `size` a multiple of the patch size.
    public func activations(pixelValues: [Float], batch: Int, size: Int) throws -> Activations {
        let c = config.vision, g = size / max(1, c.patchSize)
        guard batch > 0, size > 0, size % c.patchSize == 0, pixelValues.count == batch * c.channels * size * size else {
            throw ModelError(.badInput, "pixel values hold \(pixelValues.count) floats; [\(batch), \(c.channels), \(size), \(size)] "
                             + "with a side divisible by \(c.patchSize) needs \(batch * c.channels * size * size)")
        }
        let positions = Self.interpolatedPositions(vision.positions, grid: c.patchesPerSide, to: g, width: c.hiddenSize)
        let tokens = g * g + 1
        func run(_ pixels: [Float], _ n: Int) -> [[Float]] {
            var x = positions.withUnsafeBufferPointer {
                PatchEmbedding.embed(pixels, batch: n, size: size, config: c, kernel: vision.kernel, bias: nil,
                                     classToken: vision.classToken, positions: $0.baseAddress!)
            }
            LayerOps.layerNorm(&x, width: c.hiddenSize, weight: vision.preNorm.0.pointer, bias: vision.preNorm.1.pointer,
                               eps: c.layerNormEps)
            return vision.encoder.forward(x, batch: n, tokens: tokens, outputs: config.extractLayers)
        }
        guard let groups = LayerOps.batchGroups(batch) else {
            return Activations(batch: batch, tokens: tokens, layers: run(pixelValues, batch))
        }
        let plane = pixelValues.count / batch
        let parts = try LayerOps.eachGroup(groups) { r in
            run(Array(pixelValues[(r.lowerBound * plane)..<(r.upperBound * plane)]), r.count)
        }
        return Activations(batch: batch, tokens: tokens, layers: config.extractLayers.indices.map { l in parts.flatMap { $0[l] } })
    }

    /// transformers' `interpolate_pos_encoding`: the class position unchanged, the grid of patch
    /// positions resized from `grid` to `newGrid` a side by PyTorch's bicubic interpolation
    /// (A = -0.75, half-pixel centres, edges clamped). Unchanged when the grids agree.
    static func interpolatedPositions(_ positions: Weight, grid: Int, to newGrid: Int, width d: Int) -> [Float] {
        let source = positions.values(0..<((grid * grid + 1) * d))
        guard newGrid != grid else { return source }
        var out = [Float](repeating: 0, count: (newGrid * newGrid + 1) * d)
        for i in 0..<d { out[i] = source[i] }
        let scale = Float(grid) / Float(newGrid)
        func taps(_ o: Int) -> (index: [Int], weight: [Float]) {
            let real = scale * (Float(o) + 0.5) - 0.5
            let base = Int(real.rounded(.down)), t = real - Float(base), a: Float = -0.75
            func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
            func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return ((-1...2).map { min(max(base + $0, 0), grid - 1) }, [far(t + 1), near(t), near(1 - t), far(2 - t)])
        }
        let columns = (0..<newGrid).map(taps)
        for oy in 0..<newGrid {
            let row = taps(oy)
            for ox in 0..<newGrid {
                let column = columns[ox], target = 1 + oy * newGrid + ox
                for i in 0..<d {
                    var value: Float = 0
                    for (sy, wy) in zip(row.index, row.weight) {
                        var across: Float = 0
                        for (sx, wx) in zip(column.index, column.weight) { across += wx * source[(1 + sy * grid + sx) * d + i] }
                        value += wy * across
                    }
                    out[target * d + i] = value
                }
            }
        }
        return out
    }

    // MARK: Decoder

    /// Logits [pairs, side, side] (``logitSide(imageSize:)``) for each (image of `activations`,
    /// row of `conditionals` [rows, projection]) pair.
    public func decode(_ activations: Activations, conditionals: [Float], pairs: [(image: Int, conditional: Int)]) throws -> [Float] {
        let p = config.projection, t = activations.tokens, h = config.vision.hiddenSize
        guard conditionals.count % p == 0,
              pairs.allSatisfy({ (0..<activations.batch).contains($0.image) && (0..<(conditionals.count / p)).contains($0.conditional) }) else {
            throw ModelError(.badInput, "a pair names an image or a prompt that is not there")
        }
        guard !pairs.isEmpty else { return [] }
        let n = pairs.count, r = config.reduceDim
        // The reduces read only the image, so they run once per image, not once per prompt; the
        // decoder takes them deepest first (reduces[i] belongs to the i-th deepest activation).
        let reduced = reduces.indices.map { i in
            LayerOps.linear(activations.layers[reduces.count - 1 - i], rows: activations.batch * t, inputs: h,
                            weight: reduces[i].0.pointer, bias: reduces[i].1.pointer, outputs: r)
        }
        let layers = reduced.map { layer in pairs.flatMap { layer[($0.image * t * r)..<(($0.image + 1) * t * r)] } }
        let conditional = pairs.flatMap { conditionals[($0.conditional * p)..<(($0.conditional + 1) * p)] }
        if let groups = LayerOps.batchGroups(n) {
            let parts = try LayerOps.eachGroup(groups) { g in
                decodeChecked(layers.map { Array($0[(g.lowerBound * t * r)..<(g.upperBound * t * r)]) },
                              conditional: Array(conditional[(g.lowerBound * p)..<(g.upperBound * p)]), batch: g.count, tokens: t)
            }
            return parts.flatMap { $0 }
        }
        return decodeChecked(layers, conditional: conditional, batch: n, tokens: t)
    }

    /// The decoder over `batch` pairs, given their reduced activations deepest first: summed,
    /// FiLM before the conditional layer, each decoder layer, then the head on the patch tokens.
    func decodeChecked(_ reduced: [[Float]], conditional: [Float], batch n: Int, tokens t: Int) -> [Float] {
        let r = config.reduceDim, p = config.projection
        let mul = LayerOps.linear(conditional, rows: n, inputs: p, weight: filmMul.0.pointer, bias: filmMul.1.pointer, outputs: r)
        let add = LayerOps.linear(conditional, rows: n, inputs: p, weight: filmAdd.0.pointer, bias: filmAdd.1.pointer, outputs: r)
        var x = [Float](repeating: 0, count: n * t * r)
        for (i, layer) in reduced.enumerated() {
            LayerOps.add(&x, layer)
            if i == config.conditionalLayer {
                for b in 0..<n {
                    for s in 0..<t { for j in 0..<r { x[(b * t + s) * r + j] = x[(b * t + s) * r + j] * mul[b * r + j] + add[b * r + j] } }
                }
            }
            decoder.run(decoder.layers[i], on: &x, batch: n, tokens: t, causal: false, keyMask: nil)
        }
        let g = Int(Double(t - 1).squareRoot())
        return (0..<n).flatMap { b in
            head(Array(x[((b * t + 1) * r)..<((b + 1) * t * r)]), side: g)
        }
    }

    /// The transposed-convolution head on one image's patch tokens [side², reduce] (row-major
    /// positions, channels last): its logits [out side, out side].
    func head(_ tokens: [Float], side g: Int) -> [Float] {
        let r = config.reduceDim
        switch head {
        case let .simple(weight, bias):
            return Self.transposedConvolution(tokens, side: g, inputs: r, weight: weight, bias: bias, outputs: 1,
                                              kernel: config.vision.patchSize)
        case let .complex(conv, up1, up2):
            let k = config.vision.patchSize / 4
            var x = Self.convolution3x3(tokens, side: g, channels: r, weight: conv.0, bias: conv.1)
            LayerOps.Activation.relu.apply(&x)
            x = Self.transposedConvolution(x, side: g, inputs: r, weight: up1.0, bias: up1.1, outputs: r / 2, kernel: k)
            LayerOps.Activation.relu.apply(&x)
            return Self.transposedConvolution(x, side: g * k, inputs: r / 2, weight: up2.0, bias: up2.1, outputs: 1, kernel: k)
        }
    }

    /// `ConvTranspose2d(inputs, outputs, kernel, stride kernel)` on a channels-last square image
    /// [side², inputs]: each pixel becomes a kernel x kernel block, one sgemm with the weight
    /// [inputs, outputs·kernel²] as stored. Returns [(side·kernel)², outputs], channels last.
    static func transposedConvolution(_ x: [Float], side g: Int, inputs c: Int, weight: Weight, bias: Weight, outputs o: Int,
                                      kernel k: Int) -> [Float] {
        var blocks = [Float](repeating: 0, count: g * g * o * k * k)
        x.withUnsafeBufferPointer { xb in
            blocks.withUnsafeMutableBufferPointer { yb in
                BLAS.gemm(m: g * g, n: o * k * k, k: c, a: xb.baseAddress!, lda: c, transposeA: false, b: weight.pointer,
                          ldb: o * k * k, transposeB: false, beta: 0, c: yb.baseAddress!, ldc: o * k * k)
            }
        }
        let side = g * k
        var out = [Float](repeating: 0, count: side * side * o)
        for y in 0..<g {
            for x in 0..<g {
                let block = (y * g + x) * o * k * k
                for ch in 0..<o {
                    for i in 0..<k {
                        for j in 0..<k { out[((y * k + i) * side + x * k + j) * o + ch] = blocks[block + (ch * k + i) * k + j] + bias.pointer[ch] }
                    }
                }
            }
        }
        return out
    }

    /// `Conv2d(channels, channels, 3, padding 1)` on a channels-last square image [side², channels]:
    /// rows of 3x3 neighbourhoods ordered (channel, dy, dx) as the kernel is stored, one sgemm.
    static func convolution3x3(_ x: [Float], side g: Int, channels c: Int, weight: Weight, bias: Weight) -> [Float] {
        var columns = [Float](repeating: 0, count: g * g * c * 9)
        for y in 0..<g {
            for xx in 0..<g {
                let row = (y * g + xx) * c * 9
                for dy in -1...1 {
                    for dx in -1...1 {
                        let sy = y + dy, sx = xx + dx
                        guard (0..<g).contains(sy), (0..<g).contains(sx) else { continue }
                        let source = (sy * g + sx) * c, tap = (dy + 1) * 3 + (dx + 1)
                        for ch in 0..<c { columns[row + ch * 9 + tap] = x[source + ch] }
                    }
                }
            }
        }
        return LayerOps.linear(columns, rows: g * g, inputs: c * 9, weight: weight.pointer, bias: bias.pointer, outputs: c)
    }

    // MARK: The transformers call

    /// `CLIPSegForImageSegmentation(input_ids, pixel_values, attention_mask).logits`: row i pairs
    /// image i with prompt i, [rows, side, side]. Identical images and identical prompts are
    /// encoded once.
    public func logits(pixelValues: [Float], size: Int, ids: [[Int]], attentionMask: [[Int]]?) throws -> [Float] {
        let n = ids.count
        guard n > 0, pixelValues.count % n == 0 else {
            throw ModelError(.badInput, "\(n) prompts for \(pixelValues.count) pixel values: give one image per prompt")
        }
        let plane = pixelValues.count / n
        var imageIndex: [ArraySlice<Float>: Int] = [:], images: [Int] = [], imagePairs: [Int] = []
        for i in 0..<n {
            let slice = pixelValues[(i * plane)..<((i + 1) * plane)]
            if let seen = imageIndex[slice] { imagePairs.append(seen) } else {
                imageIndex[slice] = images.count
                imagePairs.append(images.count)
                images.append(i)
            }
        }
        var promptIndex: [[Int]: Int] = [:], prompts: [Int] = [], promptPairs: [Int] = []
        for i in 0..<n {
            let key = ids[i] + (attentionMask?[i] ?? [])
            if let seen = promptIndex[key] { promptPairs.append(seen) } else {
                promptIndex[key] = prompts.count
                promptPairs.append(prompts.count)
                prompts.append(i)
            }
        }
        let activations = try self.activations(pixelValues: images.flatMap { pixelValues[($0 * plane)..<(($0 + 1) * plane)] },
                                               batch: images.count, size: size)
        let conditionals = try conditionalEmbeddings(ids: prompts.map { ids[$0] }, attentionMask: attentionMask.map { m in prompts.map { m[$0] } })
        return try decode(activations, conditionals: conditionals, pairs: (0..<n).map { (imagePairs[$0], promptPairs[$0]) })
    }
}
