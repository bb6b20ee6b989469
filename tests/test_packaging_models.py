"""The smaller forms the bundle stores two embedded models in, checked against the
originals on the real engines: whisper's weights in int8 (packaging/ct2int8.py) and the
Piper voice's weights in float16 (packaging/onnxfp16.py); and the build's helpers that
carry them (the bundle's own catalog, symbolic links for duplicate libraries)."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import packaging_script

from assistant.asr import WhisperTranscriber
from assistant.audio import read_audio

ROOT = Path(__file__).resolve().parents[1]
bundlecheck = packaging_script("bundlecheck")
ct2int8 = packaging_script("ct2int8")
onnxfp16 = packaging_script("onnxfp16")

SENTENCES = (
    "What is the capital of France?",
    "Remind me to call my sister after lunch tomorrow.",
    "The quick brown fox jumps over the lazy dog near the old mill.",
)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def int8_whisper(whisper_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("whisper-int8")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(whisper_dir / name, folder / name)
    count, size = ct2int8.quantize_file(whisper_dir / "model.bin", folder / "model.bin")
    assert count > 40
    assert size < 0.55 * (whisper_dir / "model.bin").stat().st_size
    return folder


def test_int8_whisper_transcribes_exactly_as_the_original_does_on_the_cpu(
    whisper_dir: Path, int8_whisper: Path, speak
) -> None:
    from faster_whisper import WhisperModel

    original = WhisperModel(str(whisper_dir), device="cpu", compute_type="int8", cpu_threads=2)
    stored = WhisperModel(str(int8_whisper), device="cpu", compute_type="int8", cpu_threads=2)
    for sentence in SENTENCES:
        wav = str(speak(sentence))
        runs = [list(m.transcribe(wav, beam_size=1, language="en")[0]) for m in (original, stored)]
        (a,), (b,) = runs  # one segment each
        assert a.tokens == b.tokens
        assert a.avg_logprob == b.avg_logprob  # the same arithmetic, not just close
        assert _words(a.text) == _words(sentence)


def test_ct2int8_refuses_what_it_cannot_quantize(int8_whisper: Path, tmp_path: Path) -> None:
    with pytest.raises(ct2int8.Ct2FormatError, match="already quantized"):
        ct2int8.quantize_file(int8_whisper / "model.bin", tmp_path / "again.bin")
    text = tmp_path / "model.bin"
    text.write_text("not a model")
    with pytest.raises(ct2int8.Ct2FormatError, match="version"):
        ct2int8.quantize_file(text, tmp_path / "out.bin")
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes((int8_whisper / "model.bin").read_bytes()[:5000])
    with pytest.raises(ct2int8.Ct2FormatError, match="truncated"):
        ct2int8.quantize_file(truncated, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


def test_float16_voice_says_the_same_words_with_the_same_waveform(
    piper_onnx: Path, whisper_dir: Path, tmp_path: Path
) -> None:
    from piper import PiperVoice, SynthesisConfig

    half = tmp_path / piper_onnx.name
    count, size = onnxfp16.convert_file(piper_onnx, half)
    assert count > 100 and size < 0.55 * piper_onnx.stat().st_size
    shutil.copy(
        piper_onnx.with_name(piper_onnx.name + ".json"), half.with_name(half.name + ".json")
    )
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    voices = [PiperVoice.load(path) for path in (piper_onnx, half)]
    transcriber = WhisperTranscriber(whisper_dir, device="cpu")
    for sentence in SENTENCES:
        a, b = (
            np.concatenate([c.audio_float_array for c in voice.synthesize(sentence, steady)])
            for voice in voices
        )
        assert abs(len(a) - len(b)) <= 0.01 * len(a)
        n = min(len(a), len(b))
        assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.999
        heard = []
        for audio, name in ((a, "a.wav"), (b, "b.wav")):
            sf.write(tmp_path / name, audio, 22050)
            heard.append(_words(transcriber.transcribe(read_audio(tmp_path / name)).text))
        assert heard[0] == heard[1]


def test_onnxfp16_refuses_what_it_cannot_convert(tmp_path: Path) -> None:
    bad = tmp_path / "voice.onnx"
    bad.write_bytes(b"\x00\x01 not protobuf" * 10)
    with pytest.raises(ValueError, match="not an ONNX model"):
        onnxfp16.convert_file(bad, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_the_bundle_catalog_states_the_stored_form(tmp_path: Path) -> None:
    catalog = (ROOT / "models" / "catalog.toml").read_text(encoding="utf-8")
    derived = tmp_path / "model.bin"
    derived.write_bytes(b"\1" * 1000)
    text = bundlecheck.with_file_replaced(catalog, "whisper-tiny.en", "model.bin", derived)
    before = {m["id"]: m for m in tomllib.loads(catalog)["model"]}
    after = {m["id"]: m for m in tomllib.loads(text)["model"]}
    whisper = after["whisper-tiny.en"]
    files = {f["path"]: f for f in whisper["files"]}
    assert files["model.bin"]["size"] == 1000
    assert files["model.bin"]["sha256"] == bundlecheck._sha256(derived)
    assert whisper["size"] == sum(f["size"] for f in whisper["files"])
    assert whisper["size"] == before["whisper-tiny.en"]["size"] - 75537502 + 1000
    for model_id, entry in before.items():  # nothing else changed
        if model_id != "whisper-tiny.en":
            assert after[model_id] == entry
    with pytest.raises(bundlecheck.BundleError, match=r"no file tokenizer\.bin"):
        bundlecheck.with_file_replaced(catalog, "whisper-tiny.en", "tokenizer.bin", derived)


def test_identical_copies_of_a_library_become_links(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("libx.so", "libx.so.0", "libx.so.0.1.2"):
        (lib / name).write_bytes(b"same bytes" * 100)
    (lib / "liby.so").write_bytes(b"other byte" * 100)  # same size, other content
    entries = [(f"pkg/lib/{p.name}", str(p), "BINARY") for p in sorted(lib.iterdir())]
    result = {name: (source, kind) for name, source, kind in bundlecheck.linked_duplicates(entries)}
    assert result["pkg/lib/libx.so.0.1.2"] == (str(lib / "libx.so.0.1.2"), "BINARY")
    assert result["pkg/lib/libx.so"] == ("libx.so.0.1.2", "SYMLINK")
    assert result["pkg/lib/libx.so.0"] == ("libx.so.0.1.2", "SYMLINK")
    assert result["pkg/lib/liby.so"] == (str(lib / "liby.so"), "BINARY")


def test_dropping_a_library_drops_what_only_it_needed_transitively(tmp_path: Path) -> None:
    # Real system libraries: libjack links libdb; the bundle keeps PortAudio.
    system = Path("/usr/lib/x86_64-linux-gnu")
    names = ("libjack.so.0", "libdb-5.3.so", "libportaudio.so.2")
    jack, db, portaudio = (system / name for name in names)
    entries = [(p.name, str(p), "BINARY") for p in (portaudio, db)]
    kept = bundlecheck.without_orphans(entries, [(jack.name, str(jack), "BINARY")])
    assert [name for name, _, _ in kept] == ["libportaudio.so.2"]  # libdb went with libjack
    # A library still linked by a kept one stays.
    kept = bundlecheck.without_orphans([*entries, (jack.name, str(jack), "BINARY")], [])
    assert len(kept) == 3


def test_links_whose_target_was_left_out_are_dropped() -> None:
    binaries = [
        ("PySide6/Qt/lib/libQt6Core.so.6", "/src/core", "BINARY"),
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
        ("libQt6Network.so.6", "PySide6/Qt/lib/libQt6Network.so.6", "SYMLINK"),
        ("pkg/lib/liba.so", "liba.so.0", "SYMLINK"),
        ("pkg/lib/liba.so.0", "/src/a", "BINARY"),
    ]
    names = [n for n, _, _ in bundlecheck.without_dangling_links(binaries)]
    assert names == [
        "PySide6/Qt/lib/libQt6Core.so.6", "libQt6Core.so.6", "pkg/lib/liba.so", "pkg/lib/liba.so.0",
    ]  # fmt: skip
