# featevo: `make demo` runs all five stages on configs/demo.yaml; `make test` runs the test suite.
# Both create the virtual environment first if it is missing (or out of date).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONFIG ?= configs/demo.yaml
STAMP := $(VENV)/.featevo-installed
FORCE ?= 0
STAGE_TARGETS := stage01 stage02 stage03 stage04 stage05
ARGS := --config $(CONFIG) $(if $(filter-out 0,$(FORCE)),--force,)

# The demo and the tests never touch the Hugging Face hub; another config (CONFIG=...) may download its models,
# so the stage targets set the offline flags only for the demo config (override with OFFLINE=...).
OFFLINE_FLAGS := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false WANDB_MODE=offline OMP_WAIT_POLICY=PASSIVE
DEMO_CONFIG := configs/demo.yaml
OFFLINE ?= $(if $(filter $(DEMO_CONFIG) ./$(DEMO_CONFIG),$(CONFIG)),$(OFFLINE_FLAGS),TOKENIZERS_PARALLELISM=false)

.PHONY: setup demo study test browser screenshot bench clean-demo $(STAGE_TARGETS)

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

# One target per stage number; each runs that number's scripts in the order of the registry in
# featevo/layout.py (tests/test_layout.py checks that this Makefile and the registry agree).
RUN = $(OFFLINE) $(PY)

stage01: setup
	$(RUN) 01_train_sae/make_twin.py $(ARGS)
	$(RUN) 01_train_sae/train_sae.py $(ARGS)
stage02: setup
	$(RUN) 02_compare_features/compare_features.py $(ARGS)
	$(RUN) 02_compare_features/model_diffing.py $(ARGS)
stage03: setup
	$(RUN) 03_activation_deltas/activation_deltas.py $(ARGS)
	$(RUN) 03_activation_deltas/causal_checks.py $(ARGS)
	$(RUN) 03_activation_deltas/study_as_published.py $(ARGS)
stage04: setup
	$(RUN) 04_interpret/interpret.py $(ARGS)
stage05: setup
	$(RUN) 05_report/report.py $(ARGS)

# Each stage skips itself when its manifest matches the config and inputs, so a second `make demo`
# only re-checks (seconds per stage); FORCE=1 reruns every stage.
demo: setup
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory $(STAGE_TARGETS) CONFIG=$(CONFIG) FORCE=$(FORCE) && \
	report=$(REPORT_HTML) && \
	echo "demo finished in $$(( $$(date +%s) - start ))s" && \
	echo "report: $$report  (open file://$$(realpath -m $$report); Markdown twin: $${report%.html}.md)"

# docs/report_screenshot.png (the README image) from the demo report: `make demo screenshot`.
REPORT_HTML = $$($(PY) -c 'from featevo.config import load_config; from featevo.layout import REPORT, ReportFiles, display_path, stage_dir; print(display_path(stage_dir(load_config("$(CONFIG)"), REPORT) / ReportFiles.HTML))')
screenshot: setup browser
	@report=$(REPORT_HTML); test -f "$$report" || { echo "no $$report: run make demo first"; exit 2; }; \
	$(PY) -c "from featevo.report.chromium import docs_screenshot; print('docs/report_screenshot.png:', docs_screenshot('$$report', 'docs/report_screenshot.png'), 'bytes')"

# The full study on a GPU machine with hub access (no offline flags).
study: setup
	$(PIP) install --quiet -r requirements-gpu.txt
	$(MAKE) --no-print-directory $(STAGE_TARGETS) CONFIG=configs/bert_finbert.yaml OFFLINE= FORCE=$(FORCE)

# Debian's Chromium for the report's browser check (root on CI and dev machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the report browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser test will be skipped"; }

test: setup browser
	$(OFFLINE_FLAGS) $(PY) -m pytest -q -p no:cacheprovider

bench: setup
	$(OFFLINE_FLAGS) $(PY) benchmarks/run_benchmarks.py

clean-demo:
	rm -rf outputs/demo
