import Foundation

/// Writes a CLIPSeg of CIDAS/clipseg-rd64-refined's layout with seeded random weights as a
/// Hugging Face directory (`clip.` towers + `decoder.` with the complex transposed convolution),
/// for demos, tests and benchmarks where no real weights are present. Vision width 768 and 12
/// layers is the released model's size (text width 512, extract layers 3, 6, 9); smaller widths
/// and depths keep the layout: the text width is two thirds of the vision width (a multiple of
/// 64), and the decoder reads layers L/4, L/2 and 3L/4.
public enum RandomCLIPSeg {
    /// Writes `config.json` and `model.safetensors` into `directory`.
    public static func write(to directory: String, seed: UInt64 = 1, width: Int = 128, layers: Int = 4) throws {
        precondition(width % 64 == 0 && width >= 128 && layers >= 4, "width a multiple of 64 (>= 128), layers >= 4")
        var weights = RandomWeights(seed: seed, salt: 0xC2B2_AE3D_27D4_EB4F)
        let textWidth = max(64, width * 2 / 3 / 64 * 64), projection = textWidth, reduce = 64, decoderInner = 2048
        let extract = [layers / 4, layers / 2, 3 * layers / 4]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.02) { weights.add(name, shape, scale: scale) }
        func encoder(_ prefix: String, width: Int, inner: Int, count: Int) {
            weights.clipLayers(prefix, width: width, inner: inner, count: count)
        }
        add("clip.text_model.embeddings.token_embedding.weight", [49408, textWidth])
        add("clip.text_model.embeddings.position_embedding.weight", [77, textWidth], scale: 0.01)
        encoder("clip.text_model.encoder", width: textWidth, inner: 4 * textWidth, count: layers)
        weights.norm("clip.text_model.final_layer_norm", width: textWidth)
        add("clip.text_projection.weight", [projection, textWidth])
        add("clip.vision_model.embeddings.class_embedding", [width])
        add("clip.vision_model.embeddings.patch_embedding.weight", [width, 3, 16, 16])
        add("clip.vision_model.embeddings.position_embedding.weight", [197, width], scale: 0.01)
        weights.norm("clip.vision_model.pre_layrnorm", width: width)
        encoder("clip.vision_model.encoder", width: width, inner: 4 * width, count: layers)
        weights.norm("clip.vision_model.post_layernorm", width: width)
        add("clip.visual_projection.weight", [projection, width])
        // CLIP's contrastive temperature, log(1 / 0.07), which transformers expects and CLIPSeg never uses.
        weights.entries.append(.init(name: "clip.logit_scale", shape: [], floats: [2.6592]))
        add("decoder.film_mul.weight", [reduce, projection], scale: 0.2); add("decoder.film_mul.bias", [reduce], scale: 0.2)
        add("decoder.film_add.weight", [reduce, projection], scale: 0.2); add("decoder.film_add.bias", [reduce], scale: 0.2)
        add("decoder.transposed_convolution.0.weight", [reduce, reduce, 3, 3], scale: 0.1)
        add("decoder.transposed_convolution.0.bias", [reduce], scale: 0.1)
        // The two upsampling convolutions repeat one channel mix over their 4x4 kernel (nearest-
        // neighbour upsampling), so random logits vary per patch, as a trained head's do, rather
        // than in a 4-pixel checkerboard that no threshold can turn into a subject.
        weights.addRepeated("decoder.transposed_convolution.2.weight", [reduce, reduce / 2], repeats: 16, scale: 0.1)
        add("decoder.transposed_convolution.2.bias", [reduce / 2], scale: 0.1)
        weights.addRepeated("decoder.transposed_convolution.4.weight", [reduce / 2, 1], repeats: 16, scale: 3)
        add("decoder.transposed_convolution.4.bias", [1], scale: 0.1)
        for i in extract.indices {
            add("decoder.reduces.\(i).weight", [reduce, width], scale: 0.1); add("decoder.reduces.\(i).bias", [reduce], scale: 0.1)
        }
        encoder("decoder", width: reduce, inner: decoderInner, count: extract.count)
        let config = """
            {
              "architectures": ["CLIPSegForImageSegmentation"],
              "model_type": "clipseg",
              "random_weights": true,
              "projection_dim": \(projection),
              "extract_layers": \(extract),
              "reduce_dim": \(reduce),
              "decoder_num_attention_heads": 4,
              "decoder_intermediate_size": \(decoderInner),
              "conditional_layer": 0,
              "use_complex_transposed_convolution": true,
              "text_config": {"hidden_size": \(textWidth), "intermediate_size": \(4 * textWidth), "num_attention_heads": \(textWidth / 64),
                              "num_hidden_layers": \(layers), "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05,
                              "vocab_size": 49408, "max_position_embeddings": 77, "eos_token_id": 2},
              "vision_config": {"hidden_size": \(width), "intermediate_size": \(4 * width), "num_attention_heads": \(width / 64),
                                "num_hidden_layers": \(layers), "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05,
                                "image_size": 224, "patch_size": 16, "num_channels": 3}
            }

            """
        try weights.write(to: directory, config: config)
    }
}
