import BuildSupport
import Formats
import Foundation
import Models
public import Prior
import Tensor

/// Training checkpoints: `<output>/step-NNNNNNN/` holding the prior in diffusers' layout
/// (`config.json`, `diffusion_pytorch_model.safetensors`, f32), the AdamW moments
/// (`optimizer.safetensors`: `exp_avg.<name>`, `exp_avg_sq.<name>`) and `trainer_state.json`.
/// Each is written into a temporary folder, every file fsynced, then the folder renamed into
/// place, so a folder with a `step-` name is always complete.
public enum PriorCheckpoint {
    public struct State: Codable, Sendable, Equatable {
        /// Optimiser steps done.
        public var step: Int
        /// The training run (hash of its settings and data) the checkpoint belongs to.
        public var run: String
        public var seed: Int
        /// SHA-256 of the weights file.
        public var weightsSHA256: String

        enum CodingKeys: String, CodingKey { case step, run, seed, weightsSHA256 = "weights_sha256" }
    }

    public static func folderName(step: Int) -> String { String(format: "step-%07d", step) }

    /// Writes a checkpoint and returns its folder, weights size and digest.
    @discardableResult
    public static func write(prior: PriorTransformer, optimiser: AdamW, run: String, seed: Int, to output: String) throws
        -> (path: String, bytes: Int, sha256: String) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        let final = output + "/" + folderName(step: optimiser.step)
        let temporary = output + "/" + AtomicFile.temporaryPrefix + folderName(step: optimiser.step) + "-\(getpid())"
        try? fm.removeItem(atPath: temporary)
        try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        var moments: [Safetensors.Entry] = []
        for t in prior.layout.tensors where t.isTrainable {
            let range = t.offset..<(t.offset + t.count)
            moments.append(.init(name: "exp_avg." + t.name, shape: t.shape, floats: Array(optimiser.exponentialAverage[range])))
            moments.append(.init(name: "exp_avg_sq." + t.name, shape: t.shape, floats: Array(optimiser.exponentialAverageSquared[range])))
        }
        let optimiserBytes = Safetensors.serialize(moments, metadata: [
            "step": String(optimiser.step), "beta1": String(optimiser.beta1), "beta2": String(optimiser.beta2),
            "epsilon": String(optimiser.epsilon), "weight_decay": String(optimiser.weightDecay),
        ])
        // Each file is written with fsync; the folder becomes visible only by the rename below.
        let weights = try AtomicFile.write(Safetensors.serialize(prior.weightEntries(), metadata: ["format": "pt"]),
                                           to: temporary + "/" + PriorTransformer.weightsFileName)
        try AtomicFile.write(try prior.config.jsonText(), to: temporary + "/config.json")
        try AtomicFile.write(optimiserBytes, to: temporary + "/optimizer.safetensors")
        let state = State(step: optimiser.step, run: run, seed: seed, weightsSHA256: weights.sha256)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(state)) + [10], to: temporary + "/trainer_state.json")
        if fm.fileExists(atPath: final) { try fm.removeItem(atPath: final) }
        guard rename(temporary, final) == 0 else {
            throw PriorError(.io, "cannot rename the checkpoint into place: \(String(cString: strerror(errno)))", path: final)
        }
        AtomicFile.syncDirectory(output)
        return (final, weights.bytes, weights.sha256)
    }

    /// Completed checkpoints in `output`, newest first.
    public static func list(_ output: String) -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), let step = Int(name.dropFirst(5)) else { return nil }
            return (step, output + "/" + name)
        }.sorted { $0.0 > $1.0 }
    }

    /// Reads a checkpoint: the prior, the optimiser (with `settings`' hyper-parameters and the
    /// saved moments and step) and the state. The weights must match their recorded digest.
    public static func read(_ path: String, settings: AdamW) throws -> (prior: PriorTransformer, optimiser: AdamW, state: State) {
        guard let data = FileManager.default.contents(atPath: path + "/trainer_state.json") else {
            throw PriorError(.badCheckpoint, "no trainer_state.json", path: path)
        }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: data) } catch {
            throw PriorError(.badCheckpoint, "unreadable trainer_state.json: \(error)", path: path)
        }
        let weightsPath = path + "/" + PriorTransformer.weightsFileName
        let digest = try SHA256.hex(file: weightsPath)
        guard digest == state.weightsSHA256 else {
            throw PriorError(.badCheckpoint, "weights digest \(digest.prefix(12)) is not the recorded \(state.weightsSHA256.prefix(12))", path: weightsPath)
        }
        let prior = try PriorTransformer.load(directory: path)
        var optimiser = settings
        optimiser.exponentialAverage = [Float](repeating: 0, count: prior.parameters.count)
        optimiser.exponentialAverageSquared = optimiser.exponentialAverage
        let moments = try SafetensorsFile(path: path + "/optimizer.safetensors")
        for t in prior.layout.tensors where t.isTrainable {
            let m = try moments.floats("exp_avg." + t.name, shape: t.shape), v = try moments.floats("exp_avg_sq." + t.name, shape: t.shape)
            optimiser.exponentialAverage.replaceSubrange(t.offset..<(t.offset + t.count), with: m.array)
            optimiser.exponentialAverageSquared.replaceSubrange(t.offset..<(t.offset + t.count), with: v.array)
        }
        guard let step = moments.metadata["step"].flatMap(Int.init), step == state.step else {
            throw PriorError(.badCheckpoint, "optimizer.safetensors's step differs from trainer_state.json's \(state.step)", path: path)
        }
        optimiser.step = step
        return (prior, optimiser, state)
    }

    /// Removes temporary checkpoint folders left by a killed run.
    public static func sweep(_ output: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? [] where name.hasPrefix(AtomicFile.temporaryPrefix) {
            try? FileManager.default.removeItem(atPath: output + "/" + name)
        }
    }
}
