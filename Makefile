# The README's two commands, and a few conveniences. Everything runs in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench serve dagster clean

$(BIN)/lpstat: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/lpstat

setup: $(BIN)/lpstat

demo: setup
	$(BIN)/lpstat demo

test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

serve: setup
	$(BIN)/lpstat serve

dagster: setup
	DAGSTER_HOME=$$($(BIN)/python -m pipelines.instance) $(BIN)/dagster dev -w workspace.yaml

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf lpstat-data .pytest_cache
