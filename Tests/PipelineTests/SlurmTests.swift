import Catalog
import Foundation
import Models
import PipelineTestSupport
import SampleScenes
import Testing
@testable import Pipeline

/// The Slurm job-array template on a real single-node Slurm (Debian's slurm-wlm with munge,
/// slurmctld and slurmd on this host, started by the test as root): four array tasks run the
/// shard stage, `merge` folds their catalogs, and the result equals a one-worker run byte for
/// byte. Skipped, with the reason printed, where Slurm is not installed or cannot start.
@Suite(.serialized) struct SlurmTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path

    /// Runs a command, returning its status and output.
    @discardableResult
    static func shell(_ command: String, environment: [String: String] = [:]) -> (status: Int32, output: String) {
        let result = Shell.sh(command, environment: environment, timeout: 300)
        return (result.status, result.output)
    }

    /// A running single-node cluster, or why there is none.
    final class Cluster {
        let directory: TemporaryDirectory
        let config: String
        var startedMunge = false

        init() throws {
            directory = TemporaryDirectory("slurm")
            config = directory.appending("slurm.conf")
        }

        func start() -> String? {
            guard getuid() == 0 else { return "not root" }
            for tool in ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch", "/usr/bin/sinfo"]
                where !FileManager.default.isExecutableFile(atPath: tool) {
                return "\(tool) is not installed (apt-get install slurm-wlm munge)"
            }
            if SlurmTests.shell("munge -n | unmunge").status != 0 {
                SlurmTests.shell("mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null; munged --force")
                startedMunge = true
                guard SlurmTests.shell("munge -n | unmunge").status == 0 else { return "munged does not start" }
            }
            let host = SlurmTests.shell("hostname -s").output.trimmingCharacters(in: .whitespacesAndNewlines)
            let port = Int.random(in: 20_000..<40_000)
            let d = directory.path
            for sub in ["state", "spool", "log"] { try? FileManager.default.createDirectory(atPath: d + "/" + sub, withIntermediateDirectories: true) }
            let text = """
                ClusterName=eclipsetest
                SlurmctldHost=\(host)
                SlurmUser=root
                SlurmctldPort=\(port)
                SlurmdPort=\(port + 1)
                AuthType=auth/munge
                StateSaveLocation=\(d)/state
                SlurmdSpoolDir=\(d)/spool
                SlurmctldPidFile=\(d)/slurmctld.pid
                SlurmdPidFile=\(d)/slurmd.pid
                SlurmctldLogFile=\(d)/log/slurmctld.log
                SlurmdLogFile=\(d)/log/slurmd.log
                ProctrackType=proctrack/linuxproc
                TaskPlugin=task/none
                SelectType=select/cons_tres
                SelectTypeParameters=CR_CPU
                ReturnToService=2
                MpiDefault=none
                JobAcctGatherType=jobacct_gather/none
                NodeName=\(host) CPUs=\(ProcessInfo.processInfo.activeProcessorCount) RealMemory=2000 State=UNKNOWN
                PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP

                """
            guard (try? text.write(toFile: config, atomically: true, encoding: .utf8)) != nil else { return "cannot write slurm.conf" }
            let env = ["SLURM_CONF": config]
            SlurmTests.shell("slurmctld -f \(config) && slurmd -f \(config)", environment: env)
            for _ in 0..<40 {
                if SlurmTests.shell("sinfo -h -o %T", environment: env).output.contains("idle") { return nil }
                Thread.sleep(forTimeInterval: 0.5)
            }
            return "the node never became idle: " + SlurmTests.shell("tail -3 \(d)/log/slurmctld.log \(d)/log/slurmd.log").output
        }

        deinit {
            for pid in ["slurmd.pid", "slurmctld.pid"] {
                if let text = try? String(contentsOfFile: directory.appending(pid), encoding: .utf8),
                   let value = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(value, SIGTERM) }
            }
            if startedMunge { SlurmTests.shell("kill $(cat /run/munge/munged.pid 2>/dev/null) 2>/dev/null") }
        }
    }

    @Test func theJobArrayTemplateRunsAStageOnARealSlurm() throws {
        let cluster = try Cluster()
        if let reason = cluster.start() {
            SkippedCheck.report("Slurm job array", cause: getuid() == 0 ? .package : .root, because: reason)
            return
        }
        let dir = TemporaryDirectory("slurm-build")
        _ = try SampleWriter(seed: 31, output: dir.appending("sample"), perLayout: 3, defects: false).write()
        try RandomCLIP.write(to: dir.appending("clip"), seed: 7)
        let pipeline = try SampleBuild.pipeline(in: dir, sample: dir.appending("sample"), unitSize: 4, extra: """
            crop: {min_image_side: 200, min_box_area: 0.02}
            embed: {model: clip}
            """)
        for stage in ["ingest", "tag", "crop", "embed"] {
            #expect(try ExecutableRunner.run(stage, ["--pipeline", pipeline, "--quiet"]).status == 0)
        }
        try FileManager.default.copyItem(atPath: dir.appending("build"), toPath: dir.appending("one-build"))
        let one = dir.appending("one.yaml")
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(of: "build_dir: build", with: "build_dir: one-build")
            .write(toFile: one, atomically: true, encoding: .utf8)
        #expect(try ExecutableRunner.run("shard", ["--pipeline", one, "--quiet"]).status == 0)

        let submitted = Self.shell("""
            cd \(Self.repository) && sbatch --wait --array=0-3 --cpus-per-task=1 --mem=200M \
              --output=\(dir.appending("task-%a.out")) --export=ALL,STAGE=shard,PIPELINE=\(pipeline) pipelines/slurm-array.sbatch
            """, environment: ["SLURM_CONF": cluster.config])
        #expect(submitted.status == 0, "\(submitted.output)")
        let logs = Self.shell("cat \(dir.appending("task-*.out"))").output
        #expect(logs.contains("shard summary"), "\(logs)")
        #expect(FileManager.default.fileExists(atPath: dir.appending("build/workers/catalog-3-of-4.sqlite")))
        #expect(try ExecutableRunner.run("merge", ["--pipeline", pipeline]).status == 0)
        func dump(_ path: String) throws -> String { try Catalog(path: path, readOnly: true).canonicalDump() }
        #expect(try dump(dir.appending("build/catalog.sqlite")) == (try dump(dir.appending("one-build/catalog.sqlite"))))
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.appending("one-build/shards")) {
            #expect(FileManager.default.contents(atPath: dir.appending("build/shards/" + name))
                    == FileManager.default.contents(atPath: dir.appending("one-build/shards/" + name)))
        }
    }
}
