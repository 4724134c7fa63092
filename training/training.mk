# Training (Python): a pinned venv, `make train` (the full pipeline that regenerates the built-in
# model and the Go test vectors) and `make test-training` (ruff + pytest, with a smoke test that
# runs the real Go table command on a small world). Included by the root Makefile.
TRAIN_REQUIREMENTS := training/requirements.txt
TRAIN_PYTHON ?= python3
# One venv per requirements file content, so a changed pin never reuses a stale environment.
TRAIN_VENV := $(CACHE)/venv-train-$(shell sha256sum $(TRAIN_REQUIREMENTS) | cut -c1-16)
TRAIN_PY := $(TRAIN_VENV)/bin/python
# Arguments for `make train`, e.g. TRAIN_ARGS='--seeds 1,2,3'.
TRAIN_ARGS ?=

TEST_TARGETS += test-training
.PHONY: train-venv train test-training

# The marker is written last, so an interrupted install is redone from scratch next time.
$(TRAIN_VENV)/.complete: $(TRAIN_REQUIREMENTS)
	rm -rf $(TRAIN_VENV)
	$(TRAIN_PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_PY) -m pip install --quiet --disable-pip-version-check --no-input -r $(TRAIN_REQUIREMENTS)
	touch $@

train-venv: $(TRAIN_VENV)/.complete

train: train-venv
	cd training && $(TRAIN_PY) -W ignore::FutureWarning -m fraudtrain.train \
		--bundle ../internal/model/builtin \
		--parity ../internal/model/testdata/parity.csv \
		--contrib ../internal/model/testdata/contrib.csv \
		--metric-vectors ../internal/evaluation/testdata/metrics.json \
		--select --report $(CACHE)/train-report.json $(TRAIN_ARGS)

test-training: train-venv
	cd training && $(TRAIN_PY) -m ruff check --config fraudtrain.ruff.toml fraudtrain tests
	cd training && $(TRAIN_PY) -m ruff format --config fraudtrain.ruff.toml --check fraudtrain tests
	cd training && $(TRAIN_PY) -m pytest -q -p no:cacheprovider tests
