import Foundation
import PipelineTestSupport
import Testing

/// `make test`'s own machinery: the summary of skipped checks that ends it (and fails it under
/// CI), and the project's Python environment the reference checks run in.
@Suite struct TestHarnessTests {
    static let summary = ReferencePython.repository + "/scripts/test_summary.sh"

    /// Runs the summary script on `log` with `REQUIRE_ALL_CHECKS` set as given.
    func summarise(_ log: String, status: Int32 = 0, requireAll: Bool) throws -> Shell.Result {
        let dir = TemporaryDirectory("summary")
        let path = try dir.write(log, to: "test-output.log")
        return Shell.run("/bin/bash", [Self.summary, path, "\(status)"], environment: ["REQUIRE_ALL_CHECKS": requireAll ? "1" : "0"])
    }

    static let passingRun = """
        ◇ Test a() started.
        ✔ Test a() passed after 0.1 seconds.
        ✔ Test run with 12 tests in 3 suites passed after 1.5 seconds.

        """

    @Test func aRunWithoutSkipsSaysEveryCheckRan() throws {
        let result = try summarise(Self.passingRun, requireAll: true)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("none: every check ran"))
        #expect(result.output.hasSuffix("tests: 12 passed, 0 failed, 0 skipped\n"), "\(result.output)")
    }

    @Test func aCheckSkippedForAPackageFailsOnlyWhenEveryCheckIsRequired() throws {
        let log = "SKIPPED CHECK [package]: Slurm job array: /usr/sbin/slurmctld is not installed\n"
            + "SKIPPED CHECK [shared-data]: tagger accuracy on EWT dev: ../shared/data/ud-ewt is absent\n" + Self.passingRun
        let lenient = try summarise(log, requireAll: false)
        #expect(lenient.status == 0)
        #expect(lenient.output.contains("[package]: Slurm job array: /usr/sbin/slurmctld is not installed"))
        #expect(lenient.output.contains("2 check(s) skipped (1 for want of a package or root, 1 for want of ../shared/data or of an instruction set)"))
        #expect(lenient.output.hasSuffix("tests: 10 passed, 0 failed, 2 skipped\n"), "\(lenient.output)")
        let strict = try summarise(log, requireAll: true)
        #expect(strict.status == 1 && strict.output.contains("REQUIRE_ALL_CHECKS=1: 1 check(s) skipped"))
        // A check this CPU cannot run (its fallback tested instead) is allowed under CI, as shared data is.
        let hardware = "SKIPPED CHECK [hardware]: oneDNN bf16 matmul: no AVX-512 on this CPU\n"
            + "SKIPPED CHECK [shared-data]: tagger accuracy on EWT dev: ../shared/data/ud-ewt is absent\n" + Self.passingRun
        let allowed = try summarise(hardware, requireAll: true)
        #expect(allowed.status == 0 && allowed.output.contains("[hardware]: oneDNN bf16 matmul: no AVX-512 on this CPU"), "\(allowed.output)")
    }

    @Test func sharedDataSkipsAndFailuresAreReportedAsTheyAre() throws {
        let shared = try summarise("SKIPPED CHECK [shared-data]: photos: absent\n" + Self.passingRun, requireAll: true)
        #expect(shared.status == 0)
        let failing = try summarise("""
            ✘ Test b() recorded an issue at X.swift:3:5: Expectation failed
            ✘ Test b() failed after 0.2 seconds with 1 issue.
            ✘ Test run with 12 tests in 3 suites failed after 1.5 seconds with 1 issue.

            """, status: 1, requireAll: false)
        #expect(failing.status == 1)
        #expect(failing.output.hasSuffix("tests: 11 passed, 1 failed, 0 skipped\n"), "\(failing.output)")
    }

    @Test func missingModulesAreNamed() {
        #expect(ReferencePython.missing(["json"]) == nil)
        let reason = ReferencePython.missing(["json", "no_such_module_eclipse"])
        #expect(reason?.contains("no_such_module_eclipse") == true && reason?.contains("json,") == false)
    }

    /// The environment `make test` made holds exactly the versions python/requirements-test.txt
    /// pins (so a reference check compares against the versions the fixtures were made with).
    @Test func theProjectEnvironmentHoldsThePinnedVersions() throws {
        let requirements = try String(contentsOfFile: ReferencePython.repository + "/python/requirements-test.txt", encoding: .utf8)
        let pins = requirements.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("==") }
            .map { $0.split(separator: "=", omittingEmptySubsequences: true).map(String.init) }
        #expect(pins.count >= 6)
        if let missing = ReferencePython.missing(["torch", "transformers", "diffusers", "safetensors", "numpy", "PIL"]) {
            SkippedCheck.report("the project's Python holds the pinned versions", cause: .package, because: missing); return
        }
        let names = pins.map { $0[0] }
        let run = ReferencePython.run(["-c", "import sys, importlib.metadata as m; print('\\n'.join(n + '==' + m.version(n) for n in sys.argv[1:]))"] + names)
        #expect(run.status == 0, "\(run.output)")
        let installed = Set(run.output.split(separator: "\n").map(String.init))
        for pin in pins { #expect(installed.contains(pin[0] + "==" + pin[1]), "\(pin[0]): \(run.output)") }
    }
}
