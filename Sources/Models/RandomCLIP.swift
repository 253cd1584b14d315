import Formats
import Foundation
import Tensor

/// Writes a small CLIP of the real layout with seeded random weights as a Hugging Face directory,
/// for demos and tests where no real weights are present: the full 49,408-token vocabulary and
/// 77 positions, 224-pixel images in 32-pixel patches, head size 64.
public enum RandomCLIP {
    /// Writes `config.json` and `model.safetensors` into `directory`.
    public static func write(to directory: String, seed: UInt64 = 1, width: Int = 64, layers: Int = 2, projection: Int = 64) throws {
        var weights = RandomWeights(seed: seed, salt: 0x9E37_79B9_7F4A_7C15)
        let heads = max(1, width / 64), inner = 4 * width
        func add(_ name: String, _ shape: [Int], scale: Float = 0.02) { weights.add(name, shape, scale: scale) }
        func norm(_ name: String) { weights.norm(name, width: width) }
        func encoder(_ tower: String) { weights.clipLayers("\(tower).encoder", width: width, inner: inner, count: layers) }
        add("text_model.embeddings.token_embedding.weight", [49408, width])
        add("text_model.embeddings.position_embedding.weight", [77, width], scale: 0.01)
        encoder("text_model")
        norm("text_model.final_layer_norm")
        add("text_projection.weight", [projection, width])
        add("vision_model.embeddings.class_embedding", [width])
        add("vision_model.embeddings.patch_embedding.weight", [width, 3, 32, 32])
        add("vision_model.embeddings.position_embedding.weight", [50, width])
        norm("vision_model.pre_layrnorm")
        encoder("vision_model")
        norm("vision_model.post_layernorm")
        add("visual_projection.weight", [projection, width])
        let tower = """
            "hidden_size": \(width), "intermediate_size": \(inner), "num_attention_heads": \(heads), \
            "num_hidden_layers": \(layers), "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05
            """
        let config = """
            {
              "architectures": ["CLIPModel"],
              "model_type": "clip",
              "projection_dim": \(projection),
              "random_weights": true,
              "text_config": {\(tower), "vocab_size": 49408, "max_position_embeddings": 77, "eos_token_id": 2},
              "vision_config": {\(tower), "image_size": 224, "patch_size": 32, "num_channels": 3}
            }

            """
        try weights.write(to: directory, config: config)
    }

    /// Whether a model directory says it holds random weights (written here).
    public static func isRandom(directory: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: directory + "/config.json"),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
        return json["random_weights"] as? Bool ?? false
    }
}

/// Writes a small DINO-layout ViT (HF ViTModel names, patch 16, 224 pixels, head size 64) with
/// seeded random weights, for demos where no real weights are present.
public enum RandomViT {
    public static func write(to directory: String, seed: UInt64 = 1, width: Int = 64, layers: Int = 2) throws {
        var weights = RandomWeights(seed: seed, salt: 0xD1B5_4A32_D192_ED03)
        func add(_ name: String, _ shape: [Int], scale: Float = 0.05) { weights.add(name, shape, scale: scale) }
        func norm(_ name: String) { weights.norm(name, width: width) }
        let inner = 4 * width
        add("embeddings.cls_token", [1, 1, width], scale: 0.5)
        add("embeddings.position_embeddings", [1, 197, width], scale: 0.5)
        add("embeddings.patch_embeddings.projection.weight", [width, 3, 16, 16])
        add("embeddings.patch_embeddings.projection.bias", [width])
        for i in 0..<layers {
            let p = "encoder.layer.\(i)."
            for part in ["attention.attention.query", "attention.attention.key", "attention.attention.value", "attention.output.dense"] {
                add(p + part + ".weight", [width, width]); add(p + part + ".bias", [width])
            }
            add(p + "intermediate.dense.weight", [inner, width]); add(p + "intermediate.dense.bias", [inner])
            add(p + "output.dense.weight", [width, inner]); add(p + "output.dense.bias", [width])
            norm(p + "layernorm_before"); norm(p + "layernorm_after")
        }
        norm("layernorm")
        let config = """
            {"architectures": ["ViTModel"], "model_type": "vit", "random_weights": true, "hidden_size": \(width),
             "intermediate_size": \(inner), "num_attention_heads": \(max(1, width / 64)), "num_hidden_layers": \(layers),
             "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": 224, "patch_size": 16, "num_channels": 3, "qkv_bias": true}

            """
        try weights.write(to: directory, config: config)
    }
}

/// Seeded random tensors in checkpoint order (xorshift, uniform in ±scale), and unit norms.
struct RandomWeights {
    var state: UInt64
    var entries: [Safetensors.Entry] = []

    init(seed: UInt64, salt: UInt64) { state = seed &* salt | 1 }

    mutating func add(_ name: String, _ shape: [Int], scale: Float) {
        entries.append(.init(name: name, shape: shape, floats: values(shape.reduce(1, *), scale: scale)))
    }

    /// `count` uniform values in [-scale, scale).
    mutating func values(_ count: Int, scale: Float) -> [Float] {
        (0..<count).map { _ -> Float in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    /// Random values of `shape`, each repeated over a square kernel of `repeats` taps (the
    /// tensor's shape is `shape` + [side, side]).
    mutating func addRepeated(_ name: String, _ shape: [Int], repeats: Int, scale: Float) {
        let side = Int(Double(repeats).squareRoot())
        entries.append(.init(name: name, shape: shape + [side, side],
                             floats: values(shape.reduce(1, *), scale: scale).flatMap { Array(repeating: $0, count: repeats) }))
    }

    /// `count` CLIP encoder layers (`<prefix>.layers.<i>.`: attention, MLP, two norms), scale 0.02.
    mutating func clipLayers(_ prefix: String, width: Int, inner: Int, count: Int) {
        for i in 0..<count {
            let p = "\(prefix).layers.\(i)."
            for part in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                add(p + "self_attn.\(part).weight", [width, width], scale: 0.02); add(p + "self_attn.\(part).bias", [width], scale: 0.02)
            }
            add(p + "mlp.fc1.weight", [inner, width], scale: 0.02); add(p + "mlp.fc1.bias", [inner], scale: 0.02)
            add(p + "mlp.fc2.weight", [width, inner], scale: 0.02); add(p + "mlp.fc2.bias", [width], scale: 0.02)
            norm(p + "layer_norm1", width: width); norm(p + "layer_norm2", width: width)
        }
    }

    mutating func norm(_ name: String, width: Int) {
        entries.append(.init(name: name + ".weight", shape: [width], floats: [Float](repeating: 1, count: width)))
        entries.append(.init(name: name + ".bias", shape: [width], floats: [Float](repeating: 0, count: width)))
    }

    /// Writes `config.json` and `model.safetensors`.
    func write(to directory: String, config: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"), options: .atomic)
        try Data(Safetensors.serialize(entries, metadata: ["format": "pt", "note": "random weights, not a trained model"]))
            .write(to: URL(fileURLWithPath: directory + "/model.safetensors"), options: .atomic)
    }
}
