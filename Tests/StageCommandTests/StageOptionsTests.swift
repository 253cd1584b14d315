import ArgumentParser
import Pipeline
import PipelineTestSupport
import Testing
@testable import StageCommand

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
