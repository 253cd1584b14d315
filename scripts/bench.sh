#!/usr/bin/env bash
# Release benchmarks against reference tools on this machine, in one run.
# Usage: scripts/bench.sh   (make bench builds the release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import PIL" 2>/dev/null || pip install -q pillow
mkdir -p builds/bench
python3 scripts/bench_ingest.py "$@" | tee builds/bench/ingest.md
echo "results: builds/bench/ingest.md"
python3 -c "import transformers" 2>/dev/null || pip install -q transformers
python3 scripts/bench_preprocess.py | tee builds/bench/preprocess.md
echo "results: builds/bench/preprocess.md"
python3 -c "import nltk" 2>/dev/null || pip install -q nltk
python3 scripts/bench_tagger.py | tee builds/bench/tagger.md
echo "results: builds/bench/tagger.md"
python3 -c "import torch" 2>/dev/null || pip install -q torch==2.13.0+cpu
python3 scripts/bench_models.py ${BENCH_BIGG:+--bigg} | tee builds/bench/models.md
echo "results: builds/bench/models.md"
python3 scripts/bench_shards.py | tee builds/bench/shards.md
echo "results: builds/bench/shards.md"
python3 scripts/bench_eval.py | tee builds/bench/eval.md
echo "results: builds/bench/eval.md"
python3 -c "import diffusers" 2>/dev/null || pip install -q diffusers
python3 scripts/bench_prior.py | tee builds/bench/prior.md
echo "results: builds/bench/prior.md"
