import ArgumentParser
import Foundation
import Models
import SampleScenes

/// `make-sample`: draws the embedded sample dataset in every input layout.
struct MakeSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-sample",
        abstract: "Draw procedural scenes with exact instance masks and captions, in every input layout.",
        discussion: "Exit status: 0 done; 64 bad command line; 1 anything else (an unreadable or bad input, I/O).")

    @Option(help: "Output folder (replaced if it holds an earlier sample).") var output = "builds/sample-data"
    @Option(help: "Scenes per layout.") var perLayout = 8
    @Flag(help: "Photo-sized scenes: sides of 1024-2048 px (JPEG quality 90), for benchmarks on the images people have.")
    var photos = false
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Comma-separated layouts (default: all of \(SampleWriter.Layout.allCases.map(\.rawValue).joined(separator: ", "))).")
    var layouts: String?
    @Flag(help: "Add deliberately bad entries (truncated, non-image, missing caption, escaping paths, …).") var defects = false
    @Option(help: "Instead of a sample, write a small CLIP with random weights (the real layout) to this folder.")
    var randomClip: String?
    @Option(help: "Instead of a sample, write a small random-weight DINO ViT-S/16-layout model to this folder.")
    var randomDino: String?
    @Option(help: "Instead of a sample, write a small DreamBench-layout set (dreambench/ + generated/) to this folder.")
    var dreambench: String?
    @Option(help: "Width of the random CLIP (a multiple of 64; ViT-bigG/14's text width is 1280).") var clipWidth = 64
    @Option(help: "Layers per tower of the random CLIP.") var clipLayers = 2
    @Option(help: "Instead of a sample, write a random-weight CLIPSeg of CIDAS/clipseg-rd64-refined's layout to this folder.")
    var randomClipseg: String?
    @Option(help: "Vision width of the random CLIPSeg (a multiple of 64; the released model's is 768).") var clipsegWidth = 128
    @Option(help: "Layers per tower of the random CLIPSeg (the released model has 12).") var clipsegLayers = 4

    func run() throws {
        if let randomDino {
            try RandomViT.write(to: randomDino, seed: seed)
            print("random-weight DINO ViT written to \(randomDino) (for demos and tests only)")
            return
        }
        if let dreambench {
            try DreamBenchSample.write(to: dreambench, seed: seed)
            print("DreamBench-layout sample written to \(dreambench)/dreambench and \(dreambench)/generated")
            return
        }
        if let randomClipseg {
            guard clipsegWidth >= 128, clipsegWidth % 64 == 0, clipsegLayers >= 4 else {
                throw ValidationError("--clipseg-width must be a multiple of 64 (at least 128) and --clipseg-layers at least 4")
            }
            try RandomCLIPSeg.write(to: randomClipseg, seed: seed, width: clipsegWidth, layers: clipsegLayers)
            print("random-weight CLIPSeg written to \(randomClipseg) (for demos and tests only: its masks mean nothing)")
            return
        }
        if let randomClip {
            guard clipWidth >= 64, clipWidth % 64 == 0, clipLayers >= 1 else {
                throw ValidationError("--clip-width must be a multiple of 64 and --clip-layers at least 1")
            }
            try RandomCLIP.write(to: randomClip, seed: seed, width: clipWidth, layers: clipLayers, projection: clipWidth)
            print("random-weight CLIP written to \(randomClip) (for demos and tests only: its features mean nothing)")
            return
        }
        var chosen = SampleWriter.Layout.allCases
        if let layouts {
            chosen = try layouts.split(separator: ",").map { name in
                guard let layout = SampleWriter.Layout(rawValue: String(name)) else {
                    throw ValidationError("unknown layout '\(name)'")
                }
                return layout
            }
        }
        let counts = try SampleWriter(seed: seed, output: output, perLayout: perLayout, layouts: chosen, defects: defects,
                                      sizeRange: photos ? 1024...2048 : nil).write()
        for (layout, count) in counts.sorted(by: { $0.key < $1.key }) { print("\(layout): \(count) scenes") }
        print("sample written to \(output)")
    }
}

MakeSample.main()
