#!/usr/bin/env bash
# libFuzzer targets (swiftc -sanitize=fuzzer,address) over the parsers that take untrusted input.
# Each target compiles its entry file with the library sources it exercises; crashes are written
# to fuzz/artifacts/ and should become regression tests (see COCOFuzzRegressionTests).
# Usage: fuzz/run.sh [runs per target, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-1000000}"
mkdir -p .build/fuzz fuzz/artifacts
declare -A SOURCES=(
  [json]="Sources/Pipeline/Support/JSONValue.swift Sources/Pipeline/Support/JSONText.swift"
  [coco]="Sources/Imaging/COCOMask.swift Sources/Imaging/Mask.swift Sources/Imaging/ImageTypes.swift Sources/Imaging/ImagingError.swift"
  [safetensors]="Sources/Models/SafetensorsFile.swift Sources/Models/ModelError.swift"
)
for target in json coco safetensors; do
  swiftc -parse-as-library -O -sanitize=fuzzer,address -module-name "Fuzz$target" "fuzz/$target.swift" ${SOURCES[$target]} \
    -o ".build/fuzz/$target" 2>&1 | grep -v "Cannot export local symbol" || true
  echo "== $target: $RUNS runs"
  ".build/fuzz/$target" -runs="$RUNS" -max_len=512 -artifact_prefix="fuzz/artifacts/$target-" 2>&1 | grep -E "^Done|ERROR|SUMMARY" || true
done
