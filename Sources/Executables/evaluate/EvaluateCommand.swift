import ArgumentParser
import BuildSupport
import Evaluation
import Foundation
import Models
import Pipeline
import Tensor
import Text

/// `evaluate`: DreamBench DINO, CLIP-I and CLIP-T of generated images, or the real-image row.
@main
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score generated images DreamBench-style (DINO, CLIP-I, CLIP-T) and write Markdown, JSON and HTML reports.",
        discussion: """
            --dreambench: google/dreambooth's dataset folder (prompts_and_classes.txt + <subject>/NN.jpg). \
            --generated: <subject>/<prompt index>/<k>.png, or a JSONL list of {subject, prompt, image}. \
            --real-images scores each subject's real images against each other (the upper-bound row). \
            Models: DINO ViT-S/16 (facebook/dino-vits16) and CLIP ViT-B/32 (openai/clip-vit-base-patch32) directories.
            """ + "\n\n" + StageCommandSupport.toolExitStatusHelp)

    @Option(help: "The DreamBench folder.") var dreambench: String
    @Option(help: "Generated images: a folder <subject>/<prompt>/<k>.png or a .jsonl list.") var generated: String?
    @Flag(help: "Also score the real images against each other (self-pairs excluded).") var realImages = false
    @Option(help: "all_pairs (DreamBooth) or single_reference (Kosmos-G's reference per subject).") var pairing = "all_pairs"
    @Option(help: "DINO model directory.") var dinoModel = "models/facebook--dino-vits16"
    @Option(help: "CLIP model directory.") var clipModel = "models/openai--clip-vit-base-patch32"
    @Option(help: "Folder for report.md, report.json and report.html.") var output: String
    @Option(help: "Bootstrap resamples.") var bootstrap = 1000
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 0
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "f32, or bf16: DINO's and CLIP's transformer matrices in bfloat16 (oneDNN's bf16 engine where it pays on this CPU).")
    var precision = "f32"

    func validate() throws {
        guard generated != nil || realImages else { throw ValidationError("give --generated, --real-images, or both") }
        guard DreamBenchEvaluation.Pairing(rawValue: pairing) != nil else { throw ValidationError("--pairing is all_pairs or single_reference") }
        guard Precision(rawValue: precision) != nil else { throw ValidationError("--precision must be f32 or bf16") }
    }

    func run() throws {
        try BLAS.withThreads(threads) { try evaluate() }
    }

    func evaluate() throws {
        do {
            let set = try DreamBenchSet.load(directory: dreambench)
            let precision = Precision(rawValue: precision)!
            if precision == .bf16 { FileHandle.standardError.write(Data("evaluate: \(Precision.bf16Notice)\n".utf8)) }
            guard case .vit(let dino) = try LoadedModel.load(directory: dinoModel, precision: precision) else {
                throw ValidationError("\(dinoModel) is not a ViT")
            }
            guard case .clip(let clip) = try LoadedModel.load(directory: clipModel, precision: precision) else {
                throw ValidationError("\(clipModel) is not a CLIP")
            }
            let tokenizer = try (try? CLIPTokenizer(directory: clipModel)) ?? CLIPTokenizer()
            let scorer = try DreamBenchScorer(dino: dino, clip: clip, tokenizer: tokenizer)
            let images = try generated.map { try GeneratedImage.discover($0) } ?? []
            var result = try DreamBenchEvaluation.run(set: set, generated: images, scorer: scorer,
                                                      pairing: DreamBenchEvaluation.Pairing(rawValue: pairing)!, realRow: realImages)
            result.bootstrapSamples = bootstrap
            result.seed = seed
            for (role, dir) in [("DINO", dinoModel), ("CLIP", clipModel)] {
                result.models[role] = (dir as NSString).lastPathComponent + (RandomCLIP.isRandom(directory: dir) || dir.contains("Fixtures") ? " (RANDOM WEIGHTS)" : "")
            }
            try AtomicFile.write(DreamBenchReport.markdown(result), to: output + "/report.md")
            try AtomicFile.write(DreamBenchReport.json(result), to: output + "/report.json")
            try AtomicFile.write(DreamBenchReport.html(result), to: output + "/report.html")
            print(DreamBenchReport.markdown(result).split(separator: "\n", omittingEmptySubsequences: false).prefix(while: { !$0.hasPrefix("## ") }).joined(separator: "\n"))
            print("\nreports: \(output)/report.md, report.json, report.html")
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("evaluate: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
