import Formats
import Foundation
import Models
import PipelineTestSupport
import Tensor
import Testing
@testable import Prior

/// The prior against the PyTorch reference (diffusers' BasicTransformerBlock; fixture script
/// `Fixtures/make_prior_fixtures.py`) and against finite differences.
@Suite struct PriorGradientTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let tiny = fixtures + "/tiny-prior"

    struct Reference {
        let prior: PriorTransformer
        let batch: PriorBatch
        let target: [Float]
        let file: SafetensorsFile
        func floats(_ name: String) throws -> [Float] { try file.floats(name).array }
    }

    static func reference() throws -> Reference {
        let prior = try PriorTransformer.load(directory: tiny)
        let file = try SafetensorsFile(path: tiny + "/reference.safetensors")
        let mask = file.entries["attention_mask"]!
        let maskBytes = try Data(contentsOf: URL(fileURLWithPath: tiny + "/reference.safetensors"))
        // U8 tensor: read its bytes straight from the file.
        let headerSize = maskBytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let start = 8 + Int(headerSize) + mask.range.lowerBound
        let textMask = [UInt8](maskBytes[start..<(start + mask.count)])
        let batch = PriorBatch(size: 4, text: try file.floats("text").array, textMask: textMask, pooled: try file.floats("pooled").array,
                               control: try file.floats("control").array, noise: try file.floats("noise").array)
        return Reference(prior: prior, batch: batch, target: try file.floats("target").array, file: file)
    }

    static func norm(_ a: [Float]) -> Double { a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// The attention key bias: its true gradient is zero (see predictionAndGradientsMatchPyTorch).
    static func hasZeroGradient(_ name: String) -> Bool { name.hasSuffix("attn1.to_k.bias") }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        var num: Double = 0, den: Double = 0
        for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
        return (num / max(den, 1e-30)).squareRoot()
    }

    @Test func layoutHasThePapersParameterCount() {
        let layout = PriorLayout(.paper)
        #expect(layout.count == 34_849_536)
        #expect(layout["embedding_control.weight"]?.shape == [512, 1280])
        #expect(layout["positional_embedding"]?.shape == [1, 81, 512])
        #expect(layout["transformer_blocks.9.ff.net.2.weight"]?.shape == [512, 2048])
        // Without the control token (ECLIPSE): one Linear and one position fewer.
        var eclipse = PriorConfig.paper
        eclipse.additionalEmbeddings = 3
        #expect(PriorLayout(eclipse).count == 34_849_536 - 512 * 1280 - 512 - 512)
    }

    @Test func predictionAndGradientsMatchPyTorch() throws {
        let r = try Self.reference()
        let workspace = PriorWorkspace(config: r.prior.config, batchSize: r.batch.size, training: true)
        let prediction = try r.prior.forward(r.batch, into: workspace)
        let predictionError = Self.relativeError(prediction, try r.floats("prediction"))
        #expect(predictionError < 1e-5, "prediction relative error \(predictionError)")
        #expect(Self.relativeError(try r.prior.predict(r.batch), prediction) == 0)

        let loss = PriorLoss().evaluate(prediction: prediction, target: r.target, text: r.batch.pooled, batch: 4)
        let expected = try r.floats("loss")
        #expect(abs(loss.total - Double(expected[0])) < 1e-5 * abs(Double(expected[0])), "loss \(loss.total) vs \(expected[0])")
        #expect(abs(loss.mse - Double(expected[1])) < 1e-5 && abs(loss.infoNCE - Double(expected[2])) < 1e-4)

        var gradients = [Float](repeating: 0, count: r.prior.parameters.count)
        r.prior.backward(workspace, outputGradient: loss.gradient, into: &gradients)
        var worst = (name: "", error: 0.0)
        for tensor in r.prior.layout.tensors where tensor.isTrainable {
            let mine = Array(gradients[tensor.offset..<(tensor.offset + tensor.count)])
            let theirs = try r.floats("grad." + tensor.name)
            if Self.hasZeroGradient(tensor.name) {
                // Softmax ignores a constant added to every key's score, so the key bias's true
                // gradient is exactly zero; both sides hold rounding noise.
                #expect(Self.norm(mine) < 1e-6 && Self.norm(theirs) < 1e-6, "\(tensor.name): \(Self.norm(mine)) vs \(Self.norm(theirs))")
                continue
            }
            let error = Self.relativeError(mine, theirs)
            #expect(error <= 1e-4, "\(tensor.name): relative error \(error)")
            if error > worst.error { worst = (tensor.name, error) }
        }
        print("prior vs PyTorch: prediction \(predictionError), worst gradient \(worst.name) \(worst.error)")
    }

    @Test func threeOptimiserStepsMatchPyTorchAdamW() throws {
        let r = try Self.reference()
        let prior = r.prior
        var optimiser = AdamW(parameterCount: prior.parameters.count, weightDecay: 0.01)
        let schedule = LearningRateSchedule(peak: 1e-3, warmupSteps: 1, totalSteps: 3)
        var losses: [Double] = []
        let workspace = PriorWorkspace(config: prior.config, batchSize: r.batch.size, training: true)
        for step in 0..<3 {
            let prediction = try prior.forward(r.batch, into: workspace)
            let loss = PriorLoss().evaluate(prediction: prediction, target: r.target, text: r.batch.pooled, batch: 4)
            losses.append(loss.total)
            var gradients = [Float](repeating: 0, count: prior.parameters.count)
            prior.backward(workspace, outputGradient: loss.gradient, into: &gradients)
            clipGradientNorm(&gradients, maxNorm: 1)
            optimiser.update(&prior.parameters, gradients: gradients, rate: schedule.rate(step: step), layout: prior.layout)
        }
        let expected = try r.floats("train_losses")
        for (mine, theirs) in zip(losses, expected) { #expect(abs(mine - Double(theirs)) < 1e-5 * abs(Double(theirs))) }
        // Adam rescales the key bias's rounding-noise gradient to steps of ±lr, so that tensor is
        // checked to have moved by at most three learning rates; every other tensor must agree.
        for tensor in prior.layout.tensors where tensor.isTrainable {
            let mine = Array(prior.parameters[tensor.offset..<(tensor.offset + tensor.count)])
            if Self.hasZeroGradient(tensor.name) {
                let before = Array(try PriorTransformer.load(directory: Self.tiny).parameters[tensor.offset..<(tensor.offset + tensor.count)])
                #expect(zip(mine, before).allSatisfy { abs($0 - $1) <= 3.1e-3 })
                continue
            }
            let error = Self.relativeError(mine, try r.floats("after." + tensor.name))
            #expect(error <= 1e-4, "\(tensor.name) after three steps: relative error \(error)")
        }
    }

    /// Central differences of the loss along a random direction per tensor, against the
    /// analytic directional derivative. Float32 forward passes limit this to about 1e-3.
    @Test func gradientsMatchFiniteDifferences() throws {
        let r = try Self.reference()
        let prior = r.prior
        let lossFunction = PriorLoss()
        func loss() throws -> Double {
            lossFunction.evaluate(prediction: try prior.predict(r.batch), target: r.target, text: r.batch.pooled, batch: 4).total
        }
        let workspace = PriorWorkspace(config: prior.config, batchSize: r.batch.size, training: true)
        let prediction = try prior.forward(r.batch, into: workspace)
        let value = lossFunction.evaluate(prediction: prediction, target: r.target, text: r.batch.pooled, batch: 4)
        var gradients = [Float](repeating: 0, count: prior.parameters.count)
        prior.backward(workspace, outputGradient: value.gradient, into: &gradients)
        var rng = SplitMix64(seed: 7)
        var worst = 0.0
        for tensor in prior.layout.tensors where tensor.isTrainable {
            let range = tensor.offset..<(tensor.offset + tensor.count)
            let direction = range.map { _ in rng.nextGaussian() }
            let norm = Double(direction.reduce(0) { $0 + $1 * $1 }).squareRoot()
            let h = 1e-2 / norm
            var analytic: Double = 0
            for (i, k) in range.enumerated() { analytic += Double(gradients[k]) * Double(direction[i]) }
            let saved = Array(prior.parameters[range])
            for (i, k) in range.enumerated() { prior.parameters[k] = saved[i] + Float(h) * direction[i] }
            let plus = try loss()
            for (i, k) in range.enumerated() { prior.parameters[k] = saved[i] - Float(h) * direction[i] }
            let minus = try loss()
            for (i, k) in range.enumerated() { prior.parameters[k] = saved[i] }
            let numeric = (plus - minus) / (2 * h)
            let error = abs(numeric - analytic) / max(abs(analytic), abs(numeric), 1e-3)
            worst = max(worst, error)
            #expect(error < 2e-2, "\(tensor.name): numeric \(numeric) analytic \(analytic)")
        }
        print("prior vs finite differences: worst relative error \(worst)")
    }

    @Test func weightsWrittenHereLoadStrictlyInPyTorch() throws {
        let r = try Self.reference()
        let dir = TemporaryDirectory("prior-roundtrip")
        let out = dir.appending("prior")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // Perturb so the check is not of the fixture's own bytes.
        for i in stride(from: 0, to: r.prior.parameters.count, by: 7) { r.prior.parameters[i] *= 0.9 }
        try r.prior.config.jsonText().write(toFile: out + "/config.json", atomically: true, encoding: .utf8)
        try Data(Safetensors.serialize(r.prior.weightEntries())).write(to: URL(fileURLWithPath: out + "/" + PriorTransformer.weightsFileName))
        let reloaded = try PriorTransformer.load(directory: out)
        #expect(reloaded.parameters == r.prior.parameters && reloaded.config == r.prior.config)

        if let missing = ReferencePython.missing(["torch", "diffusers", "safetensors"]) {
            SkippedCheck.report("diffusers loads the prior's checkpoint", cause: .package, because: missing); return
        }
        let inputs = dir.appending("inputs.safetensors")
        let entries = [
            Safetensors.Entry(name: "text", shape: [4, 77, 24], floats: r.batch.text),
            Safetensors.Entry(name: "attention_mask", dtype: .u8, shape: [4, 77], bytes: r.batch.textMask),
            Safetensors.Entry(name: "pooled", shape: [4, 24], floats: r.batch.pooled),
            Safetensors.Entry(name: "control", shape: [4, 24], floats: r.batch.control),
            Safetensors.Entry(name: "noise", shape: [4, 24], floats: r.batch.noise),
        ]
        try Data(Safetensors.serialize(entries)).write(to: URL(fileURLWithPath: inputs))
        let run = ReferencePython.run([Self.fixtures + "/make_prior_fixtures.py", "--check", out, inputs, dir.appending("pred.safetensors")])
        #expect(run.status == 0, "\(run.output)")
        let theirs = try SafetensorsFile(path: dir.appending("pred.safetensors")).floats("prediction").array
        let error = Self.relativeError(try reloaded.predict(r.batch), theirs)
        #expect(error < 1e-5, "PyTorch prediction from our checkpoint: relative error \(error)")
    }

    @Test func badCheckpointsAreRefusedWithTheTensorNamed() throws {
        let dir = TemporaryDirectory("prior-bad")
        try FileManager.default.createDirectory(atPath: dir.appending("p"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: dir.appending("p/config.json"))
        let prior = try PriorTransformer.load(directory: Self.tiny)
        var entries = prior.weightEntries().filter { $0.name != "norm_out.bias" }
        try Data(Safetensors.serialize(entries)).write(to: URL(fileURLWithPath: dir.appending("p/" + PriorTransformer.weightsFileName)))
        #expect(throws: PriorError.self) { try PriorTransformer.load(directory: dir.appending("p")) }
        do { _ = try PriorTransformer.load(directory: dir.appending("p")) } catch { #expect("\(error)".contains("norm_out.bias")) }
        entries = prior.weightEntries() + [Safetensors.Entry(name: "time_embedding.linear_1.weight", shape: [1], floats: [0])]
        try Data(Safetensors.serialize(entries)).write(to: URL(fileURLWithPath: dir.appending("p/" + PriorTransformer.weightsFileName)))
        do { _ = try PriorTransformer.load(directory: dir.appending("p")); Issue.record("loaded a prior with a time embedding") } catch {
            #expect("\(error)".contains("time_embedding"))
        }
        try #"{"num_attention_heads": 2, "attention_head_dim": 8, "num_layers": 1, "embedding_dim": 24, "norm_in_type": "layer"}"#
            .write(toFile: dir.appending("p/config.json"), atomically: true, encoding: .utf8)
        do { _ = try PriorTransformer.load(directory: dir.appending("p")); Issue.record("accepted norm_in") } catch {
            #expect("\(error)".contains("norm_in_type"))
        }
    }
}
