import ArgumentParser
import BuildSupport
import Formats
import Foundation
import Imaging
import Pipeline
import Tensor

/// `preprocess`: model inputs from image files, exactly as the reference processors make them.
@main
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Turn images into model inputs (pixel_values [N,3,S,S] float32 in one safetensors file).",
        discussion: """
            clip: Hugging Face CLIPImageProcessor (shortest side 224 bicubic, centre crop 224, CLIP mean/std).
            dino: torchvision Resize(256, bicubic) + CenterCrop(224) + ImageNet mean/std (DreamBench DINO).
            clipseg: Hugging Face ViTImageProcessor of CLIPSeg (bilinear to 352x352, no crop, ImageNet mean/std).
            """ + "\n\n" + StageCommandSupport.toolExitStatusHelp)

    @Option(help: "clip, dino or clipseg.") var recipe: String = "clip"
    @Option(help: "The safetensors file to write.") var output: String
    @Option(help: "Also write each resized-and-cropped uint8 image as PNG into this folder.") var saveResized: String?
    @Flag(help: "Rotate JPEGs upright by their EXIF orientation first (the reference processors do not).")
    var exifTranspose = false
    @Argument(help: "Image files (JPEG or PNG), in the order of the output rows.") var images: [String]

    func validate() throws {
        guard PreprocessRecipe.named(recipe) != nil else { throw ValidationError("--recipe must be clip, dino or clipseg") }
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
    }

    func run() throws {
        let recipe = PreprocessRecipe.named(recipe)!
        let plane = 3 * recipe.cropSize * recipe.cropSize
        let shape = [images.count, 3, recipe.cropSize, recipe.cropSize]
        let header = Safetensors.header([("pixel_values", .f32, shape)],
                                        metadata: ["recipe": recipe.name, "files": images.joined(separator: "\n")])
        // Each image's values go to their place in the file as soon as they are computed, so
        // memory stays one image per core and writing overlaps the work; the file appears under
        // its name only when every image succeeded.
        let writer = try AtomicFile.Writer(path: output)
        try header.withUnsafeBytes { try writer.write($0, at: 0) }
        var failures = [String?](repeating: nil, count: images.count)
        let (paths, transpose, folder) = (images, exifTranspose, saveResized)
        failures.withUnsafeMutableBufferPointer { errors in
            nonisolated(unsafe) let errors = errors
            DispatchQueue.concurrentPerform(iterations: paths.count) { index in
                do {
                    let bytes = try FileIO.readInput(paths[index], option: "image")
                    let image = try ImageCodec.decodeRGB(bytes, applyOrientation: transpose)
                    let cropped = recipe.resizedAndCropped(image)
                    let normalised = recipe.normalise(cropped)
                    try normalised.withUnsafeBytes { try writer.write($0, at: header.count + index * plane * 4) }
                    if let folder {
                        let name = "\(String(format: "%04d", index))-\((paths[index] as NSString).lastPathComponent).png"
                        try AtomicFile.write(try ImageCodec.encodePNG(cropped), to: folder + "/" + name)
                    }
                } catch {
                    errors[index] = "\(paths[index]): \(error)"
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first {
            writer.discard()
            FileHandle.standardError.write(Data("preprocess: error: \(failure)\n".utf8))
            throw ExitCode(1)
        }
        try writer.commit()
        print("wrote \(output): pixel_values [\(images.count), 3, \(recipe.cropSize), \(recipe.cropSize)] (\(recipe.name))")
    }
}
