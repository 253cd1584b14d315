#!/usr/bin/env bash
# Release benchmarks against reference tools on this machine, in one run.
# Usage: scripts/bench.sh   (make bench builds the release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Python (make bench makes .venv with the pinned references), else python3.
PY=${PYTHON:-python3}
mkdir -p builds/bench
"$PY" scripts/bench_ingest.py "$@" | tee builds/bench/ingest.md
echo "results: builds/bench/ingest.md"
"$PY" scripts/bench_preprocess.py | tee builds/bench/preprocess.md
echo "results: builds/bench/preprocess.md"
"$PY" scripts/bench_tagger.py | tee builds/bench/tagger.md
echo "results: builds/bench/tagger.md"
"$PY" scripts/bench_models.py ${BENCH_BIGG:+--bigg} | tee builds/bench/models.md
echo "results: builds/bench/models.md"
"$PY" scripts/bench_engines.py ${BENCH_BIGG:+--bigg} | tee builds/bench/engines.md
echo "results: builds/bench/engines.md"
"$PY" scripts/bench_bf16.py ${BENCH_BIGG:+--bigg} | tee builds/bench/bf16.md
echo "results: builds/bench/bf16.md"
"$PY" scripts/bench_shards.py | tee builds/bench/shards.md
echo "results: builds/bench/shards.md"
"$PY" scripts/bench_eval.py | tee builds/bench/eval.md
echo "results: builds/bench/eval.md"
"$PY" scripts/bench_crop.py | tee builds/bench/crop.md
echo "results: builds/bench/crop.md"
"$PY" scripts/bench_segment.py | tee builds/bench/segment.md
echo "results: builds/bench/segment.md"
"$PY" scripts/bench_pipeline.py | tee builds/bench/pipeline.md
echo "results: builds/bench/pipeline.md"
"$PY" scripts/bench_pipeline.py --precision bf16 | tee builds/bench/pipeline-bf16.md
echo "results: builds/bench/pipeline-bf16.md"
"$PY" scripts/bench_prior.py | tee builds/bench/prior.md
echo "results: builds/bench/prior.md"
