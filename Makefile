# λ-ECLIPSE data pipeline. `make demo` runs every stage on the embedded sample; `make test`
# runs the tests. Both install the C libraries they need (Debian/Ubuntu) when missing.

SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev libdnnl-dev libjpeg-dev libpng-dev libdeflate-dev libsqlite3-dev libssl-dev zlib1g-dev pkg-config
# What the tests add: a real single-node Slurm for the job-array test, and a real browser
# (headless Chromium) that loads the build report.
TEST_APT_PACKAGES := slurm-wlm munge chromium
# The project's Python (pinned references for tests, fixtures and benchmarks), never the runtime's.
VENV := .venv
VENV_PYTHON := $(abspath $(VENV))/bin/python
# Under CI every check must run: one skipped for want of a package or root fails `make test`.
REQUIRE_ALL_CHECKS ?= $(if $(CI),1,0)
export REQUIRE_ALL_CHECKS
# Release binaries for stages, demos and benchmarks; tests build with -enable-testing.
RELEASE_FLAGS := -c release
BIN := .build/release
TEST_FLAGS := -c release -Xswiftc -enable-testing
# One BLAS thread per process: stages parallelise over items (style rule 26).
export OPENBLAS_NUM_THREADS ?= 1
PIPELINE ?= pipelines/demo.yaml
SAMPLE_PER_LAYOUT ?= 8

.PHONY: all deps test-deps venv build demo test bench dataset train reliability sample models clean

all: build

## deps: install the C libraries (apt-get, non-interactive) when any is missing.
deps:
	@scripts/ensure_apt.sh $(APT_PACKAGES)

## venv: the project's Python environment (.venv) with the pinned references the tests run.
venv: $(VENV)/.requirements-test

$(VENV)/.requirements-test: python/requirements-test.txt python/constraints.txt
	scripts/make_venv.sh $(VENV) python/requirements-test.txt
	@touch $@

$(VENV)/.requirements-bench: $(VENV)/.requirements-test python/requirements-bench.txt
	scripts/make_venv.sh $(VENV) python/requirements-test.txt python/requirements-bench.txt
	@touch $@

## test-deps: what the tests need beyond the build (Slurm, munge, the Python references).
## A failure here does not stop `make test`: the checks that need it say they skipped, and
## its last lines list them (under CI that fails the run).
test-deps:
	@scripts/ensure_apt.sh $(TEST_APT_PACKAGES) || echo "warning: could not install $(TEST_APT_PACKAGES); the Slurm and browser tests will skip"
	@$(MAKE) --no-print-directory venv || echo "warning: could not make $(VENV); the Python reference checks will skip"

build: deps
	$(SWIFT) build $(RELEASE_FLAGS)

## sample: draw the embedded sample (every input layout, with deliberate defects).
sample: build
	$(BIN)/make-sample --output builds/sample-data --per-layout $(SAMPLE_PER_LAYOUT) --seed 1 --defects

## The demo's CLIP: real ViT-bigG/14 weights when `make models` fetched them, else a small
## random-weight CLIP of the real layout.
REAL_CLIP := models/laion--CLIP-ViT-bigG-14-laion2B-39B-b160k
DEMO_CLIP := $(if $(wildcard $(REAL_CLIP)/config.json),$(abspath $(REAL_CLIP)),$(abspath builds/models/random-clip))

builds/models/random-clip/model.safetensors: | build
	$(BIN)/make-sample --random-clip builds/models/random-clip --seed 1

## The demo's CLIPSeg (segment stage): CIDAS/clipseg-rd64-refined when `make models` fetched it,
## else a small random-weight CLIPSeg of its layout.
REAL_CLIPSEG := models/CIDAS--clipseg-rd64-refined
DEMO_CLIPSEG := $(if $(wildcard $(REAL_CLIPSEG)/config.json),$(abspath $(REAL_CLIPSEG)),$(abspath builds/models/random-clipseg))

builds/models/random-clipseg/model.safetensors: | build
	$(BIN)/make-sample --random-clipseg builds/models/random-clipseg --seed 1

## The evaluation's models: real DINO ViT-S/16 and CLIP ViT-B/32 when fetched, else random ones.
REAL_DINO := models/facebook--dino-vits16
REAL_B32 := models/openai--clip-vit-base-patch32
DEMO_DINO := $(if $(wildcard $(REAL_DINO)/config.json),$(abspath $(REAL_DINO)),$(abspath builds/models/random-dino))
DEMO_EVAL_CLIP := $(if $(wildcard $(REAL_B32)/config.json),$(abspath $(REAL_B32)),$(abspath builds/models/random-clip))

builds/models/random-dino/model.safetensors: | build
	$(BIN)/make-sample --random-dino builds/models/random-dino --seed 1

