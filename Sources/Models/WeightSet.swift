import Formats
import Foundation
import Tensor

/// The tensors of a checkpoint as a model takes them: each name taken is recorded, so that
/// after loading, names never taken are reported as unexpected and names absent as missing.
final class WeightSet {
    /// The checkpoint's files (one, or the shards of a `model.safetensors.index.json`).
    let files: [SafetensorsFile]
    /// Which file holds each tensor.
    let owner: [String: SafetensorsFile]
    private(set) var taken: Set<String> = []
    private(set) var missing: [String] = []
    var path: String { files.count == 1 ? files[0].path : (files.first.map { ($0.path as NSString).deletingLastPathComponent } ?? "") }
    var names: Dictionary<String, SafetensorsFile>.Keys { owner.keys }

    init(files: [SafetensorsFile]) throws {
        self.files = files
        var owner: [String: SafetensorsFile] = [:]
        for file in files {
            for name in file.entries.keys {
                guard owner[name] == nil else { throw ModelError(.badCheckpoint, "tensor '\(name)' is in two shards", path: file.path) }
                owner[name] = file
            }
        }
        self.owner = owner
    }

    /// The checkpoint of a model directory: `model.safetensors`, or the shards that
    /// `model.safetensors.index.json` lists (each tensor in the shard its weight map names).
    static func load(directory: String) throws -> WeightSet {
        do {
            return try loadFiles(directory: directory)
        } catch let error as FormatError {
            throw ModelError(error)
        }
    }

    private static func loadFiles(directory: String) throws -> WeightSet {
        let single = directory + "/model.safetensors", index = directory + "/model.safetensors.index.json"
        if FileManager.default.fileExists(atPath: single) || !FileManager.default.fileExists(atPath: index) {
            return try WeightSet(files: [SafetensorsFile(path: single)])
        }
        guard let data = FileManager.default.contents(atPath: index),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = json["weight_map"] as? [String: String] else {
            throw ModelError(.badCheckpoint, "no weight_map", path: index)
        }
        let shards = Set(map.values).sorted()
        guard shards.allSatisfy({ !$0.contains("/") && !$0.hasPrefix(".") }) else {
            throw ModelError(.badCheckpoint, "a shard name leaves the directory", path: index)
        }
        let set = try WeightSet(files: shards.map { try SafetensorsFile(path: directory + "/" + $0) })
        for (name, shard) in map where set.owner[name].map({ ($0.path as NSString).lastPathComponent != shard }) ?? true {
            throw ModelError(.badCheckpoint, "tensor '\(name)' is not in \(shard) as the index says", path: index)
        }
        return set
    }

    /// The tensor `name` with the given shape; a missing one is recorded (and a placeholder
    /// returned) so that one error can list every missing name.
    func take(_ name: String, _ shape: [Int]) throws -> Weight {
        taken.insert(name)
        guard let file = owner[name] else {
            missing.append(name)
            return Weight(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
        }
        do {
            return try file.floats(name, shape: shape)
        } catch let error as FormatError {
            throw ModelError(error)
        }
    }

    /// The precision large matrices are taken in (``takeMatrix(_:_:)``).
    var precision: Precision = .f32

    /// With `bf16`: products on oneDNN's bf16 matmul, else on the float32 fallback.
    var bf16Engine = MatrixEngines.bf16.usesOneDNN
    /// With `f32`: layer products on oneDNN's f32 matmul, else on OpenBLAS.
    var f32Engine = MatrixEngines.f32.usesOneDNN

    /// A weight matrix in ``precision``.
    func takeMatrix(_ name: String, _ shape: [Int]) throws -> MatrixWeight {
        let weight = try take(name, shape)
        return precision == .bf16 ? try MatrixWeight(bfloat16: weight, engine: bf16Engine) : try MatrixWeight(weight, engine: f32Engine)
    }

    /// Takes a tensor if present (optional parts such as a ViT pooler).
    func takeIfPresent(_ name: String, _ shape: [Int]) throws -> Weight? {
        guard owner[name] != nil else { return nil }
        return try take(name, shape)
    }

    /// Throws when a name was missing, or when the file holds names the model does not use
    /// (other than `ignorable` ones such as buffers).
    func finish(ignorable: (String) -> Bool) throws {
        let unexpected = owner.keys.filter { !taken.contains($0) && !ignorable($0) }.sorted()
        if !missing.isEmpty {
            throw ModelError(.missingWeights, "missing \(missing.count) tensor(s): \(Self.list(missing))", path: path)
        }
        if !unexpected.isEmpty {
            throw ModelError(.unexpectedWeights, "unexpected \(unexpected.count) tensor(s): \(Self.list(unexpected))", path: path)
        }
    }

    static func list(_ names: [String]) -> String {
        names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", … (\(names.count - 8) more)" : "")
    }
}
