import Foundation
public import Tensor

/// One transformer tower's sizes, read from a Hugging Face `config.json` (`text_config`,
/// `vision_config`, or a ViT config).
public struct TowerConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var heads: Int
    public var layers: Int
    public var activation: LayerOps.Activation
    public var layerNormEps: Float
    /// Text: vocabulary and context; vision: image and patch size.
    public var vocabularySize = 0
    public var maxPositions = 0
    public var eosTokenID = 2
    public var imageSize = 0
    public var patchSize = 0
    public var channels = 3
    public var qkvBias = true

    public var headDim: Int { hiddenSize / heads }
    public var patchesPerSide: Int { imageSize / max(1, patchSize) }

    init(_ json: [String: Any], defaults: [String: Any], what: String) throws {
        func value<T>(_ key: String) throws -> T {
            guard let v = (json[key] ?? defaults[key]) as? T else {
                throw ModelError(.badConfig, "\(what): '\(key)' is missing or has the wrong type")
            }
            return v
        }
        hiddenSize = try value("hidden_size")
        intermediateSize = try value("intermediate_size")
        heads = try value("num_attention_heads")
        layers = try value("num_hidden_layers")
        let act: String = try value("hidden_act")
        guard let activation = LayerOps.Activation(rawValue: act) else { throw ModelError(.badConfig, "\(what): unsupported hidden_act '\(act)'") }
        self.activation = activation
        layerNormEps = Float(try value("layer_norm_eps") as Double)
        vocabularySize = (json["vocab_size"] ?? defaults["vocab_size"]) as? Int ?? 0
        maxPositions = (json["max_position_embeddings"] ?? defaults["max_position_embeddings"]) as? Int ?? 0
        eosTokenID = (json["eos_token_id"] ?? defaults["eos_token_id"]) as? Int ?? 2
        imageSize = (json["image_size"] ?? defaults["image_size"]) as? Int ?? 0
        patchSize = (json["patch_size"] ?? defaults["patch_size"]) as? Int ?? 0
        channels = (json["num_channels"] ?? defaults["num_channels"]) as? Int ?? 3
        qkvBias = (json["qkv_bias"] ?? defaults["qkv_bias"]) as? Bool ?? true
        guard hiddenSize > 0, heads > 0, hiddenSize % heads == 0, layers > 0, intermediateSize > 0 else {
            throw ModelError(.badConfig, "\(what): hidden_size \(hiddenSize) must split into \(heads) heads")
        }
    }
}

/// The model a directory holds, from its `config.json` `model_type`.
public enum ModelConfig: Sendable {
    /// CLIP (`clip`: both towers; `clip_text_model` / `clip_vision_model`: one), with the
    /// projection width.
    case clip(text: TowerConfig?, vision: TowerConfig?, projection: Int)
    /// A ViT (`vit`, e.g. facebook/dino-vits16).
    case vit(TowerConfig)
    /// CLIPSeg (`clipseg`, e.g. CIDAS/clipseg-rd64-refined).
    case clipseg(CLIPSegConfig)

    // transformers' defaults for keys a config may omit.
    nonisolated(unsafe) static let clipTextDefaults: [String: Any] = [
        "hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8, "num_hidden_layers": 12,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "vocab_size": 49408, "max_position_embeddings": 77,
        "eos_token_id": 2,
    ]
    nonisolated(unsafe) static let clipVisionDefaults: [String: Any] = [
        "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "image_size": 224, "patch_size": 32, "num_channels": 3,
    ]
    nonisolated(unsafe) static let vitDefaults: [String: Any] = [
        "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": 224, "patch_size": 16, "num_channels": 3,
        "qkv_bias": true,
    ]

    /// Reads `directory/config.json`.
    public static func load(directory: String) throws -> ModelConfig {
        let path = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(.missingFile, "no config.json", path: path) }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError(.badConfig, "config.json is not a JSON object", path: path)
        }
        do {
            switch json["model_type"] as? String {
            case "clip":
                let text = try TowerConfig(json["text_config"] as? [String: Any] ?? [:], defaults: clipTextDefaults, what: "text_config")
                let vision = try TowerConfig(json["vision_config"] as? [String: Any] ?? [:], defaults: clipVisionDefaults,
                                             what: "vision_config")
                return .clip(text: text, vision: vision, projection: json["projection_dim"] as? Int ?? 512)
            case "clip_text_model":
                return .clip(text: try TowerConfig(json, defaults: clipTextDefaults, what: "config"), vision: nil,
                             projection: json["projection_dim"] as? Int ?? 512)
            case "clip_vision_model":
                return .clip(text: nil, vision: try TowerConfig(json, defaults: clipVisionDefaults, what: "config"),
                             projection: json["projection_dim"] as? Int ?? 512)
            case "vit", "dinov1":
                return .vit(try TowerConfig(json, defaults: vitDefaults, what: "config"))
            case "clipseg":
                return .clipseg(try CLIPSegConfig(json))
            case let other:
                throw ModelError(.badConfig,
                                 "unsupported model_type '\(other ?? "none")' (clip, clip_text_model, clip_vision_model, vit, clipseg)")
            }
        } catch var error as ModelError {
            error.path = error.path ?? path
            throw error
        }
    }
}
