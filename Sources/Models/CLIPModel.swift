import Formats
import Foundation
import Tensor

/// CLIP as transformers' CLIPTextModelWithProjection and CLIPVisionModelWithProjection compute
/// it (OpenAI ViT-B/32, ViT-L/14, OpenCLIP ViT-bigG/14 in the Hugging Face layout), loaded from
/// a model directory (`config.json` + `model.safetensors`) with the checkpoint's tensor names.
public final class CLIPModel: Sendable {
    public let text: Text?
    public let vision: Vision?
    public let projection: Int

    /// The text tower.
    public final class Text: Sendable {
        public let config: TowerConfig
        let tokens: Weight, positions: Weight, finalNorm: (Weight, Weight), projectionWeight: Weight
        let encoder: TransformerEncoder
        public let projection: Int

        /// - Parameter prefix: what the checkpoint puts before `text_model.` (`clip.` in CLIPSeg).
        init(config: TowerConfig, projection: Int, weights: WeightSet, prefix: String = "") throws {
            self.config = config
            self.projection = projection
            let d = config.hiddenSize, m = prefix + "text_model"
            tokens = try weights.take("\(m).embeddings.token_embedding.weight", [config.vocabularySize, d])
            positions = try weights.take("\(m).embeddings.position_embedding.weight", [config.maxPositions, d])
            encoder = try TransformerEncoder(config: config, names: .clip(m), weights: weights)
            finalNorm = (try weights.take("\(m).final_layer_norm.weight", [d]), try weights.take("\(m).final_layer_norm.bias", [d]))
            projectionWeight = try weights.take(prefix + "text_projection.weight", [projection, d])
        }

        /// Encodes token ids (each row as long as the others, at most the context).
        /// - Returns: `lastHiddenState` [batch, tokens, hidden] after the final norm and
        ///   `textEmbeds` [batch, projection] (the end token's state, projected; not normalised).
        public func encode(ids: [[Int]], attentionMask: [[Int]]?) throws -> (lastHiddenState: [Float], textEmbeds: [Float]) {
            let batch = ids.count, t = ids.first?.count ?? 0
            guard batch > 0, t > 0, t <= config.maxPositions, ids.allSatisfy({ $0.count == t }) else {
                throw ModelError(.badInput, "input ids must be \(batch) rows of equal length 1...\(config.maxPositions)")
            }
            guard ids.allSatisfy({ $0.allSatisfy { (0..<config.vocabularySize).contains($0) } }) else {
                throw ModelError(.badInput, "an input id is outside the vocabulary of \(config.vocabularySize)")
            }
            if let attentionMask, attentionMask.count != batch || !attentionMask.allSatisfy({ $0.count == t }) {
                throw ModelError(.badInput, "attention mask shape differs from the input ids'")
            }
            if let groups = LayerOps.batchGroups(batch) {
                let parts = try LayerOps.eachGroup(groups) { r in
                    encodeChecked(ids: Array(ids[r]), attentionMask: attentionMask.map { Array($0[r]) })
                }
                return (parts.flatMap(\.lastHiddenState), parts.flatMap(\.textEmbeds))
            }
            return encodeChecked(ids: ids, attentionMask: attentionMask)
        }

        /// ``encode(ids:attentionMask:)`` on checked inputs, in one pass.
        private func encodeChecked(ids: [[Int]], attentionMask: [[Int]]?) -> (lastHiddenState: [Float], textEmbeds: [Float]) {
            let batch = ids.count, t = ids[0].count, d = config.hiddenSize
            var x = [Float](repeating: 0, count: batch * t * d)
            for b in 0..<batch {
                for p in 0..<t {
                    let token = tokens.pointer + ids[b][p] * d, position = positions.pointer + p * d
                    for i in 0..<d { x[(b * t + p) * d + i] = token[i] + position[i] }
                }
            }
            let keyMask = attentionMask.map { $0.flatMap { $0.map { $0 != 0 } } }
            var hidden = encoder.forward(x, batch: batch, tokens: t, causal: true, keyMask: keyMask)
            LayerOps.layerNorm(&hidden, width: d, weight: finalNorm.0.pointer, bias: finalNorm.1.pointer, eps: config.layerNormEps)
            var pooled = [Float](repeating: 0, count: batch * d)
            for b in 0..<batch {
                // transformers: the highest id (legacy configs with eos_token_id 2), else the first end token.
                let row = ids[b]
                let position = config.eosTokenID == 2 ? row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
                    : row.firstIndex(of: config.eosTokenID) ?? 0
                for i in 0..<d { pooled[b * d + i] = hidden[(b * t + position) * d + i] }
            }
            let embeds = LayerOps.linear(pooled, rows: batch, inputs: d, weight: projectionWeight.pointer, bias: nil, outputs: projection)
            return (hidden, embeds)
        }
    }

