import BuildSupport
import Catalog
import Foundation
import Models
@testable import Pipeline
import PipelineTestSupport
import SampleScenes
import Testing

/// A build on a full disk and on a read-only file system (small tmpfs mounts): every stage and
/// `prior train` stop with a clean error, and once there is room the build resumes to exactly what
/// an uninterrupted run makes. Skipped, with the reason printed, where a tmpfs cannot be mounted
/// (not root, or no mount permission).
@Suite(.serialized) struct DiskFullTests {
    static let stages = ["ingest", "tag", "crop", "embed", "shard"]

    /// A sample, a random CLIP, and two pipelines: `build_dir: mnt/build` (on the mount) and a reference.
    func prepare(_ label: String) throws -> (dir: TemporaryDirectory, onMount: String, reference: String)? {
        guard getuid() == 0 else { SkippedCheck.report("disk-full tests", cause: .root, because: "mounting a tmpfs needs root"); return nil }
        let dir = TemporaryDirectory(label)
        _ = try SampleWriter(seed: 3, output: dir.appending("sample"), perLayout: 4, defects: true).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 5)
        let extra = """
            crop: {min_image_side: 200, min_box_area: 0.02, canny: true}
            embed: {model: clip, batch: 8}
            train: {heads: 2, head_dim: 16, layers: 1, steps: 12, batch_size: 4, checkpoint_every: 3}
            """
        let reference = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 4, extra: extra)
        let onMount = dir.appending("mounted.yaml")
        try String(contentsOfFile: reference, encoding: .utf8).replacingOccurrences(of: "build_dir: build", with: "build_dir: mnt/build")
            .write(toFile: onMount, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.appending("mnt"), withIntermediateDirectories: true)
        let mount = Shell.sh("mount -t tmpfs -o size=600k tmpfs \(dir.appending("mnt"))")
        guard mount.status == 0 else { SkippedCheck.report("disk-full tests", cause: .root, because: "cannot mount a tmpfs: \(mount.output)"); return nil }
        return (dir, onMount, reference)
    }

    func unmount(_ dir: TemporaryDirectory) { _ = Shell.sh("umount \(dir.appending("mnt"))") }

    func dump(_ build: String) throws -> String { try Catalog(path: build + "/catalog.sqlite", readOnly: true).canonicalDump() }

    /// SHA-256 of every file under the folders the stages and the trainer write.
    func files(_ build: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for folder in ["objects", "features", "shards", "exports"] {
            for case let relative as String in FileManager.default.enumerator(atPath: build + "/" + folder)?.allObjects ?? [] {
                var isDirectory: ObjCBool = false
                let path = build + "/" + folder + "/" + relative
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                    out[folder + "/" + relative] = try SHA256.hex(file: path)
                }
            }
        }
        return out
    }

    func trainCurve(_ build: String) throws -> [String] {
        try Catalog(path: build + "/catalog.sqlite", readOnly: true).database
            .query("SELECT step, loss, grad_norm FROM train_steps ORDER BY step")
            .map { "\($0[0].int ?? -1) \(($0[1].double ?? 0).bitPattern) \(($0[2].double ?? 0).bitPattern)" }
    }

    /// Fills the mount leaving about `free` bytes.
    func fill(_ dir: TemporaryDirectory, leaving free: Int) throws {
        var info = statvfs()
        guard statvfs(dir.appending("mnt"), &info) == 0 else { return }
        let available = Int(info.f_bavail) * Int(info.f_frsize)
        if available > free {
            try Data(count: available - free).write(to: URL(fileURLWithPath: dir.appending("mnt/filler")))
        }
    }

    @Test func aFullDiskStopsEveryStageCleanlyAndTheBuildResumesToTheSameResult() throws {
        guard let (dir, onMount, reference) = try prepare("disk-full") else { return }
        defer { unmount(dir) }
        var messages: [String] = []
        for stage in Self.stages {
            let run = try ExecutableRunner.run(stage, ["--pipeline", onMount, "--quiet"])
            #expect(!run.signalled && run.status < 128, "\(stage) crashed: \(run.stderr)")
            if run.status != 0 { messages.append("\(stage): \(run.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        #expect(messages.contains { $0.contains("No space left on device") || $0.contains("disk is full") }, "\(messages)")
        // Room again: the same commands finish the build.
        #expect(Shell.sh("mount -o remount,size=64m \(dir.appending("mnt"))").status == 0)
        for stage in Self.stages {
            let run = try ExecutableRunner.run(stage, ["--pipeline", onMount, "--quiet"])
            #expect(run.status == 0, "\(stage) after the disk was freed: \(run.stderr)")
            #expect(try ExecutableRunner.run(stage, ["--pipeline", reference, "--quiet"]).status == 0)
        }
        #expect(try dump(dir.appending("mnt/build")) == (try dump(dir.appending("build"))))
        #expect(try files(dir.appending("mnt/build")) == (try files(dir.appending("build"))))

        // Training on a full disk: the step log or a checkpoint cannot be written.
        try fill(dir, leaving: 24 << 10)
        let full = try ExecutableRunner.run("prior", ["train", "--pipeline", onMount, "--quiet"])
        #expect(full.status != 0 && !full.signalled, "prior train on a full disk: \(full.status) \(full.stderr)")
        #expect(full.stderr.contains("No space left on device") || full.stderr.contains("disk is full"), "\(full.stderr)")
        try FileManager.default.removeItem(atPath: dir.appending("mnt/filler"))
        // Room again, with margin: what the failed run wrote stays on the mount, and freeing the
        // filler alone once left the 64 MB mount short of the rest of the run (CI saw the resumed
        // run refuse cleanly with "database or disk is full").
        #expect(Shell.sh("mount -o remount,size=256m \(dir.appending("mnt"))").status == 0)
        let resumed = try ExecutableRunner.run("prior", ["train", "--pipeline", onMount, "--quiet"])
        #expect(resumed.status == 0, "prior train after the disk was freed: \(resumed.status) \(resumed.stderr)")
        #expect(try ExecutableRunner.run("prior", ["train", "--pipeline", reference, "--quiet"]).status == 0)
        #expect(try trainCurve(dir.appending("mnt/build")) == (try trainCurve(dir.appending("build"))))
        let last = "checkpoints/prior/step-0000012/diffusion_pytorch_model.safetensors"
        #expect(FileManager.default.contents(atPath: dir.appending("mnt/build/" + last)) == FileManager.default.contents(atPath: dir.appending("build/" + last)))
        print("disk full: \(messages.count + 1) clean refusals, then resumed to the uninterrupted result: " + (messages + ["prior train: " + full.stderr]).joined(separator: " | "))
    }

    @Test func aReadOnlyBuildIsRefusedCleanlyAndLeftAsItWas() throws {
        guard let (dir, onMount, _) = try prepare("read-only") else { return }
        defer { unmount(dir) }
        #expect(Shell.sh("mount -o remount,size=64m \(dir.appending("mnt"))").status == 0)
        for stage in ["ingest", "tag"] { #expect(try ExecutableRunner.run(stage, ["--pipeline", onMount, "--quiet"]).status == 0) }
        let before = try dump(dir.appending("mnt/build")), beforeFiles = try files(dir.appending("mnt/build"))
        #expect(Shell.sh("mount -o remount,ro \(dir.appending("mnt"))").status == 0)
        var refusals: [String] = []
        for (name, arguments) in [("crop", ["--pipeline", onMount, "--quiet"]), ("prior", ["train", "--pipeline", onMount, "--quiet"])] {
            let run = try ExecutableRunner.run(name, arguments)
            #expect(run.status != 0 && !run.signalled, "\(name) on a read-only build: \(run.status) \(run.stderr)")
            #expect(run.stderr.lowercased().contains("read-only") || run.stderr.lowercased().contains("readonly"), "\(run.stderr)")
            refusals.append(run.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(Shell.sh("mount -o remount,rw \(dir.appending("mnt"))").status == 0)
        #expect(try dump(dir.appending("mnt/build")) == before)
        #expect(try files(dir.appending("mnt/build")) == beforeFiles)
        #expect(try ExecutableRunner.run("crop", ["--pipeline", onMount, "--quiet"]).status == 0)
        print("read-only: " + refusals.joined(separator: " | "))
    }
}
