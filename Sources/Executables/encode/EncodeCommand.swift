import ArgumentParser
import BuildSupport
import Formats
import Foundation
import Imaging
import Models
import Pipeline
import Tensor
import Text

/// `encode`: runs one model directory on texts and/or images and writes its outputs, named as
/// transformers names them, into one safetensors file.
@main
struct EncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode texts and images with a Hugging Face model directory (CLIP, a ViT such as DINO, or CLIPSeg).",
        discussion: """
            CLIP writes text_last_hidden_state [N,77,D], text_embeds [N,P], vision_last_hidden_state [N,T,W] and \
            image_embeds [N,P]; a ViT writes last_hidden_state and cls; CLIPSeg writes logits [N,H,W], row i pairing \
            image i with prompt i (the transformers call). Raw images are preprocessed as the \
            reference processors do (CLIP: shortest side bicubic + centre crop + CLIP mean/std; ViT: resize \
            256/224 of the model size + centre crop + ImageNet mean/std; CLIPSeg: bilinear to 352x352 + ImageNet mean/std).
            """ + "\n\n" + StageCommandSupport.toolExitStatusHelp)

    @Option(help: "A Hugging Face model directory (config.json + model.safetensors).") var model: String
    @Option(help: "Captions, one per line (tokenized with --tokenizer or the model directory's tokenizer files).") var text: String?
    @Option(name: .customLong("input-ids"), help: "Prepared token ids: a safetensors file with input_ids and attention_mask [N,L].") var inputIDs: String?
    @Option(parsing: .upToNextOption, help: "Image files (JPEG or PNG).") var images: [String] = []
    @Option(help: "Prepared images: a safetensors file with pixel_values [N,3,H,W].") var pixelValues: String?
    @Option(help: "Tokenizer files (default: the model directory's, else the built-in CLIP vocabulary).") var tokenizer: String?
    @Option(help: "The safetensors file to write.") var output: String
    @Option(help: "Rows per forward pass.") var batch = 16
    @Option(help: "OpenBLAS threads.") var threads = 2
    @Option(help: "f32, or bf16: the transformer layers' matrices held in bfloat16 (half the memory; products on bfloat16-rounded inputs, float32 accumulation).")
    var precision = "f32"
    @Flag(help: "Time the forward passes (after one warm-up pass) and print rows/s; for benchmarks.") var time = false
    @Flag(help: "Measure this machine's sgemm rate (2048^3, --threads threads) and exit; for benchmarks.") var sgemmPeak = false

    func validate() throws {
        guard text == nil || inputIDs == nil else { throw ValidationError("give --text or --input-ids, not both") }
        guard images.isEmpty || pixelValues == nil else { throw ValidationError("give --images or --pixel-values, not both") }
        guard sgemmPeak || text != nil || inputIDs != nil || !images.isEmpty || pixelValues != nil else {
            throw ValidationError("nothing to encode: give --text, --input-ids, --images or --pixel-values")
        }
        guard batch >= 1, threads >= 1 else { throw ValidationError("--batch and --threads must be at least 1") }
        guard Precision(rawValue: precision) != nil else { throw ValidationError("--precision must be f32 or bf16") }
    }

    func run() throws {
        try BLAS.withThreads(threads) { try encode() }
    }

    func encode() throws {
        if sgemmPeak {
            let rates = MatrixEngines.rates()
            print(String(format: "sgemm: %.1f GFLOP/s with %d thread(s); ", rates.f32, threads) + "OpenBLAS kernels " + BLAS.core
                  + " — " + MatrixEngines.float32)
            if let rate = rates.oneDNNf32, let implementation = MatrixEngines.f32Implementation {
                print(String(format: "f32 matmul: %.1f GFLOP/s with %d thread(s); oneDNN ", rate, threads) + implementation
                      + (MatrixEngines.f32.usesOneDNN ? " (the f32 engine of the models' layer products)" : " (not used: OpenBLAS runs the layer products)"))
            }
            if let bf16 = rates.bf16, let implementation = MatrixEngines.bf16Implementation {
                print(String(format: "bf16 matmul: %.1f GFLOP/s with %d thread(s); oneDNN ", bf16, threads) + implementation
                      + (MatrixEngines.bf16.usesOneDNN ? " (the bf16 engine)" : " (not used: \(Self.reason))"))
            } else {
                print("bf16 matmul: none (\(Self.reason))")
            }
            print("cpu: \(MatrixEngines.CPU.host.summary)")
            return
        }
        let out: [Safetensors.Entry]
        let precision = Precision(rawValue: precision)!
        if precision == .bf16 { FileHandle.standardError.write(Data("encode: \(Precision.bf16Notice)\n".utf8)) }
        switch try LoadedModel.load(directory: model, precision: precision) {
        case .clip(let clip): out = try encode(clip)
        case .vit(let vit): out = try encode(vit)
        case .clipseg(let seg): out = try encode(seg)
        }
        try AtomicFile.write(Safetensors.serialize(out, metadata: ["model": model, "precision": precision.rawValue]), to: output)
        print("wrote \(output): " + out.map { "\($0.name) \($0.shape)" }.joined(separator: ", "))
    }

    /// CLIP: the text tower's outputs for the token rows, the vision tower's for the images.
    func encode(_ clip: CLIPModel) throws -> [Safetensors.Entry] {
        var out: [Safetensors.Entry] = []
        if let (ids, mask) = try tokens() {
            guard let tower = clip.text else { throw ValidationError("\(model) has no text tower") }
            var hidden: [Float] = [], embeds: [Float] = []
            try timed("text", rows: ids.count) {
                hidden = []; embeds = []
                for start in stride(from: 0, to: ids.count, by: batch) {
                    let end = min(ids.count, start + batch)
                    let r = try tower.encode(ids: Array(ids[start..<end]), attentionMask: Array(mask[start..<end]))
                    hidden += r.lastHiddenState
                    embeds += r.textEmbeds
                }
            }
            out.append(.init(name: "text_last_hidden_state", shape: [ids.count, ids[0].count, tower.config.hiddenSize], floats: hidden))
            out.append(.init(name: "text_embeds", shape: [ids.count, tower.projection], floats: embeds))
        }
        if text == nil && inputIDs == nil && clip.vision == nil { throw ValidationError("\(model) has no vision tower") }
        if let tower = clip.vision, let (pixels, count, _) = try pixelRows(size: tower.config.imageSize, recipe: .clip) {
            let (hidden, embeds) = try batches("vision", pixels, count: count) { try tower.encode(pixelValues: $0, batch: $1) }
            let t = tower.config.patchesPerSide * tower.config.patchesPerSide + 1
            out.append(.init(name: "vision_last_hidden_state", shape: [count, t, tower.config.hiddenSize], floats: hidden))
            out.append(.init(name: "image_embeds", shape: [count, tower.projection], floats: embeds))
        }
        return out
    }

    /// A ViT: the last hidden state and its class token.
    func encode(_ vit: ViTModel) throws -> [Safetensors.Entry] {
        guard let (pixels, count, _) = try pixelRows(size: vit.config.imageSize, recipe: .dino) else {
            throw ValidationError("a ViT takes --images or --pixel-values")
        }
        let (hidden, cls) = try batches("vit", pixels, count: count) { try vit.encode(pixelValues: $0, batch: $1) }
        let t = vit.config.patchesPerSide * vit.config.patchesPerSide + 1
        return [.init(name: "last_hidden_state", shape: [count, t, vit.config.hiddenSize], floats: hidden),
                .init(name: "cls", shape: [count, vit.config.hiddenSize], floats: cls)]
    }

    /// CLIPSeg: `logits` [N, H, W], row i pairing image i with prompt i (the transformers call);
    /// images of any square size divisible by the patch size (352 from --images).
    func encode(_ seg: CLIPSegModel) throws -> [Safetensors.Entry] {
        guard let (ids, mask) = try tokens(), let (pixels, count, size) = try pixelRows(size: nil, recipe: .clipseg) else {
            throw ValidationError("CLIPSeg takes prompts (--text or --input-ids) and images (--images or --pixel-values)")
        }
        guard ids.count == count else { throw ValidationError("\(ids.count) prompts for \(count) images: give one image per prompt") }
        var logits: [Float] = []
        let plane = 3 * size * size
        try timed("clipseg", rows: count) {
            logits = []
            for start in stride(from: 0, to: count, by: batch) {
                let end = min(count, start + batch)
                logits += try seg.logits(pixelValues: Array(pixels[(start * plane)..<(end * plane)]), size: size,
                                         ids: Array(ids[start..<end]), attentionMask: Array(mask[start..<end]))
            }
        }
        let side = seg.logitSide(imageSize: size)
        return [.init(name: "logits", shape: [count, side, side], floats: logits)]
    }

    /// `encode` over the images in batches of --batch (timed with --time), its two outputs concatenated.
    func batches(_ what: String, _ pixels: [Float], count: Int,
                 _ encode: ([Float], Int) throws -> ([Float], [Float])) throws -> ([Float], [Float]) {
        var first: [Float] = [], second: [Float] = []
        let plane = pixels.count / max(1, count)
        try timed(what, rows: count) {
            first = []; second = []
            for start in stride(from: 0, to: count, by: batch) {
                let end = min(count, start + batch)
                let r = try encode(Array(pixels[(start * plane)..<(end * plane)]), end - start)
                first += r.0
                second += r.1
            }
        }
        return (first, second)
    }

    /// Runs `body` once, or with --time twice (warm-up, then timed) printing rows/s.
    func timed(_ what: String, rows: Int, _ body: () throws -> Void) throws {
        try body()
        guard time else { return }
        let clock = ContinuousClock(), start = clock.now
        try body()
        let seconds = (clock.now - start) / .seconds(1)
        print(String(format: "time %@: %d rows in %.3f s: %.2f rows/s", what, rows, seconds, Double(rows) / seconds)
              + " (\(Precision.engines(Precision(rawValue: precision)!)))")
    }

    /// Why bf16 products do not run on oneDNN here.
    static var reason: String {
        if case .fallback(let reason) = MatrixEngines.bf16 { return reason }
        return "oneDNN"
    }

    /// Token ids and attention masks from --text or --input-ids.
    func tokens() throws -> ([[Int]], [[Int]])? {
        if let text {
            let tokenizer = try self.tokenizer.map { try CLIPTokenizer(directory: $0) }
                ?? ((try? CLIPTokenizer(directory: model)) ?? CLIPTokenizer())
            let lines = String(decoding: try FileIO.readInput(text, option: "--text"), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init).filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw ValidationError("\(text) has no captions") }
            let encoded = lines.map { tokenizer.tokenize($0) }
            return (encoded.map(\.ids), encoded.map(\.attentionMask))
        }
        guard let inputIDs else { return nil }
        let file = try Safetensors.read(try FileIO.readInput(inputIDs, option: "--input-ids")).tensors
        func rows(_ name: String) throws -> [[Int]] {
            guard let entry = file[name], entry.shape.count == 2 else { throw ValidationError("\(inputIDs) has no 2-D \(name)") }
            let values = try Self.integers(entry)
            return stride(from: 0, to: values.count, by: entry.shape[1]).map { Array(values[$0..<($0 + entry.shape[1])]) }
        }
        let ids = try rows("input_ids")
        let mask = file["attention_mask"] == nil ? ids.map { $0.map { _ in 1 } } : try rows("attention_mask")
        return (ids, mask)
    }

    static func integers(_ entry: Safetensors.Entry) throws -> [Int] {
        let b = entry.bytes
        switch entry.dtype {
        case .i64: return stride(from: 0, to: b.count, by: 8).map { i in (0..<8).reduce(0) { $0 | Int(b[i + $1]) << (8 * $1) } }
        case .i32: return stride(from: 0, to: b.count, by: 4).map { i in Int(Int32(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[i + $1]) << (8 * UInt32($1)) })) }
        default: throw ValidationError("\(entry.name) is \(entry.dtype.rawValue); expected I64 or I32")
        }
    }

    /// Pixel rows from --pixel-values or --images (preprocessed by `recipe` for a model of `size`
    /// pixels; any square size when `size` is nil), with their count and side.
    func pixelRows(size: Int?, recipe: PreprocessRecipe) throws -> ([Float], Int, Int)? {
        if let pixelValues {
            let file = try Safetensors.read(try FileIO.readInput(pixelValues, option: "--pixel-values")).tensors
            guard let entry = file["pixel_values"], entry.dtype == .f32, entry.shape.count == 4, entry.shape[1] == 3,
                  entry.shape[2] == entry.shape[3], size.map({ $0 == entry.shape[2] }) ?? true else {
                throw ValidationError("\(pixelValues) needs F32 pixel_values [N, 3, \(size.map(String.init) ?? "S"), \(size.map(String.init) ?? "S")]")
            }
            let values = entry.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            return (values, entry.shape[0], entry.shape[2])
        }
        guard !images.isEmpty else { return nil }
        var recipe = recipe
        if let size, !recipe.resizesToSquare {
            recipe.resizeShortestSide = recipe.name == "dino" ? size * 256 / 224 : size
            recipe.cropSize = size
        }
        var values: [Float] = []
        for path in images {
            let image = try ImageCodec.decodeRGB(try FileIO.readInput(path, option: "--images"))
            values += recipe.normalise(recipe.resizedAndCropped(image))
        }
        return (values, images.count, recipe.cropSize)
    }
}
