# Yizhan: the two commands of the README.
#   make serve  – set up (virtualenv, install, database, demo registry) and start the server
#   make test   – set up (virtualenv, test extras, system Chromium) and run every test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: serve test test-fast lint bench data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(VENV)/.installed $@

serve: $(VENV)/.installed
	$(BIN)/yizhan init-db
	$(BIN)/yizhan demo
	$(BIN)/yizhan serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	bash scripts/install_test_deps.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# While developing: everything but the tests marked slow (> 5 s) or browser (Chromium).
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not slow and not browser"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	for f in bench/bench_*.py; do $(BIN)/python $$f || exit 1; done

data: $(BIN)/python
	$(BIN)/python -m pip install --quiet -r scripts/requirements-data.txt
	$(BIN)/python scripts/build_data.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache tests/artifacts
