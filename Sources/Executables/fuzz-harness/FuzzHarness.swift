import ArgumentParser
import BuildConfig
import BuildSupport
import Formats
import Foundation
import Imaging
import Models
import Pipeline
import Tensor
import Text

/// `fuzz-harness`: a seeded mutation fuzzer over every parser that takes untrusted input, for the
/// targets libFuzzer cannot reach from a standalone `swiftc` build (the codecs behind the C shim,
/// YAML through Yams, the bundled tokenizer and tagger). `make reliability` builds it with
/// AddressSanitizer. Each execution mutates a seed input (bit flips, byte sets, interesting values,
/// inserts, deletes, duplications, splices, truncation) and feeds it to the target; an input that
/// crashes is written to `--artifacts` by the signal handler before the process dies.
@main
struct FuzzHarness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz-harness",
        abstract: "Seeded mutation fuzzing of the input parsers (run under AddressSanitizer by make reliability).")

    @Argument(help: "Targets: \(Target.allCases.map(\.rawValue).joined(separator: ", ")), or all.") var targets: [String] = ["all"]
    @Option(help: "Executions per target.") var runs = 1_000_000
    @Option(help: "Seed of the mutations.") var seed: UInt64 = 1
    @Option(help: "Folder for crashing inputs.") var artifacts = "fuzz/artifacts"
    @Option(help: "Replay one input file on the targets instead of fuzzing.") var replay: String?

    func run() throws {
        let chosen = targets == ["all"] ? Target.allCases : try targets.map {
            guard let t = Target(rawValue: $0) else { throw ValidationError("unknown target \($0)") }
            return t
        }
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let scratch = NSTemporaryDirectory() + "fuzz-harness-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let context = try Context(scratch: scratch)
        if let replay {
            let input = Array(try Data(contentsOf: URL(fileURLWithPath: replay)))
            for target in chosen { target.execute(input, context) }
            print("replayed \(replay) on \(chosen.map(\.rawValue).joined(separator: ", ")): no crash")
            return
        }
        for target in chosen {
            CrashCapture.install(artifactPrefix: "\(artifacts)/\(target.rawValue)-crash")
            let seeds = try target.seeds(context)
            var rng = Mutator(seed: seed &+ UInt64(target.rawValue.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
            let started = Date()
            var rejected = 0
            for _ in 0..<runs {
                let input = rng.mutate(seeds[rng.below(seeds.count)], corpus: seeds)
                CrashCapture.current(input)
                if !target.execute(input, context) { rejected += 1 }
            }
            let seconds = Date().timeIntervalSince(started)
            print(String(format: "%@\t%d executions\t%d rejected with an error\t%.1f s\t%.0f exec/s\t0 crashes",
                         target.rawValue, runs, rejected, seconds, Double(runs) / max(seconds, 1e-9)))
            fflush(nil)
        }
    }
}

/// Shared read-only state: the bundled tokenizer and tagger, a scratch folder.
final class Context {
    let scratch: String
    let tokenizer: CLIPTokenizer
    let nouns: NounFinder
    init(scratch: String) throws {
        self.scratch = scratch
        tokenizer = try CLIPTokenizer()
        nouns = try NounFinder()
    }
    /// Writes bytes to a scratch file (for the parsers that read paths) and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = scratch + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd >= 0 {
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        return path
    }
}

enum Target: String, CaseIterable {
    case jpeg, png, tar, yaml, manifest, json, coco, safetensors, tokenizer, tagger

