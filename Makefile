# The two commands of the README: `make demo` and `make test`. Both create .venv and install
# the package (exact pins from constraints.txt) when it is missing or out of date.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.emu4d-installed
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean install sysdeps

install: $(STAMP) sysdeps

# Debian packages for headless rendering (Mesa EGL), installed when missing
sysdeps:
	@bash .ci/system-deps.sh

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# a person punches a jelly cube: motion, contact-driven MPM, metrics, meshes and video (about 2.5 min)
demo: $(STAMP) sysdeps
	$(BIN)/emu4d hoi assets/scenes/punch_jelly.toml -o out/demo

test: $(STAMP) sysdeps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP) sysdeps
	$(BIN)/python benchmarks/mpm_throughput.py
	$(BIN)/python benchmarks/render_throughput.py

clean:
	rm -rf out .pytest_cache
