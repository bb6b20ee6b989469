# The two commands the README opens with:
#   make run    set up (system packages, .venv, embedded models) and start the assistant
#   make test   set up and run the lint gate and the whole test suite
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup setup-test run test lint pytest bench doctor screenshots clean

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh test train

run: setup
	$(BIN)/assistant chat --speak

test: setup-test lint pytest

lint:
	$(BIN)/ruff check assistant gui training tests
	$(BIN)/mypy

pytest:
	scripts/virtual-audio.sh
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/assistant bench engines

doctor: setup
	$(BIN)/assistant doctor

screenshots:
	xvfb-run -a -s "-screen 0 1280x900x24" $(BIN)/python scripts/screenshots.py --out docs/screenshots

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

bench-train-llm: setup-test
	$(BIN)/assistant train llm bench --json bench-train-llm.json
.PHONY: bench-train-llm