    /// Runs the input; false when the parser refused it with an error (the expected outcome for junk).
    @discardableResult
    func execute(_ input: [UInt8], _ c: Context) -> Bool {
        let text = String(decoding: input, as: UTF8.self)
        switch self {
        case .jpeg, .png:
            let rgb = (try? ImageCodec.decodeRGB(input, maxPixels: 1 << 20)) != nil
            let gray = (try? ImageCodec.decodeGray(input, maxPixels: 1 << 20)) != nil
            if self == .png { _ = try? ImageCodec.decodeIndexMap(input, maxPixels: 1 << 20) }
            return rgb || gray
        case .tar:
            guard var reader = try? TarReader(path: c.file("in.tar", input)) else { return false }
            defer { reader.close() }
            var members = 0
            while let member = reader.next(), members < 64 { members += 1; _ = member }
            return reader.error == nil
        case .yaml:
            return (try? PipelineConfig.load(path: c.file("pipeline.yaml", input))) != nil
        case .manifest:
            return (try? ManifestConfig.load(path: c.file("manifest.yaml", input))) != nil
        case .json:
            return (try? JSONValue.parse(input)) != nil
        case .coco:
            guard input.count >= 2 else { return false }
            let width = Int(input[0] % 64), height = Int(input[1] % 64), rest = Array(input[2...])
            let a = (try? COCOMask.mask(.rleString(String(decoding: rest, as: UTF8.self), height: height, width: width), width: width, height: height)) != nil
            _ = try? COCOMask.mask(.rleCounts(rest.map { Int($0) }, height: height, width: width), width: width, height: height)
            _ = try? COCOMask.mask(.polygons([rest.map { Double($0) - 64 }]), width: width, height: height)
            return a
        case .safetensors:
            let inMemory = (try? Safetensors.read(input)) != nil
            guard let file = try? SafetensorsFile(path: c.file("t.safetensors", input)) else { return inMemory }
            for name in file.entries.keys { _ = try? file.floats(name); _ = try? file.bytes(name) }
            return true
        case .tokenizer:
            let (ids, mask) = c.tokenizer.tokenize(text)
            precondition(ids.count == 77 && mask.count == 77, "tokenizer output length")
            return true
        case .tagger:
            let found = c.nouns.nouns(in: text)
            for noun in found.prefix(8) { _ = c.nouns.tokenPositions(of: noun, in: text) }
            _ = c.nouns.match(labels: ["dog", "teddy bear"], caption: text)
            return true
        }
    }

