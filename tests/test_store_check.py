"""Structural checks of model files (assistant/store/check.py): a truncated, empty,
wrong-format or wrong-kind file is refused at import with one line naming it, leaving the
store as it was; a file damaged after it entered the store is reported by verify, for
imported, pulled and embedded models. Every file is generated here, from the real models
or by the formats' own writers."""

from __future__ import annotations

import os
import shutil
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from model_files import (
    emptied,
    shorten_in_place,
    tiny_checkpoint,
    tiny_gguf,
    tiny_voice,
    tiny_wake,
    truncated,
)
from test_store import store_entries

from assistant.errors import ModelError
from assistant.store import KINDS, Catalog, ModelStore
from assistant.store.check import CHECKS, check_model
from assistant.store.manifest import Manifest


def _whisper_copy(whisper_dir: Path, target: Path, model_bin: Callable[[Path], None]) -> Path:
    """The embedded whisper folder's small files, and a model.bin made by ``model_bin``."""
    target.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(whisper_dir / name, target / name)
    model_bin(target / "model.bin")
    return target


def _ct2_header(path: Path, spec: str) -> None:
    """A complete model.bin (no variables) of another CTranslate2 spec."""
    name = spec.encode() + b"\0"
    path.write_bytes(struct.pack("<IH", 6, len(name)) + name + struct.pack("<III", 1, 0, 0))


def _voice_json_for(onnx: Path, like: Path) -> Path:
    shutil.copy(f"{like}.json", f"{onnx}.json")
    return onnx


# Each case: (kind, what it is, builder(tmp, fixtures) -> path to import, words the error
# must contain). Builders take the real embedded models from `real`.
Real = dict[str, Path]
CASES: list[tuple[str, str, Callable[[Path, Real], Path], str]] = [
    ("llm", "truncated in the tensor data",
     lambda t, r: truncated(r["gguf"], t / "t.gguf", 3_000_000), "truncated"),
    ("llm", "truncated in the metadata", lambda t, r: truncated(r["gguf"], t / "m.gguf", 300_000),
     "truncated"),
    ("llm", "zero-length", lambda t, r: emptied(t / "e.gguf"), "is empty"),
    ("llm", "wrong magic", lambda t, r: truncated(r["vad"], t / "w.gguf", 10_000),
     "not a GGUF file"),
    ("llm", "wrong kind (a voice)", lambda t, r: tiny_voice(t), "not a .gguf file"),
    ("llm", "a GGUF that is no model", lambda t, r: tiny_gguf(t / "n.gguf", arch=None),
     "general.architecture"),
    ("voice", "truncated", lambda t, r: _voice_json_for(
        truncated(r["voice"], t / "v.onnx", 1_000_000), r["voice"]), "truncated"),
    ("voice", "zero-length", lambda t, r: _voice_json_for(emptied(t / "v.onnx"), r["voice"]),
     "is empty"),
    ("voice", "wrong magic", lambda t, r: _voice_json_for(
        truncated(r["gguf"], t / "v.onnx", 10_000), r["voice"]), "not an ONNX model"),
    ("voice", "wrong kind (the VAD)", lambda t, r: _voice_json_for(
        truncated(r["vad"], t / "v.onnx", 10**9), r["voice"]), "not a Piper/VITS voice"),
    ("voice", "a config of another voice", lambda t, r: _voice_json_for(
        tiny_voice(t, "mine", with_json=False), r["voice"]), "does not match"),
    ("vad", "truncated", lambda t, r: truncated(r["vad"], t / "s.onnx", 600_000), "truncated"),
    ("vad", "zero-length", lambda t, r: emptied(t / "s.onnx"), "is empty"),
    ("vad", "wrong magic", lambda t, r: truncated(r["gguf"], t / "s.onnx", 10_000),
     "not an ONNX model"),
    ("vad", "wrong kind (a voice)", lambda t, r: tiny_voice(t), "not a Silero VAD"),
    ("asr", "truncated model.bin", lambda t, r: _whisper_copy(
        r["whisper"], t / "w", lambda p: truncated(r["whisper"] / "model.bin", p, 1_000_000)),
     "truncated"),
    ("asr", "zero-length model.bin", lambda t, r: _whisper_copy(r["whisper"], t / "w", emptied),
     "is empty"),
    ("asr", "wrong magic", lambda t, r: _whisper_copy(
        r["whisper"], t / "w", lambda p: truncated(r["gguf"], p, 10_000)),
     "not a CTranslate2 model"),
    ("asr", "wrong kind (a translation model)", lambda t, r: _whisper_copy(
        r["whisper"], t / "w", lambda p: _ct2_header(p, "TransformerSpec")), "TransformerSpec"),
    ("voice-base", "truncated", lambda t, r: truncated(
        tiny_checkpoint(t / "full.pt"), t / "c.pt", 600), "truncated or damaged"),
    ("voice-base", "zero-length", lambda t, r: emptied(t / "c.pt"), "is empty"),
    ("voice-base", "wrong magic", lambda t, r: truncated(r["gguf"], t / "c.pth", 10_000),
     "not a PyTorch checkpoint"),
    ("voice-base", "wrong kind (a zip of something else)", lambda t, r: _zip_without_pickle(
        t / "c.pth"), "no data.pkl"),
    ("wake", "truncated", lambda t, r: _wake_json_for(
        truncated(tiny_wake(t / "full"), t / "k.onnx", 3000)), "truncated"),
    ("wake", "zero-length", lambda t, r: _wake_json_for(emptied(t / "k.onnx")), "is empty"),
    ("wake", "wrong kind (the VAD)", lambda t, r: _wake_json_for(
        truncated(r["vad"], t / "k.onnx", 10**9)), "not a custom wake word classifier"),
    ("wake", "without its config", lambda t, r: _without_json(tiny_wake(t)),
     ".onnx.json is missing"),
    ("wake", "a voice's config", lambda t, r: _voice_json_for(tiny_wake(t), r["voice"]),
     "not a wake model config"),
]  # fmt: skip


