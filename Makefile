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
ARGS := --config $(CONFIG) $(if $(filter-out 0,$(FORCE)),--force,)

# The demo and the tests never touch the Hugging Face hub.
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false WANDB_MODE=offline OMP_WAIT_POLICY=PASSIVE

.PHONY: setup demo study test browser screenshot bench clean-demo stage01 stage02 stage03 stage04 stage05

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

stage01: setup
	$(OFFLINE) $(PY) 01_train_sae/train_sae.py $(ARGS)
stage02: setup
	$(OFFLINE) $(PY) 02_compare_features/compare_features.py $(ARGS)
stage03: setup
	$(OFFLINE) $(PY) 03_activation_deltas/activation_deltas.py $(ARGS)
stage04: setup
	$(OFFLINE) $(PY) 04_interpret/interpret.py $(ARGS)
stage05: setup
	$(OFFLINE) $(PY) 05_report/report.py $(ARGS)

# Each stage skips itself when its manifest matches the config and inputs, so a second `make demo`
# only re-checks (seconds per stage); FORCE=1 reruns every stage.
demo: setup
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory stage01 stage02 stage03 stage04 stage05 CONFIG=$(CONFIG) FORCE=$(FORCE) && \
	report=$(REPORT_HTML) && \
	echo "demo finished in $$(( $$(date +%s) - start ))s" && \
	echo "report: $$report  (open file://$$(realpath -m $$report); Markdown twin: $${report%.html}.md)"

# docs/report_screenshot.png (the README image) from the demo report: `make demo screenshot`.
REPORT_HTML = $$($(PY) -c 'from featevo.config import load_config; from featevo.io import stage_dir, display_path; print(display_path(stage_dir(load_config("$(CONFIG)"), "05_report") / "report.html"))')
screenshot: setup browser
	@report=$(REPORT_HTML); test -f "$$report" || { echo "no $$report: run make demo first"; exit 2; }; \
	$(PY) -c "from featevo.report import docs_screenshot; print('docs/report_screenshot.png:', docs_screenshot('$$report', 'docs/report_screenshot.png'), 'bytes')"

# The full study on a GPU machine with hub access (no offline flags).
study: setup
	$(PIP) install --quiet -r requirements-gpu.txt
	for s in 01_train_sae/train_sae.py 02_compare_features/compare_features.py 03_activation_deltas/activation_deltas.py 04_interpret/interpret.py 05_report/report.py; do \
	  $(PY) $$s --config configs/bert_finbert.yaml || exit 1; done

# Debian's Chromium for the report's browser check (root on CI and dev machines).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the report browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser test will be skipped"; }

test: setup browser
	$(OFFLINE) $(PY) -m pytest -q -p no:cacheprovider

bench: setup
	$(OFFLINE) $(PY) benchmarks/run_benchmarks.py

clean-demo:
	rm -rf outputs/demo
