import ArgumentParser
import BuildSupport
import Pipeline
import PipelineTestSupport
@testable import StageCommand
import Testing

@Suite struct StageOptionsTests {
    @Test func parsesEveryOption() throws {
        let o = try StageOptions.parse(["--pipeline", "p.yaml", "--set", "a.b=1", "--set", "c=2", "--workers", "4",
                                        "--worker", "3", "--retry-failed", "--quiet"])
        #expect(o.pipeline == "p.yaml" && o.overrides == ["a.b=1", "c=2"] && o.workers == 4 && o.worker == 3)
        #expect(o.retryFailed && o.quiet)
        #expect(throws: (any Error).self) { try StageOptions.parse(["--set", "x=1"]) }
    }

    @Test func errorsMapToTheDocumentedExitCodes() throws {
        let dir = TemporaryDirectory("options")
        let o = try StageOptions.parse(["--pipeline", dir.appending("missing.yaml"), "--quiet"])
        do {
            try o.run(command: "test") { _, _, _ in Issue.record("body must not run"); throw PipelineError(.usage, "unexpected") }
        } catch let exit as ExitCode {
            #expect(exit.rawValue == StageCommandSupport.configExitCode)
        }
        #expect(StageCommandSupport.exitCode(for: PipelineError(.locked, "held")) == StageCommandSupport.lockedExitCode)
        #expect(StageCommandSupport.exitCode(for: PipelineError(.io, "disk full")) == 1)
        #expect(throws: PipelineError.self) {
            try StageCommandSupport.runOptions(workers: 2, worker: 2, retryFailed: false, unitSize: 1, quiet: true)
        }
    }
}

/// Every executable's `--help` lists its exit statuses, 64 (a bad command line) among them, and
/// a bad command line does exit 64.
@Suite struct ExitStatusHelpTests {
    static let buildTools = ["ingest", "tag", "crop", "embed", "shard", "merge", "catalog", "prior"]
    static let otherTools = ["encode", "evaluate", "preprocess", "tokenize", "pos", "make-sample"]

    @Test(arguments: buildTools + otherTools + ["prior train", "prior predict", "prior evaluate", "prior init", "prior bench"])
    func helpListsTheExitStatuses(command: String) throws {
        let words = command.split(separator: " ").map(String.init)
        let help = try ExecutableRunner.run(words[0], Array(words.dropFirst()) + ["--help"])
        #expect(help.status == 0)
        let text = help.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        #expect(text.contains("Exit status: 0 done") && text.contains("64 bad command line") && text.contains("1 anything else"), "\(help.stdout)")
        if Self.buildTools.contains(words[0]) {
            #expect(text.contains("75 another process holds the build's lock") && text.contains("78 bad config or manifest"))
        }
    }

    @Test(arguments: buildTools + otherTools)
    func aBadCommandLineExits64(tool: String) throws {
        let run = try ExecutableRunner.run(tool, ["--no-such-flag"])
        #expect(run.status == StageCommandSupport.usageExitCode, "\(tool): \(run.status) \(run.stderr)")
    }
}
