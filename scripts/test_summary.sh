#!/usr/bin/env bash
# The last lines of `make test`: which checks skipped and why, gathered from the
# `SKIPPED CHECK [cause]: check: reason` lines the tests print (PipelineTestSupport's
# SkippedCheck), and the test counts.
# Usage: scripts/test_summary.sh LOG [SWIFT_TEST_STATUS]
# With REQUIRE_ALL_CHECKS=1 (the default under CI) a check skipped for want of a package that
# `make test` installs, or of root, fails the run; a check of ../shared/data may skip where
# that folder is absent, and a check that needs an instruction set this CPU lacks ([hardware])
# tests the fallback instead.
set -uo pipefail
log=$1
status=${2:-0}
skipped=$(grep -ao 'SKIPPED CHECK \[[a-z-]*\]: .*' "$log" | sort -u)
count=0; strict=0
if [ -n "$skipped" ]; then
  count=$(printf '%s\n' "$skipped" | wc -l)
  strict=$(printf '%s\n' "$skipped" | grep -vcE '^SKIPPED CHECK \[(shared-data|hardware)\]')
fi
# Swift Testing's closing line: "✔ Test run with 152 tests in 41 suites passed after 140.2 seconds."
# (or "✘ Test run with 152 tests in 41 suites failed after ... with 3 issues.").
total=$(grep -aoE 'Test run with [0-9]+ tests? in [0-9]+ suites? (passed|failed)' "$log" | tail -1 | grep -oE '[0-9]+' | head -1)
failed=$(grep -aE '^✘ Test .* failed after' "$log" | grep -avc '^✘ Test run with')
total=${total:-0}
echo
echo "== make test: checks that did not run =="
if [ "$count" -eq 0 ]; then
  echo "none: every check ran on this machine"
else
  printf '%s\n' "$skipped" | sed 's/^SKIPPED CHECK /  /'
  echo "$count check(s) skipped ($strict for want of a package or root, $((count - strict)) for want of ../shared/data or of an instruction set)"
fi
result=0
if [ "$status" -ne 0 ]; then result=$status; fi
if [ "${REQUIRE_ALL_CHECKS:-0}" = "1" ] && [ "$strict" -gt 0 ]; then
  echo "REQUIRE_ALL_CHECKS=1: $strict check(s) skipped that make test should have made possible"
  [ "$result" -eq 0 ] && result=1
fi
passed=$((total - failed - count)); [ "$passed" -lt 0 ] && passed=0
echo "tests: $passed passed, $failed failed, $count skipped"
exit $result