    /// The vision tower.
    public final class Vision: Sendable {
        public let config: TowerConfig
        let classToken: Weight, kernel: Weight, positions: Weight, preNorm: (Weight, Weight), postNorm: (Weight, Weight)
        let projectionWeight: Weight
        let encoder: TransformerEncoder
        public let projection: Int

        /// - Parameter prefix: what the checkpoint puts before `vision_model.` (`clip.` in CLIPSeg).
        init(config: TowerConfig, projection: Int, weights: WeightSet, prefix: String = "") throws {
            self.config = config
            self.projection = projection
            let d = config.hiddenSize, p = config.patchSize, n = config.patchesPerSide * config.patchesPerSide, m = prefix + "vision_model"
            classToken = try weights.take("\(m).embeddings.class_embedding", [d])
            kernel = try weights.take("\(m).embeddings.patch_embedding.weight", [d, config.channels, p, p])
            positions = try weights.take("\(m).embeddings.position_embedding.weight", [n + 1, d])
            preNorm = (try weights.take("\(m).pre_layrnorm.weight", [d]), try weights.take("\(m).pre_layrnorm.bias", [d]))
            encoder = try TransformerEncoder(config: config, names: .clip(m), weights: weights)
            postNorm = (try weights.take("\(m).post_layernorm.weight", [d]), try weights.take("\(m).post_layernorm.bias", [d]))
            projectionWeight = try weights.take(prefix + "visual_projection.weight", [projection, d])
        }

        /// Encodes preprocessed pixel values [batch, channels, size, size].
        /// - Returns: `lastHiddenState` [batch, 1 + patches, hidden] (the encoder's output) and
        ///   `imageEmbeds` [batch, projection] (the class token after the post norm, projected).
        public func encode(pixelValues: [Float], batch: Int) throws -> (lastHiddenState: [Float], imageEmbeds: [Float]) {
            try PatchEmbedding.check(pixelValues, batch: batch, config: config)
            return try PatchEmbedding.grouped(pixelValues, batch: batch) { encodeChecked(pixelValues: $0, batch: $1) }
        }

        /// ``encode(pixelValues:batch:)`` on checked inputs, in one pass.
        private func encodeChecked(pixelValues: [Float], batch: Int) -> (lastHiddenState: [Float], imageEmbeds: [Float]) {
            let d = config.hiddenSize, t = config.patchesPerSide * config.patchesPerSide + 1
            var x = PatchEmbedding.embed(pixelValues, batch: batch, config: config, kernel: kernel, bias: nil,
                                         classToken: classToken, positions: positions)
            LayerOps.layerNorm(&x, width: d, weight: preNorm.0.pointer, bias: preNorm.1.pointer, eps: config.layerNormEps)
            let hidden = encoder.forward(x, batch: batch, tokens: t, causal: false, keyMask: nil)
            var pooled = [Float](repeating: 0, count: batch * d)
            for b in 0..<batch { for i in 0..<d { pooled[b * d + i] = hidden[b * t * d + i] } }
            LayerOps.layerNorm(&pooled, width: d, weight: postNorm.0.pointer, bias: postNorm.1.pointer, eps: config.layerNormEps)
            let embeds = LayerOps.linear(pooled, rows: batch, inputs: d, weight: projectionWeight.pointer, bias: nil, outputs: projection)
            return (hidden, embeds)
        }
    }

    init(text: TowerConfig?, vision: TowerConfig?, projection: Int, weights: WeightSet) throws {
        self.projection = projection
        self.text = try text.map { try Text(config: $0, projection: projection, weights: weights) }
        self.vision = try vision.map { try Vision(config: $0, projection: projection, weights: weights) }
        try weights.finish { $0.hasSuffix("position_ids") || $0 == "logit_scale" }
    }
}
