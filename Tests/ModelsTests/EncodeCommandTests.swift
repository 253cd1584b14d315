import Formats
import Foundation
import PipelineTestSupport
import Testing
@testable import Models
import Tensor

/// The `encode` executable on the fixtures: prepared inputs in, transformers-named outputs out.
@Suite struct EncodeCommandTests {
    @Test func encodesPreparedInputsAsTheReferenceDoes() throws {
        let dir = TemporaryDirectory("encode")
        let fixture = ModelEquivalenceTests.fixtures + "/clip-vit-b32"
        let run = try ExecutableRunner.run("encode", ["--model", fixture, "--input-ids", fixture + "/reference.safetensors",
                                                      "--pixel-values", fixture + "/reference.safetensors",
                                                      "--output", dir.appending("out.safetensors"), "--batch", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let out = try SafetensorsFile(path: dir.appending("out.safetensors"))
        let ref = try ModelEquivalenceTests.reference("clip-vit-b32")
        for name in ["text_last_hidden_state", "text_embeds", "vision_last_hidden_state", "image_embeds"] {
            let tensor = try out.floats(name)
            #expect(tensor.shape == ref[name]!.shape)
            #expect(ModelEquivalenceTests.error(tensor.array, ref[name]!.values) <= 1e-4, "\(name)")
        }
        let dino = ModelEquivalenceTests.fixtures + "/dino-vits16"
        let vit = try ExecutableRunner.run("encode", ["--model", dino, "--pixel-values", dino + "/reference.safetensors",
                                                      "--output", dir.appending("dino.safetensors")])
        #expect(vit.status == 0 && vit.stdout.contains("cls [2, 128]"), "\(vit.stderr)")
    }

    /// OpenBLAS's kernels: a process whose OpenBLAS chose the generic "Prescott" family by its
    /// model table (as on a CPU newer than the table) is switched at load to the family the CPUID
    /// features allow, says so, and computes the reference's outputs; where the environment pins
    /// OPENBLAS_CORETYPE (as some hosts do), that setting wins and the command says so.
    @Test func openBLASKernelsAreRaisedFromCPUIDFeatures() throws {
        let dir = TemporaryDirectory("encode-kernels")
        let simulate = ["ECLIPSE_SIMULATE_OPENBLAS_CHOICE": "Prescott"]
        let peak = try ExecutableRunner.run("encode", ["--model", "-", "--output", "-", "--sgemm-peak", "--threads", "1"],
                                            environment: simulate)
        #expect(peak.status == 0, "\(peak.stderr)")
        if let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !pinned.isEmpty {
            #expect(peak.stdout.contains("(OPENBLAS_CORETYPE)"), "\(peak.stdout)")
        } else if let wanted = MatrixEngines.openBLASCore(for: .host) {
            #expect(peak.stdout.contains("OpenBLAS kernels \(wanted) — OpenBLAS \(wanted) (from CPUID features; OpenBLAS's table said Prescott)"),
                    "\(peak.stdout)")
        } else {
            #expect(peak.stdout.contains("OpenBLAS kernels Prescott"), "\(peak.stdout)")
        }
        #expect(peak.stdout.contains("cpu: \(MatrixEngines.CPU.host.summary)"))
        let fixture = ModelEquivalenceTests.fixtures + "/clip-vit-b32"
        let run = try ExecutableRunner.run("encode", ["--model", fixture, "--pixel-values", fixture + "/reference.safetensors",
                                                      "--output", dir.appending("out.safetensors"), "--batch", "2"], environment: simulate)
        #expect(run.status == 0, "\(run.stderr)")
        let image = try SafetensorsFile(path: dir.appending("out.safetensors")).floats("image_embeds")
        #expect(ModelEquivalenceTests.error(image.array, try ModelEquivalenceTests.reference("clip-vit-b32")["image_embeds"]!.values) <= 1e-4)
    }

    @Test func badInputsGetClearErrors() throws {
        let dir = TemporaryDirectory("encode-bad")
        let fixture = ModelEquivalenceTests.fixtures + "/clip-vit-b32"
        try "a red mug\n".write(toFile: dir.appending("captions.txt"), atomically: true, encoding: .utf8)
        // The built-in vocabulary's ids do not fit the fixture's 128-token vocabulary.
        let text = try ExecutableRunner.run("encode", ["--model", fixture, "--text", dir.appending("captions.txt"),
                                                       "--output", dir.appending("x.safetensors")])
        #expect(text.status != 0 && text.stderr.contains("outside the vocabulary"))
        let none = try ExecutableRunner.run("encode", ["--model", fixture, "--output", dir.appending("x.safetensors")])
        #expect(none.status != 0 && none.stderr.contains("nothing to encode"))
        let missing = try ExecutableRunner.run("encode", ["--model", dir.path, "--pixel-values", fixture + "/reference.safetensors",
                                                          "--output", dir.appending("x.safetensors")])
        #expect(missing.status != 0 && missing.stderr.contains("config.json"))
        // A missing input file is named, with the option that named it.
        let absent = try ExecutableRunner.run("encode", ["--model", fixture, "--pixel-values", dir.appending("missing.safetensors"),
                                                         "--output", dir.appending("x.safetensors")])
        #expect(absent.status != 0 && absent.stderr.contains("--pixel-values \(dir.appending("missing.safetensors")): no such file")
                && !absent.stderr.contains("NSCocoaErrorDomain"), "\(absent.stderr)")
        let folder = try ExecutableRunner.run("encode", ["--model", fixture, "--text", dir.path, "--output", dir.appending("x.safetensors")])
        #expect(folder.status != 0 && folder.stderr.contains("--text \(dir.path): is a folder, not a file"), "\(folder.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appending("x.safetensors")))
    }
}