## demo: the main job on the embedded sample.
demo: sample builds/models/random-clip/model.safetensors builds/models/random-clipseg/model.safetensors builds/models/random-dino/model.safetensors
	rm -rf builds/demo
	$(BIN)/ingest --pipeline pipelines/demo.yaml
	@echo
	$(BIN)/tag --pipeline pipelines/demo.yaml
	@echo
	$(BIN)/segment --pipeline pipelines/demo.yaml --set segment.model=$(DEMO_CLIPSEG)
	@echo
	$(BIN)/crop --pipeline pipelines/demo.yaml --set segment.model=$(DEMO_CLIPSEG)
	@echo
	$(BIN)/embed --pipeline pipelines/demo.yaml --set embed.model=$(DEMO_CLIP) --set segment.model=$(DEMO_CLIPSEG)
	@echo
	$(BIN)/shard --pipeline pipelines/demo.yaml --set embed.model=$(DEMO_CLIP) --set segment.model=$(DEMO_CLIPSEG)
	@echo
	$(BIN)/prior train --pipeline pipelines/demo.yaml
	$(BIN)/prior predict --prior builds/demo/checkpoints/prior/step-0000060 \
	  --output builds/demo/predictions/image_embeds.safetensors builds/demo/shards/*.safetensors
	$(BIN)/prior evaluate --pipeline pipelines/demo.yaml --split val --output builds/demo/reports/prior
	@echo
	$(BIN)/make-sample --dreambench builds/demo-eval --seed 4
	$(BIN)/evaluate --dreambench builds/demo-eval/dreambench --generated builds/demo-eval/generated --real-images \
	  --dino-model $(DEMO_DINO) --clip-model $(DEMO_EVAL_CLIP) --output builds/demo/reports/dreambench
	@echo
	$(BIN)/catalog summary --pipeline pipelines/demo.yaml
	@echo
	$(BIN)/catalog report --pipeline pipelines/demo.yaml
	@echo
	@echo "report:  builds/demo/reports/build.html   (open it in a browser: funnel, rates and times, a gallery filterable by reason)"
	@echo "catalog: builds/demo/catalog.sqlite   (try: sqlite3 builds/demo/catalog.sqlite 'select * from samples limit 5')"
	@echo "segment: sqlite3 builds/demo/catalog.sqlite 'select sample_id, label, score, box_json from added_masks'   (CLIPSeg masks of the plain img2dataset pairs)"
	@echo "crops:   builds/demo/objects/crops/   (sqlite3 builds/demo/catalog.sqlite 'select label, crop_object from subjects where status=\"ok\"')"
	@echo "nouns:   sqlite3 builds/demo/catalog.sqlite 'select sample_id, idx, lemma, token_positions_json from nouns limit 8'"
	@echo "prompts: builds/demo/exports/grounding/   (each sample's nouns as a Grounding-DINO text prompt)"
	@echo "features: builds/demo/features/embed/  (safetensors per unit; sqlite3 builds/demo/catalog.sqlite 'select * from features limit 5')"
	@echo "shards:  builds/demo/shards/  (sqlite3 builds/demo/catalog.sqlite 'select shard, row, split from shard_rows limit 5')"
	@echo "prior:   builds/demo/checkpoints/prior/step-*/ (diffusers layout; sqlite3 builds/demo/catalog.sqlite 'select step, loss from train_steps')"
	@echo "         builds/demo/predictions/image_embeds.safetensors (prior predict on every shard row)"
	@echo "reports: builds/demo/reports/{ingest,tag,segment,crop,embed,shard}.md, builds/demo/reports/prior/report.{md,json}, builds/demo/reports/dreambench/report.{md,json,html}"

## dataset: run every stage of PIPELINE (default pipelines/demo.yaml); resumes what is missing.
dataset: build
	$(BIN)/ingest --pipeline $(PIPELINE)
	$(BIN)/tag --pipeline $(PIPELINE)
	$(BIN)/segment --pipeline $(PIPELINE)
	$(BIN)/crop --pipeline $(PIPELINE)
	$(BIN)/embed --pipeline $(PIPELINE)
	$(BIN)/shard --pipeline $(PIPELINE)
	$(BIN)/catalog summary --pipeline $(PIPELINE)
	$(BIN)/catalog report --pipeline $(PIPELINE)

## test: every test, optimised (numeric code is slow in debug builds).
## Its last lines list every check that could not run here, and why.
test: deps test-deps
	$(SWIFT) build $(TEST_FLAGS) --build-tests $(if $(CI),-Xswiftc -warnings-as-errors,)
	@mkdir -p .build; set -o pipefail; \
	ECLIPSE_PYTHON=$(if $(wildcard $(VENV_PYTHON)),$(VENV_PYTHON),) $(SWIFT) test $(TEST_FLAGS) --skip-build 2>&1 | tee .build/test-output.log; \
	scripts/test_summary.sh .build/test-output.log $$?

## train: train the prior on PIPELINE's shards (its train: section); resumes from the newest checkpoint.
train: build
	$(BIN)/prior train --pipeline $(PIPELINE)

## reliability: fuzzing (1M executions per target), 50 kills per stage, disk full, read-only, memory 1k-100k.
reliability: deps
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	scripts/reliability.sh

## models: download the real CLIP, DINO and CLIPSeg weights from Hugging Face (needs internet), checked by SHA-256.
models:
	scripts/fetch_models.sh

## bench: release benchmarks against reference tools on this machine.
bench: build $(VENV)/.requirements-bench
	PYTHON=$(VENV_PYTHON) scripts/bench.sh

clean:
	rm -rf .build builds
