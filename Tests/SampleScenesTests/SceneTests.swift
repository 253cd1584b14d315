import Foundation
import Imaging
import PipelineTestSupport
import Testing
@testable import SampleScenes

@Suite struct SceneTests {
    @Test func scenesAreDeterministicFromTheSeed() {
        let a = SceneGenerator(seed: 9).scene(4), b = SceneGenerator(seed: 9).scene(4)
        #expect(a.image == b.image && a.instances == b.instances && a.caption == b.caption)
        #expect(SceneGenerator(seed: 10).scene(4).image != a.image)
    }

    @Test(arguments: 0..<20)
    func masksBoxesAndCaptionsAgree(index: Int) {
        let scene = SceneGenerator(seed: 1).scene(index)
        #expect((2...4).contains(scene.objects.count))
        let w = scene.image.width
        for object in scene.objects {
            var area = 0
            var box = [Int.max, Int.max, -1, -1]
            for (i, v) in scene.instances.pixels.enumerated() where Int(v) == object.value {
                area += 1
                let x = i % w, y = i / w
                box = [min(box[0], x), min(box[1], y), max(box[2], x + 1), max(box[3], y + 1)]
            }
            #expect(area == object.area && box == object.box && area > 0)
            let noun = object.kind == .plant ? "plant" : object.kind.rawValue
            #expect(scene.caption.contains(noun), "\(scene.caption) lacks \(noun)")
        }
        #expect(Set(scene.instances.pixels).subtracting([0]).count == scene.objects.count)
    }

    @Test func writerProducesEveryLayoutAndRefusesForeignFolders() throws {
        let dir = TemporaryDirectory("writer")
        let counts = try SampleWriter(seed: 2, output: dir.appending("s"), perLayout: 2, defects: false).write()
        #expect(counts.count == SampleWriter.Layout.allCases.count)
        for path in ["folder/00000/000000000.jpg", "wds-img2dataset/00000.tar", "wds-subject-diffusion/00000.tar",
                     "lists/sample.jsonl", "lists/sample.csv", "lists/sample.tsv", "coco/annotations/instances.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appending("s/" + path)), "\(path)")
        }
        let png = try FileIO_readAll(dir.appending("s/folder/00000/000000000.png"))
        #expect(try ImageCodec.decodeIndexMap(png).pixels.max()! >= 2)
        try dir.write("keep me", to: "foreign/file.txt")
        #expect(throws: (any Error).self) { try SampleWriter(seed: 2, output: dir.appending("foreign"), perLayout: 1, defects: false).write() }
    }

    /// `make-sample --photos`: the same layouts with photo-sized scenes (each side 1024-2048 px),
    /// masks matching the images, JPEG at quality 90 (its bytes per pixel well above a low quality's).
    @Test func photoSizedScenesKeepEveryLayout() throws {
        let dir = TemporaryDirectory("photos")
        let run = try ExecutableRunner.run("make-sample", ["--output", dir.appending("s"), "--photos", "--per-layout", "1",
                                                           "--layouts", "folder,wds-subject-diffusion", "--seed", "3"])
        #expect(run.status == 0, "\(run.stderr)")
        let jpeg = try FileIO_readAll(dir.appending("s/folder/00000/000000000.jpg"))
        let image = try ImageCodec.decodeRGB(jpeg)
        #expect((1024...2048).contains(image.width) && (1024...2048).contains(image.height))
        let map = try ImageCodec.decodeIndexMap(try FileIO_readAll(dir.appending("s/folder/00000/000000000.png")))
        #expect(map.width == image.width && map.height == image.height && map.pixels.max()! >= 2)
        let requantised = try ImageCodec.encodeJPEG(image, quality: 50)
        #expect(jpeg.count > requantised.count * 3 / 2, "\(jpeg.count) bytes at 90 vs \(requantised.count) at 50")
        #expect(FileManager.default.fileExists(atPath: dir.appending("s/wds-subject-diffusion/00000.tar")))
    }

    func FileIO_readAll(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
}
