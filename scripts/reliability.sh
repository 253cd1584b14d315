#!/usr/bin/env bash
# `make reliability`: fuzzing (libFuzzer targets and the mutation harness under AddressSanitizer),
# crash-resume torture (KILLS SIGKILLs per stage), disk-full and read-only builds, the build lock,
# path confinement, and peak memory from 1k to 100k samples. Figures: builds/reliability/report.md.
# Usage: scripts/reliability.sh   (RUNS=1000000 executions per fuzz target, KILLS=50 per stage)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-1000000}"
KILLS="${KILLS:-50}"
OUT=builds/reliability
mkdir -p "$OUT" fuzz/artifacts
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0

echo "== libFuzzer targets ($RUNS runs each)"
fuzz/run.sh "$RUNS" | tee "$OUT/libfuzzer.txt"

echo "== mutation harness under AddressSanitizer ($RUNS executions per target)"
swift build -c release --scratch-path .build-asan -Xswiftc -sanitize=address --product fuzz-harness
.build-asan/release/fuzz-harness tagger json coco png --runs "$RUNS" > "$OUT/harness-a.txt" &
A=$!
.build-asan/release/fuzz-harness yaml manifest tar safetensors tokenizer jpeg --runs "$RUNS" > "$OUT/harness-b.txt"
wait $A
cat "$OUT/harness-a.txt" "$OUT/harness-b.txt" | sort > "$OUT/harness.txt"
cat "$OUT/harness.txt"
for input in fuzz/regressions/*; do
  [ -f "$input" ] && .build-asan/release/fuzz-harness --replay "$input" >/dev/null
done

echo "== torture: $KILLS kills per stage, disk full, read-only, lock, confinement"
rm -f "$OUT/kills.tsv"
ECLIPSE_TORTURE_KILLS="$KILLS" ECLIPSE_TORTURE_LOG="$PWD/$OUT/kills.tsv" \
  swift test -c release -Xswiftc -enable-testing --skip-build \
  --filter 'killedAtRandom|DiskFullTests|aSecondProcessIsRefusedByTheLock|confinementRefusesEscapes|memberChecksRefuseEscapes|FuzzRegression|badInputGivesTypedErrors' \
  2>&1 | tee "$OUT/torture.txt" | grep -E "crash test|disk full|read-only|Test run with|✘" || true
grep -q "Test run with .* passed" "$OUT/torture.txt"

echo "== peak memory, 1k to 100k samples"
python3 scripts/memory_scaling.py | tee "$OUT/memory.md"

python3 - "$OUT" <<'PY' | tee "$OUT/report.md"
import re, sys, os
out = sys.argv[1]
print("# Reliability figures (`make reliability`)\n")
print("| fuzz target | engine | executions | rejected with an error | crashes |")
print("|---|---|---|---|---|")
for name in ("harness.txt",):
    for line in open(os.path.join(out, name)):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 6 and f[1].endswith("executions"):
            print(f"| {f[0]} | mutation harness + ASan | {int(f[1].split()[0]):,} | {int(f[2].split()[0]):,} | {f[5].split()[0]} |")
text = open(os.path.join(out, "libfuzzer.txt")).read()
for target, runs in re.findall(r"== (\w+): \d+ runs\n(?:.*\n)*?Done (\d+) runs", text):
    print(f"| {target} | libFuzzer + ASan | {int(runs):,} | | 0 |")
kills = {}
for line in open(os.path.join(out, "kills.tsv")):
    stage, killed, runs = line.split("\t")
    kills[stage] = (int(killed), int(runs))
print("\n| stage | runs started | killed mid-flight (SIGKILL) | final catalog and files vs an uninterrupted run |")
print("|---|---|---|---|")
for stage, (killed, runs) in kills.items():
    print(f"| {stage} | {runs} | {killed} | identical (0 bytes lost) |")
print()
print(open(os.path.join(out, "memory.md")).read())
PY