def _wake_json_for(onnx: Path) -> Path:
    like = tiny_wake(onnx.parent / "like")
    shutil.copy(f"{like}.json", f"{onnx}.json")
    return onnx


def _without_json(onnx: Path) -> Path:
    Path(f"{onnx}.json").unlink()
    return onnx


def _zip_without_pickle(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a model")
    return path


@pytest.fixture(scope="session")
def real(gguf_path: Path, piper_onnx: Path, vad_onnx: Path, whisper_dir: Path) -> Real:
    return {"gguf": gguf_path, "voice": piper_onnx, "vad": vad_onnx, "whisper": whisper_dir}


@pytest.mark.parametrize(("kind", "what", "build", "words"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])  # fmt: skip
def test_a_broken_file_is_refused_at_import_and_the_store_is_unchanged(
    store: ModelStore, tmp_path: Path, real: Real, kind: str, what: str, build, words: str
) -> None:
    path = build(tmp_path, real)
    before = [m.id for m in store.installed()]
    with pytest.raises(ModelError) as info:
        store.import_path(path, kind)
    message = info.value.message
    assert words in message, message
    assert "\n" not in message and str(path) in message  # one line naming the file
    assert store_entries(store.root) == []
    assert [m.id for m in store.installed()] == before


def test_the_cli_refuses_the_issue_s_truncated_gguf(tmp_path: Path, gguf_path: Path, cli) -> None:
    # The report: the first 3,000,000 bytes of the embedded SmolLM2 were imported and
    # verified "ok".
    path = truncated(gguf_path, tmp_path / "truncated.gguf", 3_000_000)
    code, out, err = cli("models", "import", str(path), "--kind", "llm")
    assert code == 1 and "imported" not in out
    error = err.splitlines()[0]
    assert error.startswith(f"error: {path}: truncated: tensor ")
    assert "the file ends at byte 3000000" in error
    assert err.splitlines()[1].startswith("hint: ")
    assert store_entries(Path(os.environ["ASSISTANT_MODELS_DIR"])) == []
    code, out, _ = cli("models", "list", "--kind", "llm")
    assert "truncated" not in out


def test_good_generated_models_of_every_kind_pass(tmp_path: Path, real: Real) -> None:
    check_model("llm", tiny_gguf(tmp_path / "t.gguf"))
    check_model("llm", real["gguf"])
    check_model("voice", tiny_voice(tmp_path))
    check_model("voice", real["voice"])
    check_model("vad", real["vad"])
    check_model("asr", real["whisper"])
    check_model("voice-base", tiny_checkpoint(tmp_path / "c.pt"))
    check_model("wake", tiny_wake(tmp_path / "wake"))


def test_every_kind_has_a_structural_check() -> None:
    assert set(CHECKS) == set(KINDS)


def test_the_gguf_check_reads_the_index_not_the_weights(real: Real) -> None:
    # 98 MB of weights; the index (tokenizer included) is ~2 MB at the front.
    start = time.perf_counter()
    check_model("llm", real["gguf"])
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- verify after the fact


def _damage(path: Path) -> None:
    shorten_in_place(path, 1000)


@pytest.mark.parametrize("kind", ["llm", "voice", "vad", "voice-base"])
def test_verify_reports_a_file_damaged_after_import(
    store: ModelStore, tmp_path: Path, real: Real, kind: str, cli
) -> None:
    source = {
        "llm": lambda: tiny_gguf(tmp_path / "m.gguf", rows=256),
        "voice": lambda: tiny_voice(tmp_path, extra_bytes=20_000),
        "vad": lambda: real["vad"],
        "voice-base": lambda: tiny_checkpoint(tmp_path / "m.pt"),
    }[kind]()
    model = store.import_path(source, kind, id="damaged")
    assert store.verify("damaged").ok
    _damage(model.path)
    result = store.verify("damaged")
    assert not result.ok
    structural = [p for p in result.problems if "size mismatch" not in p]
    assert len(structural) == 1 and structural[0].startswith(f"{model.path.name}: ")
    code, out, _ = cli("models", "verify", "damaged")
    assert code == 1 and "damaged: FAILED" in out and structural[0] in out


def test_verify_reports_a_damaged_asr_model_bin(
    store: ModelStore, tmp_path: Path, real: Real
) -> None:
    folder = _whisper_copy(real["whisper"], tmp_path / "w",
                           lambda p: shutil.copy(real["whisper"] / "model.bin", p))  # fmt: skip
    store.import_path(folder, "asr", id="whisper-damaged")
    _damage(store.root / "whisper-damaged" / "model.bin")
    result = store.verify("whisper-damaged")
    assert any(p.startswith("model.bin: truncated") for p in result.problems), result.problems


def _install_unchecked(store: ModelStore, folder: Path, kind: str, model_id: str,
                       source: str) -> None:  # fmt: skip
    """Put a folder into the store with a manifest but no structural check, as a pull,
    an older version of the store, or a hand copy could have."""
    from assistant.store.install import hash_into, list_files
    from assistant.store.manifest import find_main

    target = store.root / model_id
    shutil.copytree(folder, target)
    files = list_files(target)
    hash_into(target, files, Manifest(
        id=model_id, kind=kind, name=model_id, licence="MIT", source=source,
        main=find_main(kind, files, model_id), files=(),
    ))  # fmt: skip


def test_verify_catches_a_broken_model_whose_checksums_match(
    store: ModelStore, tmp_path: Path, gguf_path: Path, cli
) -> None:
    # Imported before imports were checked (or pulled from a hub file that was broken
    # from the start): the checksums match the manifest, the structure does not.
    folder = tmp_path / "old"
    folder.mkdir()
    truncated(gguf_path, folder / "old.gguf", 3_000_000)
    _install_unchecked(store, folder, "llm", "old-import", "imported")
    result = store.verify("old-import")
    assert not result.ok and len(result.problems) == 1
    assert result.problems[0].startswith("old.gguf: truncated: tensor ")
    assert store.verified_state(store.get("old-import")) == "failed"
    _, out, _ = cli("models", "list", "--kind", "llm")
    row = next(line for line in out.splitlines() if "old-import" in line)
    assert "failed" in row and "verified" not in row


def test_verify_reports_a_pulled_model_damaged_after_the_pull(
    store: ModelStore, tmp_path: Path, real: Real
) -> None:
    folder = tmp_path / "hub"
    folder.mkdir()
    tiny_voice(folder, "hub-voice", extra_bytes=20_000)
    _install_unchecked(store, folder, "voice", "hub-voice", "pulled")
    model = store.get("hub-voice")
    assert model.source == "pulled" and store.verify("hub-voice").ok
    _damage(model.path)
    problems = store.verify("hub-voice").problems
    assert any(p.startswith("hub-voice.onnx: truncated") for p in problems), problems


def test_verify_runs_the_structural_check_on_embedded_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The embedded files must not be touched: instead a catalog declares the embedded
    # Piper voice to be a VAD. Its checksum matches; its structure is not a VAD's.
    real = Catalog.load().get("piper-en_US-joe-medium")
    onnx = real.files[0]
    (tmp_path / "catalog.toml").write_text(
        f'[[model]]\nid = "joe-as-vad"\nkind = "vad"\nname = "Joe as a VAD"\nlicence = "MIT"\n'
        f'package = "{real.package}"\npackage_dir = "{real.package_dir}"\n'
        f'files = [{{ path = "{onnx.path}", size = {onnx.size}, sha256 = "{onnx.sha256}" }}]\n'
    )
    monkeypatch.setenv("ASSISTANT_CATALOG", str(tmp_path / "catalog.toml"))
    store = ModelStore(tmp_path / "store", Catalog.load())
    result = store.verify("joe-as-vad")
    assert not result.ok and len(result.problems) == 1
    assert result.problems[0].startswith("en_US-joe-medium.onnx: not a Silero VAD")


def test_an_old_style_torch_checkpoint_passes_and_a_plain_pickle_does_not(
    tmp_path: Path,
) -> None:
    import pickle

    import torch

    old = tmp_path / "old.pth"
    torch.save({"model": {"w": torch.zeros(2)}}, old, _use_new_zipfile_serialization=False)
    check_model("voice-base", old)
    plain = tmp_path / "plain.pth"
    plain.write_bytes(pickle.dumps({"model": {}}))
    with pytest.raises(ModelError, match="a pickle but not a PyTorch checkpoint"):
        check_model("voice-base", plain)
