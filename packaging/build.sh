#!/usr/bin/env bash
# `make bundle`: the desktop app as one folder, dist/assistant/, built by PyInstaller from
# a virtual env without the train extra (packaging/venv.sh), then checked:
#   - every embedded model's files match models/catalog.toml before bundling, and the
#     bundle's own catalog after (whisper's weights are stored in int8 and the voice's in
#     float16: ct2int8.py, onnxfp16.py),
#   - no link in it points at nothing,
#   - neither torch nor the training package is inside,
#   - the licences are collected (packaging/licences.py),
# and its size is printed, broken down by its largest parts.
# Usage: packaging/build.sh     Environment: BUNDLE_VENV (.venv-bundle), DIST (dist),
#        BUNDLE_MAX_MB (500: the size goal; a warning above it, not a failure),
#        BUNDLE_ASR_WEIGHTS (int8, or original for a CUDA build),
#        BUNDLE_VOICE_WEIGHTS (float16, or original).
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE_VENV=${BUNDLE_VENV:-.venv-bundle}
DIST=${DIST:-dist}
BUNDLE_MAX_MB=${BUNDLE_MAX_MB:-500}
PY="$BUNDLE_VENV/bin/python"
say() { printf '[bundle] %s\n' "$*"; }

started=$(date +%s)
packaging/venv.sh
say "checking the embedded models against the catalog"
"$PY" packaging/bundlecheck.py models
say "running PyInstaller (onedir)"
rm -rf "$DIST/assistant"
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$DIST" \
  --workpath build/pyinstaller packaging/assistant.spec
app="$DIST/assistant"
say "checking the bundle"
"$PY" packaging/bundlecheck.py forbidden "$app"
dangling=$(find "$app" -xtype l)
[ -z "$dangling" ] || { say "error: links to nothing in the bundle: $dangling"; exit 1; }
"$PY" packaging/bundlecheck.py models --root "$app/_internal" \
  --catalog "$app/_internal/share/offline-voice-assistant/catalog.toml"
"$PY" packaging/licences.py --bundle "$app"
echo
"$PY" packaging/bundlecheck.py sizes "$app"
mb=$(du -sm --apparent-size "$app" | cut -f1)
if [ "$mb" -gt "$BUNDLE_MAX_MB" ]; then
  say "warning: $mb MB is above the goal of $BUNDLE_MAX_MB MB"
fi
say "built $app ($mb MB) in $(( $(date +%s) - started )) s; try: $app/assistant --self-test"
