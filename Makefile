# The two commands the README opens with:
#   make run    set up (system packages, .venv, embedded models) and start the assistant
#               (the desktop app on a display, a spoken chat in a terminal)
#   make test   set up and run the lint gate and the whole test suite
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup setup-test run test lint pytest bench doctor screenshots clean

setup:
	scripts/setup.sh gui

setup-test:
	scripts/setup.sh test train

# The desktop app where there is a display; a spoken chat in the terminal where there is not.
run: setup
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then $(BIN)/assistant; \
	else $(BIN)/assistant chat --speak; fi

test: setup-test lint pytest

lint:
	$(BIN)/ruff check assistant gui training tests
	$(BIN)/python scripts/check_layers.py
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

# Voice training (issue 6): its tests alone, and its benchmark.
.PHONY: test-voice bench-voice
test-voice: setup-test
	$(BIN)/python -m pytest tests/test_train_voice.py

bench-voice: setup-test
	$(BIN)/assistant train voice bench

# Installers (packaging/README.md): the app as one folder with no Python needed, then
# the Linux packages made from that folder. `bundle-test` installs the .deb into a clean
# Debian root and runs its self-test there.
.PHONY: bundle packages bundle-test clean-bundle

bundle:
	packaging/build.sh

packages: bundle
	packaging/linux/make_packages.sh

bundle-test: packages
	packaging/linux/test_in_chroot.sh

clean-bundle:
	rm -rf .venv-bundle build/pyinstaller dist

bench-train-llm: setup-test
	$(BIN)/assistant train llm bench --json bench-train-llm.json
.PHONY: bench-train-llm
