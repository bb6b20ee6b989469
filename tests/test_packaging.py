"""The installers: the build's checks on small fake folders, the licence collection, the
self-test from the source tree, and (slow) the real bundle, its .deb installed into a
clean Debian root, and the self-test of both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import packaging_script

from assistant.audio import Audio, write_wav
from assistant.selftest import QUESTION_WAV, SelfTestError, run_self_test

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


bundlecheck = packaging_script("bundlecheck")
licences = packaging_script("licences")


def _headless_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


# ---------------------------------------------------------------------- forbidden content


def test_forbidden_paths_finds_torch_and_training_in_a_bundle(tmp_path: Path) -> None:
    inner = tmp_path / "_internal"
    (inner / "torch" / "lib").mkdir(parents=True)
    (inner / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"\0")
    (inner / "training" / "llm").mkdir(parents=True)
    (inner / "torch-2.9.1.dist-info").mkdir()
    (inner / "numpy").mkdir()
    found = bundlecheck.forbidden_paths(tmp_path)
    assert "_internal/torch" in found
    assert "_internal/training" in found
    assert "_internal/torch-2.9.1.dist-info" in found
    assert "_internal/torch/lib/libtorch_cpu.so" in found
    assert not any("numpy" in f for f in found)


def test_forbidden_check_fails_loudly_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "_internal" / "training").mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, str(PACKAGING / "bundlecheck.py"), "forbidden", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "contains torch or the training package" in done.stderr
    assert "_internal/training" in done.stderr


def test_a_clean_folder_passes_the_forbidden_check(tmp_path: Path) -> None:
    (tmp_path / "_internal" / "assistant").mkdir(parents=True)
    (tmp_path / "_internal" / "torchvision_not").mkdir()  # a prefix is not a match
    assert bundlecheck.forbidden_paths(tmp_path) == []


def test_forbidden_modules_names_torch_and_training_submodules() -> None:
    names = ["assistant.cli", "torch.nn.functional", "training.llm.cli", "torchvision", "gui"]
    assert bundlecheck.forbidden_modules(names) == ["torch.nn.functional", "training.llm.cli"]


# ---------------------------------------------------------------------- model checksums


def test_the_embedded_models_match_the_catalog() -> None:
    models = bundlecheck.embedded_models(ROOT / "models" / "catalog.toml")
    assert {m.id for m in models} == {
        "whisper-tiny.en", "smollm2-135m-instruct", "piper-en_US-joe-medium", "silero-vad-v6",
    }  # fmt: skip
    assert bundlecheck.check_model_files(models) > 200_000_000


def _fake_catalog(tmp_path: Path, sha256: str) -> Path:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[[model]]\nid = "silero-vad-v6"\nkind = "vad"\nname = "VAD"\nlicence = "MIT"\n'
        'homepage = ""\nlanguage = "multi"\nsize = 1245151\ndefault = true\n'
        'package = "faster-whisper"\npackage_dir = "faster_whisper/assets"\n'
        f'files = [{{ path = "silero_vad_v6.onnx", size = 1245151, sha256 = "{sha256}" }}]\n',
        encoding="utf-8",
    )
    return catalog


def test_a_checksum_mismatch_fails_the_build_with_the_file_named(tmp_path: Path) -> None:
    models = bundlecheck.embedded_models(_fake_catalog(tmp_path, "0" * 64))
    with pytest.raises(bundlecheck.BundleError) as err:
        bundlecheck.check_model_files(models)
    assert "silero_vad_v6.onnx" in str(err.value)
    assert "catalog says " + "0" * 64 in str(err.value)


def test_a_damaged_model_inside_a_built_bundle_is_caught(tmp_path: Path) -> None:
    catalog = ROOT / "models" / "catalog.toml"
    vad = next(m for m in bundlecheck.embedded_models(catalog) if m.id == "silero-vad-v6")
    source, inside, _ = vad.files[0]
    copy = tmp_path / inside
    copy.parent.mkdir(parents=True)
    data = bytearray(source.read_bytes())
    data[1000] ^= 0xFF  # one flipped byte
    copy.write_bytes(bytes(data))
    with pytest.raises(bundlecheck.BundleError, match="damaged or not the catalogued one"):
        bundlecheck.check_model_files([vad], root=tmp_path)
    copy.unlink()
    with pytest.raises(bundlecheck.BundleError, match="is missing"):
        bundlecheck.check_model_files([vad], root=tmp_path)


def test_a_model_without_a_checksum_cannot_be_embedded(tmp_path: Path) -> None:
    catalog = _fake_catalog(tmp_path, "x").read_text().replace(', sha256 = "x"', "")
    (tmp_path / "catalog.toml").write_text(catalog)
    with pytest.raises(bundlecheck.BundleError, match="states no sha256"):
        bundlecheck.embedded_models(tmp_path / "catalog.toml")


def test_size_report_lists_the_largest_parts_first(tmp_path: Path) -> None:
    inner = tmp_path / "_internal"
    (inner / "big").mkdir(parents=True)
    (inner / "big" / "a.bin").write_bytes(b"\0" * 3_000_000)
    (inner / "small.so").write_bytes(b"\0" * 1_000_000)
    report = bundlecheck.size_report(tmp_path).splitlines()
    assert "4.0 MB in all" in report[0]
    assert report[1].endswith("big/") and "75.0 %" in report[1]
    assert report[2].endswith("small.so")


# ---------------------------------------------------------------------- licences


def test_licences_come_from_the_installed_metadata(tmp_path: Path) -> None:
    packages = {p.name.lower(): p for p in licences.collect()}
    # The runtime's libraries are there, with what their metadata states.
    for name in ("numpy", "onnxruntime", "faster-whisper", "piper-tts", "llama_cpp_python"):
        assert name.replace("_", "-") in {k.replace("_", "-") for k in packages}, name
    assert "GPL-3.0" in packages["piper-tts"].licence
    assert packages["numpy"].files, "numpy ships licence files"
    # No training package: the walk starts from the runtime, without extras.
    assert "torch" not in packages and "transformers" not in packages
    # Left out of the bundle on purpose, so not listed as shipped.
    assert "av" not in packages and "hf-xet" not in packages
    app = tmp_path / "app"
    app.mkdir()
    listed = [p for p in packages.values() if p.name.lower() in ("numpy", "piper-tts")]
    licences.write_bundle(app, listed, ROOT / "models" / "catalog.toml")
    assert (app / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert any((app / "licenses" / "numpy").iterdir())
    third = (app / "THIRD_PARTY_LICENSES.md").read_text()
    assert "| piper-tts |" in third and "smollm2-135m-instruct" in third
    models = (app / "MODEL_LICENSES.md").read_text()
    assert "Apache-2.0" in models and "CC0-1.0" in models


# ---------------------------------------------------------------------- self-test


def test_self_test_passes_from_the_source_tree() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "--self-test"],
        capture_output=True, text=True, env=_headless_env(), timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("models", "devices", "engines", "turn", "window"):
        assert f"ok  {step}" in done.stdout
    assert "heard 'What is the capital of France?'" in done.stdout
    assert "self-test passed" in done.stdout


def test_self_test_fails_clearly_when_the_question_is_silent(tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    write_wav(silent, Audio(np.zeros(32000, np.float32), 16000))
    lines: list[str] = []
    with pytest.raises(SelfTestError) as err:
        run_self_test(gui=False, out=lines.append, wav=silent)
    assert "self-test step 'turn' failed" in err.value.message
    assert "no speech" in err.value.message
    assert any("ok  engines" in line for line in lines)
    assert QUESTION_WAV.is_file()


# ---------------------------------------------------------------------- the real bundle


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~6 min on 2 idle cores; a cold pip cache compiles llama.cpp
def test_bundle_and_deb_self_test_headless_in_a_clean_debian_root() -> None:
    """`make bundle-test`: build the bundle (fails on torch/training or a bad checksum),
    run its self-test, make the .deb and .tar.gz, install the .deb into a fresh
    debootstrap root with no Python and run the installed self-test there."""
    env = _headless_env()
    env.setdefault("LEVEL", "1")  # the packages' compression: fast in tests
    # The machine's caches, not the test's isolated one: pip's (the llama.cpp wheel built
    # by setup, else a 6-minute compile) and the clean Debian root's tarball.
    env.pop("XDG_CACHE_HOME", None)
    build = subprocess.run(
        ["packaging/build.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=1200, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "forbidden: no torch" in build.stdout
    assert "match the catalog in dist/assistant/_internal" in build.stdout
    assert "MB in all" in build.stdout
    app = ROOT / "dist" / "assistant" / "assistant"
    run = subprocess.run(
        [str(app), "--self-test"], env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"bundle {app.parent}" in run.stdout
    assert "self-test passed" in run.stdout
    packages = subprocess.run(
        ["packaging/linux/make_packages.sh"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=900, check=False,
    )  # fmt: skip
    assert packages.returncode == 0, packages.stdout + packages.stderr
    out = ROOT / "dist" / "packages"
    sums = (out / "SHA256SUMS").read_text()
    assert ".deb" in sums and ".tar.gz" in sums
    chroot = subprocess.run(
        ["packaging/linux/test_in_chroot.sh"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert chroot.returncode == 0, chroot.stdout[-3000:] + chroot.stderr[-3000:]
    assert "bundle /opt/offline-voice-assistant" in chroot.stdout
    assert "self-test passed" in chroot.stdout
    for output in (build.stdout, packages.stdout, chroot.stdout):  # the times, for -s / -rA
        print("\n".join(x for x in output.splitlines() if " in " in x and " s" in x))


# ---------------------------------------------------------------------- GPU fallback


def test_a_cuda_build_without_cuda_libraries_falls_back_to_the_cpu_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # No GPU here: onnxruntime-gpu's provider list is simulated; the probe then tries to
    # load the real provider library, which this CPU install lacks.
    import onnxruntime

    from assistant import devices

    monkeypatch.setattr(
        onnxruntime, "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )  # fmt: skip
    devices.cuda_support.cache_clear()
    try:
        support = devices.cuda_support("tts")
        assert not support.available and support.cuda_build
        assert "CUDA libraries are missing" in support.reason
        with caplog.at_level("WARNING", logger="assistant.devices"):
            assert devices.resolve_device("tts", "auto") == "cpu"
        assert "CUDA build installed but unavailable" in caplog.text
    finally:
        devices.cuda_support.cache_clear()


def test_a_cpu_build_picks_the_cpu_quietly(caplog: pytest.LogCaptureFixture) -> None:
    from assistant import devices

    devices.cuda_support.cache_clear()
    with caplog.at_level("WARNING", logger="assistant.devices"):
        assert devices.resolve_device("tts", "auto") == "cpu"
    assert caplog.text == ""
