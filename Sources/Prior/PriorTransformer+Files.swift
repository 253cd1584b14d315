public import Formats
import Foundation
import Models
import Tensor

/// Reading and writing the prior in diffusers' layout: a folder with `config.json` and
/// `diffusion_pytorch_model.safetensors` (or `model.safetensors`), tensor names as
/// `PriorTransformer.state_dict()` gives them, so the public λ-ECLIPSE prior loads here and ours
/// loads with `PriorTransformer.from_pretrained`.
extension PriorTransformer {
    public static let weightsFileName = "diffusion_pytorch_model.safetensors"

    /// Loads a prior folder (f32, f16 or bf16 weights). Missing, unexpected or misshapen tensors are
    /// errors naming the tensor; `clip_mean`/`clip_std` may be absent (zeros).
    public static func load(directory: String) throws -> PriorTransformer {
        let config = try PriorConfig.load(path: directory + "/config.json")
        let candidates = [weightsFileName, "model.safetensors"].map { directory + "/" + $0 }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw PriorError(.badCheckpoint, "no \(weightsFileName) or model.safetensors", path: directory)
        }
        return try load(config: config, weights: SafetensorsFile(path: path))
    }

    /// Builds the prior from an open safetensors file, checking every name and shape.
    public static func load(config: PriorConfig, weights file: SafetensorsFile) throws -> PriorTransformer {
        try config.validate()
        let layout = PriorLayout(config)
        var values = [Float](repeating: 0, count: layout.count)
        for tensor in layout.tensors {
            guard let entry = file.entries[tensor.name] else {
                if tensor.name.hasPrefix("clip_") { continue }
                throw PriorError(.badCheckpoint, "missing tensor \(tensor.name) \(tensor.shape)", path: file.path)
            }
            guard entry.shape.reduce(1, *) == tensor.count, entry.shape.filter({ $0 != 1 }) == tensor.shape.filter({ $0 != 1 }) else {
                throw PriorError(.badCheckpoint, "\(tensor.name) has shape \(entry.shape); the config gives \(tensor.shape)", path: file.path)
            }
            let weight = try file.floats(tensor.name)
            for i in 0..<tensor.count { values[tensor.offset + i] = weight.pointer[i] }
        }
        let known = Set(layout.tensors.map(\.name))
        let unexpected = file.entries.keys.filter { !known.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            let hint = unexpected.contains { $0.hasPrefix("time_embedding") }
                ? " (a diffusion prior with a time embedding, such as Kandinsky's, is not the λ-ECLIPSE prior)" : ""
            throw PriorError(.badCheckpoint, "unexpected tensors \(unexpected.prefix(5).joined(separator: ", "))\(hint)", path: file.path)
        }
        return try PriorTransformer(config: config, parameters: values)
    }

    /// The weights as safetensors entries under diffusers' names.
    public func weightEntries(half: Bool = false) -> [Safetensors.Entry] {
        layout.tensors.map { t in
            Safetensors.Entry(name: t.name, shape: t.shape, floats: Array(parameters[t.offset..<(t.offset + t.count)]), half: half)
        }
    }
}
