# Quick start: `make demo` (sample data, reports, how to open the UI) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export PIPELINE_STORAGE_URL ?= $(CURDIR)/.lake

.PHONY: install tools test lint demo dev clean bench screenshots cost

# setup.py compiles pipeline_project/core/*.c into the package (in place, for the editable install).
$(BIN)/.installed: pyproject.toml constraints.txt setup.py $(wildcard pipeline_project/core/*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# checkov pins many dependencies of its own, so it lives in its own environment.
CHECKOV := .tools/checkov/bin/checkov
$(CHECKOV): requirements/checkov.txt
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet --upgrade pip
	.tools/checkov/bin/pip install --quiet -r requirements/checkov.txt
	touch $@

tools: $(CHECKOV)

# nux: no "Join the Dagster community" dialog over the first page of make dev.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\nnux:\n  enabled: false\n' > $@

test: install tools
	$(BIN)/ruff check pipeline_project pipeline_project_tests
	$(BIN)/python -m pytest -n 2 -q --durations=20

lint: install
	$(BIN)/ruff check pipeline_project pipeline_project_tests
	$(BIN)/ruff format --check pipeline_project pipeline_project_tests

demo: install $(DAGSTER_HOME)/dagster.yaml
	@set -e; \
	first=$$($(BIN)/python -c 'import datetime as d; print(d.date.today() - d.timedelta(days=3))'); \
	last=$$($(BIN)/python -c 'import datetime as d; print(d.date.today() - d.timedelta(days=1))'); \
	$(BIN)/pipeline-project sample-data --from $$first --to $$last --rows 2000; \
	$(BIN)/pipeline-project run --from $$first --to $$last; \
	echo; \
	echo "Reports:    $(PIPELINE_STORAGE_URL)/reports/"; \
	echo "Quarantine: $(PIPELINE_STORAGE_URL)/quarantine/"; \
	echo "Open the UI: make dev, then http://127.0.0.1:3000 (runs above are under Runs; daily_report under Catalog)"

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

# The README's pictures (docs/images/*.png), taken by the browser test of the UI.
screenshots: install
	UI_SCREENSHOTS_DIR=$(CURDIR)/docs/images $(BIN)/python -m pytest pipeline_project_tests/ui -q -p no:cacheprovider

# The benchmark (docs/performance.md): one generated day, computed by the pipeline, DuckDB, pandas and polars.
# make bench BENCH_SIZE_MB=1024 BENCH_FORMAT=parquet; BENCH_SCALE=1 also runs the scale benchmarks
# (sensor over 100k objects, tiny-day overhead, a year's backfill through dagster dev).
BENCH_SIZE_MB ?= 256
BENCH_FORMAT ?= csv
BENCH_SEED ?= 0
bench: install
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/pipeline-project bench --size-mb $(BENCH_SIZE_MB) --format $(BENCH_FORMAT) --seed $(BENCH_SEED)
	@if [ -n "$(BENCH_SCALE)" ]; then $(BIN)/python -m pytest pipeline_project_tests/bench -m benchmark -q -p no:logging; fi

# Monthly idle cost of dev and prod from terraform/ at the prices docs/deploy.md states.
cost: install
	@$(BIN)/python scripts/idle_cost.py

clean:
	rm -rf $(VENV) .tools .lake .dagster_home .pytest_cache .ruff_cache