    /// Valid inputs the mutations start from.
    func seeds(_ c: Context) throws -> [[UInt8]] {
        switch self {
        case .jpeg:
            return try [Raster.fuzzSeed(8, 8, channels: 3), Raster.fuzzSeed(17, 5, channels: 3), Raster.fuzzSeed(16, 16, channels: 1)]
                .map { try ImageCodec.encodeJPEG($0, quality: 80) }
        case .png:
            return try [Raster.fuzzSeed(8, 8, channels: 3), Raster.fuzzSeed(5, 9, channels: 1), Raster.fuzzSeed(12, 3, channels: 4)]
                .map { try ImageCodec.encodePNG($0) }
        case .tar:
            var w = TarWriter()
            w.add(name: "000001.jpg", data: Array(repeating: 0xFF, count: 40))
            w.add(name: "000001.txt", data: Array("a dog on a sofa".utf8))
            w.add(name: String(repeating: "n", count: 120) + ".json", data: Array("{\"caption\": \"x\"}".utf8))
            w.add(name: "link", data: [], type: UInt8(ascii: "2"), linkName: "../escape")
            return [w.finish()]
        case .yaml:
            return [Array("""
                name: demo
                manifest: m.yaml
                unit_size: 16
                crop: {min_image_side: 200, min_box_area: 0.02, canny: true}
                embed: {model: clip, batch: 16}
                shard: {val_percent: 20}
                train: {heads: 4, steps: 60, learning_rate: 0.001}
                """.utf8)]
        case .manifest:
            return [Array("""
                name: sample
                sources:
                  - {name: folder, format: folder, path: sample/folder}
                  - {name: wds, format: webdataset, path: sample/wds, layout: img2dataset}
                  - {name: jsonl, format: jsonl, path: lists/sample.jsonl}
                  - {name: coco, format: coco, path: coco}
                """.utf8)]
        case .json:
            return [Array(#"{"caption": "a \"dog\" \u00e9", "masks": [1, 2.5e3, -0.1, true, null], "nested": {"a": [[]]}}"#.utf8)]
        case .coco:
            return [[20, 30] + Array("51Z2c0O1N2M3O00".utf8), [64, 64, 3, 5, 200, 7, 9]]
        case .safetensors:
            return [Safetensors.serialize([.init(name: "a", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]),
                                           .init(name: "m", dtype: .u8, shape: [4], bytes: [1, 1, 0, 0]),
                                           .init(name: "h", shape: [2], floats: [0.5, -2], half: true)], metadata: ["k": "v"])]
        case .tokenizer, .tagger:
            return ["Two corgis & a “teddy bear” on the sofa, 2019!", "a photo of sks dog wearing sunglasses 🕶️",
                    "Café-au-lait &amp; croissants <b>on</b> a table\u{00A0}— über   wide", "the man's bikes aren't red; they're blue"]
                .map { Array($0.utf8) }
        }
    }
}

extension Raster {
    /// A small image with a gradient and noise, for seeds.
    static func fuzzSeed(_ width: Int, _ height: Int, channels: Int) -> Raster {
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for i in pixels.indices { pixels[i] = UInt8((i * 37 + i / 7) & 0xFF) }
        return Raster(width: width, height: height, channels: channels, pixels: pixels)
    }
}

/// Byte-level mutations (SplitMix64 keeps runs reproducible from the seed).
struct Mutator {
    var random: SplitMix64
    init(seed: UInt64) { random = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { random.next() }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

    mutating func mutate(_ seed: [UInt8], corpus: [[UInt8]]) -> [UInt8] {
        var data = seed
        let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x5C, 0x2E, 0x2F, 0x3A, 0x7B, 0x5B]
        for _ in 0...below(8) {
            switch below(9) {
            case 0 where !data.isEmpty: let i = below(data.count); data[i] ^= UInt8(1 << below(8))
            case 1 where !data.isEmpty: data[below(data.count)] = UInt8(truncatingIfNeeded: next())
            case 2 where !data.isEmpty: data[below(data.count)] = interesting[below(interesting.count)]
            case 3: data.insert(contentsOf: (0..<(1 + below(16))).map { _ in UInt8(truncatingIfNeeded: next()) }, at: below(data.count + 1))
            case 4 where !data.isEmpty:
                let i = below(data.count)
                data.removeSubrange(i..<min(data.count, i + 1 + below(32)))
            case 5 where !data.isEmpty:
                let i = below(data.count), n = min(data.count - i, 1 + below(64))
                data.insert(contentsOf: data[i..<(i + n)], at: below(data.count + 1))
            case 6:
                let other = corpus[below(corpus.count)]
                if !other.isEmpty {
                    let i = below(other.count)
                    data = Array(data.prefix(below(data.count + 1))) + other[i..<min(other.count, i + 1 + below(256))]
                }
            case 7 where data.count > 1: data = Array(data.prefix(below(data.count)))
            case 8 where data.count >= 4:
                // A 32-bit little-endian length or count set to an edge value.
                let i = below(data.count - 3)
                let value: UInt32 = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x10000, UInt32(truncatingIfNeeded: next())][below(6)]
                for k in 0..<4 { data[i + k] = UInt8((value >> (8 * UInt32(k))) & 0xFF) }
            default: break
            }
        }
        return data
    }
}

/// Writes the input being executed to an artifact file when a fatal signal arrives (ASan aborts,
/// Swift traps, segfaults), then lets the signal kill the process.
enum CrashCapture {
    nonisolated(unsafe) static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 20)
    nonisolated(unsafe) static var length = 0
    nonisolated(unsafe) static var path = [CChar](repeating: 0, count: 4096)

    static func current(_ input: [UInt8]) {
        let n = min(input.count, 1 << 20)
        input.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: n) }
        length = n
    }

    static func install(artifactPrefix: String) {
        let name = Array(artifactPrefix.utf8CString.prefix(4000))
        path = name + [CChar](repeating: 0, count: 4096 - name.count)
        for signal in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
            Foundation.signal(signal) { number in
                let fd = CrashCapture.path.withUnsafeBufferPointer { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
                if fd >= 0 {
                    _ = write(fd, CrashCapture.buffer, CrashCapture.length)
                    close(fd)
                }
                Foundation.signal(number, SIG_DFL)
                raise(number)
            }
        }
    }
}
