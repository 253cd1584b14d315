import Formats
import Foundation
import PipelineTestSupport
import Testing
@testable import Models
import Tensor

/// The safetensors reader's validation and the loaders' refusals, each with a message that names
/// the problem.
@Suite struct CheckpointTests {
    func write(_ bytes: [UInt8], _ dir: TemporaryDirectory, _ name: String = "model.safetensors") throws -> String {
        let path = dir.appending(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func refusal(_ bytes: [UInt8]) throws -> String {
        let dir = TemporaryDirectory("st")
        do {
            _ = try SafetensorsFile(path: try write(bytes, dir))
            return "accepted"
        } catch let error as FormatError {
            return error.description
        }
    }

    static func header(_ json: String, data: Int) -> [UInt8] {
        var h = Array(json.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        return (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) } + h + [UInt8](repeating: 0, count: data)
    }

    @Test func readsFloat32WithoutACopyAndConvertsHalves() throws {
        let values: [Float] = [1, -2.5, 3.25, 0.125, 1e-3, 65504]
        let dir = TemporaryDirectory("st")
        let f32 = try write(Safetensors.serialize([.init(name: "w", shape: [2, 3], floats: values)]), dir)
        let file = try SafetensorsFile(path: f32)
        let w = try file.floats("w", shape: [2, 3])
        #expect(w.array == values)
        #expect(throws: FormatError.self) { _ = try file.floats("w", shape: [3, 2]) }
        #expect(throws: FormatError.self) { _ = try file.floats("nope") }
        let halves = values.map { Float16($0).bitPattern }.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let brains = values.map { UInt16($0.bitPattern >> 16) }.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let mixed = Safetensors.serialize([.init(name: "h", dtype: .f16, shape: [6], bytes: halves),
                                           .init(name: "b", dtype: .bf16, shape: [6], bytes: brains)])
        let other = try SafetensorsFile(path: try write(mixed, dir, "mixed.safetensors"))
        #expect(try other.floats("h").array == values.map { Float(Float16($0)) })
        #expect(try other.floats("b").array == values.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
    }

    @Test func malformedFilesAreRefusedWithTheirReason() throws {
        #expect(try refusal([1, 2, 3]).contains("shorter than"))
        #expect(try refusal(Self.header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8).dropLast(4) + [])
            .contains("outside"))
        #expect(try refusal(Self.header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8)).contains("shape [3]"))
        #expect(try refusal(Self.header(#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data: 8)).contains("unknown dtype"))
        #expect(try refusal(Self.header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8))
            .contains("twice"))
        #expect(try refusal(Self.header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12))
            .contains("overlap"))
        #expect(try refusal(Self.header("[1,2]", data: 0)).contains("not a JSON object"))
        var huge = Self.header("{}", data: 0)
        huge[0] = 0xFF; huge[1] = 0xFF
        #expect(try refusal(huge).contains("header length"))
    }

    @Test func missingUnexpectedAndMisshapenWeightsAreNamed() throws {
        let source = ModelEquivalenceTests.fixtures + "/dino-vits16"
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source + "/model.safetensors")))
        var tensors = try Safetensors.read(original).tensors
        func load(_ entries: [String: Safetensors.Entry]) throws -> String {
            let dir = TemporaryDirectory("vit")
            try FileManager.default.copyItem(atPath: source + "/config.json", toPath: dir.appending("config.json"))
            _ = try write(Safetensors.serialize(Array(entries.values)), dir)
            do { _ = try LoadedModel.load(directory: dir.path); return "loaded" } catch let error as ModelError { return error.description }
        }
        #expect(try load(tensors) == "loaded")
        var missing = tensors
        missing["encoder.layer.1.attention.attention.query.weight"] = nil
        #expect(try load(missing).contains("missing 1 tensor(s): encoder.layer.1.attention.attention.query.weight"))
        var extra = tensors
        extra["head.weight"] = .init(name: "head.weight", shape: [1], floats: [0])
        #expect(try load(extra).contains("unexpected 1 tensor(s): head.weight"))
        tensors["layernorm.bias"] = .init(name: "layernorm.bias", shape: [3], floats: [0, 0, 0])
        #expect(try load(tensors).contains("layernorm.bias' has shape [3]"))
    }

    @Test func unsupportedConfigsAreRefused() throws {
        let dir = TemporaryDirectory("cfg")
        try #"{"model_type": "bert"}"#.write(toFile: dir.appending("config.json"), atomically: true, encoding: .utf8)
        #expect { _ = try ModelConfig.load(directory: dir.path) } throws: { "\($0)".contains("unsupported model_type 'bert'") }
        try #"{"model_type": "vit", "hidden_act": "swish"}"#.write(toFile: dir.appending("config.json"), atomically: true, encoding: .utf8)
        #expect { _ = try ModelConfig.load(directory: dir.path) } throws: { "\($0)".contains("hidden_act 'swish'") }
        #expect { _ = try ModelConfig.load(directory: dir.appending("none")) } throws: { "\($0)".contains("no config.json") }
    }

    /// A checkpoint split into shards with `model.safetensors.index.json` loads as the whole one.
    @Test func shardedCheckpointsLoadAsOne() throws {
        let source = ModelEquivalenceTests.fixtures + "/clip-vit-b32"
        let whole = try Safetensors.read(try [UInt8](Data(contentsOf: URL(fileURLWithPath: source + "/model.safetensors")))).tensors
        let dir = TemporaryDirectory("shards")
        try FileManager.default.copyItem(atPath: source + "/config.json", toPath: dir.appending("config.json"))
        let names = whole.keys.sorted()
        let halves = [Array(names.prefix(names.count / 2)), Array(names.dropFirst(names.count / 2))]
        var map: [String: String] = [:]
        for (i, half) in halves.enumerated() {
            let shard = "model-0000\(i + 1)-of-00002.safetensors"
            _ = try write(Safetensors.serialize(half.map { whole[$0]! }), dir, shard)
            for name in half { map[name] = shard }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
        try index.write(to: URL(fileURLWithPath: dir.appending("model.safetensors.index.json")))
        guard case .clip(let sharded) = try LoadedModel.load(directory: dir.path),
              case .clip(let single) = try LoadedModel.load(directory: source) else { Issue.record("not CLIP"); return }
        let ids = [[62, 5, 9, 63, 0, 0]]
        #expect(try sharded.text!.encode(ids: ids, attentionMask: nil).textEmbeds == (try single.text!.encode(ids: ids, attentionMask: nil).textEmbeds))
        #expect(try LoadedModel.weightFiles(directory: dir.path).count == 2)
        // An index naming the wrong shard is refused.
        map[names[0]] = "model-00002-of-00002.safetensors"
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: URL(fileURLWithPath: dir.appending("model.safetensors.index.json")))
        #expect { _ = try LoadedModel.load(directory: dir.path) } throws: { "\($0)".contains("as the index says") }
    }
}
