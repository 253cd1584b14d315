/// The tensors of a checkpoint as a model takes them: each name taken is recorded, so that
/// after loading, names never taken are reported as unexpected and names absent as missing.
final class WeightSet {
    let file: SafetensorsFile
    private(set) var taken: Set<String> = []
    private(set) var missing: [String] = []

    init(file: SafetensorsFile) { self.file = file }

    /// The tensor `name` with the given shape; a missing one is recorded (and a placeholder
    /// returned) so that one error can list every missing name.
    func take(_ name: String, _ shape: [Int]) throws -> Weight {
        taken.insert(name)
        guard file.entries[name] != nil else {
            missing.append(name)
            return Weight(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
        }
        return try file.floats(name, shape: shape)
    }

    /// Takes a tensor if present (optional parts such as a ViT pooler).
    func takeIfPresent(_ name: String, _ shape: [Int]) throws -> Weight? {
        guard file.entries[name] != nil else { return nil }
        return try take(name, shape)
    }

    /// Throws when a name was missing, or when the file holds names the model does not use
    /// (other than `ignorable` ones such as buffers).
    func finish(ignorable: (String) -> Bool) throws {
        let unexpected = file.entries.keys.filter { !taken.contains($0) && !ignorable($0) }.sorted()
        if !missing.isEmpty {
            throw ModelError(.missingWeights, "missing \(missing.count) tensor(s): \(Self.list(missing))", path: file.path)
        }
        if !unexpected.isEmpty {
            throw ModelError(.unexpectedWeights, "unexpected \(unexpected.count) tensor(s): \(Self.list(unexpected))", path: file.path)
        }
    }

    static func list(_ names: [String]) -> String {
        names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", … (\(names.count - 8) more)" : "")
    }
}
