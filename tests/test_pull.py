"""``assistant models pull`` against a local HTTP server: full pull, interruption and
resume, checksum failures, cancellation, the disk-space check, and the CLI."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from model_files import tiny_voice

import assistant.store.install
from assistant.cli import main
from assistant.errors import ChecksumError, DownloadError, ModelError
from assistant.store import Catalog, ModelStore, PullCancelled, human_size


def _voice() -> tuple[bytes, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        onnx = tiny_voice(Path(folder), "test-voice", extra_bytes=700_000)
        return onnx.read_bytes(), Path(f"{onnx}.json").read_bytes()


ONNX, CONFIG = _voice()  # a real (tiny) voice of several 256 KiB chunks, and its config
CUT_AT = 300_000


@dataclass
class Served:
    """What the test server holds and what it saw."""

    files: dict[str, bytes]
    honour_range: bool = True
    cut_after: int | None = None
    """Send only this many bytes of the next response, then drop the connection."""
    requests: list[tuple[str, int | None, int]] = field(default_factory=list)
    """(path, Range start or None, bytes sent) per request."""
    delay: float = 0.0
    """Seconds to wait after each 32 KiB sent: a slow link."""

    def sent(self, name: str) -> int:
        return sum(n for path, _, n in self.requests if path.endswith(name))


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    served = Served(
        {"voices/test/test-voice.onnx": ONNX, "voices/test/test-voice.onnx.json": CONFIG}
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            data = served.files.get(path)
            if data is None:
                self.send_error(404)
                return
            start, status = 0, 200
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if match and served.honour_range:
                start, status = int(match.group(1)), 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if served.cut_after is not None:
                body, served.cut_after = body[: served.cut_after], None
                self.close_connection = True
            if served.delay:
                for offset in range(0, len(body), 32768):
                    self.wfile.write(body[offset : offset + 32768])
                    time.sleep(served.delay)
            else:
                self.wfile.write(body)
            served.requests.append((path, start if match else None, len(body)))

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def _entry(model_id: str, onnx_sha: str | None) -> str:
    sha = f'sha256 = "{onnx_sha}"\n' if onnx_sha else ""
    return f"""
[[model]]
id = "{model_id}"
kind = "voice"
name = "Test voice"
licence = "CC0-1.0"
homepage = "https://example.org"
language = "en_US"
size = {len(ONNX) + len(CONFIG)}

[[model.files]]
path = "test-voice.onnx"
size = {len(ONNX)}
{sha}url = "voices/test/test-voice.onnx"

[[model.files]]
path = "test-voice.onnx.json"
size = {len(CONFIG)}
sha256 = "{_sha(CONFIG)}"
url = "voices/test/test-voice.onnx.json"
"""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def catalog_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog with a good entry, one whose sha256 is wrong, and one with no sha256."""
    path = tmp_path / "catalog.toml"
    path.write_text(
        _entry("test-voice", _sha(ONNX))
        + _entry("bad-voice", "0" * 64)
        + _entry("unsummed-voice", None)
    )
    monkeypatch.setenv("ASSISTANT_CATALOG", str(path))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def store(server, catalog_file: Path, tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "store", Catalog.load(catalog_file), hub_url=server[0])


def _parts(root: Path) -> list[Path]:
    return list(root.rglob("*.part"))


def test_pull_installs_a_model_that_verifies(store: ModelStore, server) -> None:
    seen: list[tuple[int, int | None]] = []
    model = store.pull("test-voice", progress=lambda done, total: seen.append((done, total)))
    assert model.source == "pulled" and model.kind == "voice"
    assert model.path == store.root / "test-voice" / "test-voice.onnx"
    assert model.path.read_bytes() == ONNX
    assert seen[-1] == (len(ONNX) + len(CONFIG),) * 2
    assert [m.id for m in store.installed()] == ["test-voice"]
    assert store.verified_state(model) == "verified"
    assert store.verify("test-voice").ok
    assert not (store.root / ".downloads" / "test-voice").exists()
    with pytest.raises(ModelError, match="already installed"):
        store.pull("test-voice")


def test_interrupted_pull_keeps_the_part_and_installs_nothing(store: ModelStore, server):
    server[1].cut_after = CUT_AT
    with pytest.raises(DownloadError) as info:
        store.pull("test-voice")
    assert "partial download is kept" in str(info.value)
    assert "assistant models pull test-voice" in (info.value.hint or "")
    (part,) = _parts(store.root)
    assert part.name == "test-voice.onnx.part" and part.stat().st_size == CUT_AT
    assert not (store.root / "test-voice").exists()
    assert store.installed() == []


def test_rerun_resumes_from_the_part(store: ModelStore, server) -> None:
    served = server[1]
    served.cut_after = CUT_AT
    with pytest.raises(DownloadError):
        store.pull("test-voice")
    model = store.pull("test-voice")
    assert model.path.read_bytes() == ONNX
    assert ("voices/test/test-voice.onnx", CUT_AT, len(ONNX) - CUT_AT) in served.requests
    assert served.sent("test-voice.onnx") == len(ONNX)  # not downloaded twice
    assert _parts(store.root) == []


def test_server_ignoring_range_restarts_the_file(store: ModelStore, server) -> None:
    served = server[1]
    served.cut_after, served.honour_range = CUT_AT, False
    with pytest.raises(DownloadError):
        store.pull("test-voice")
    model = store.pull("test-voice")
    assert model.path.read_bytes() == ONNX
    assert store.verify("test-voice").ok


def test_wrong_sha256_is_refused_and_leaves_nothing(store: ModelStore) -> None:
    with pytest.raises(ChecksumError) as info:
        store.pull("bad-voice")
    message = str(info.value)
    assert "test-voice.onnx" in message and "0" * 64 in message and _sha(ONNX) in message
    assert "nothing was installed" in message
    assert not (store.root / "bad-voice").exists()
    assert _parts(store.root) == []
    assert not (store.root / ".downloads" / "bad-voice").exists()


def test_a_download_that_is_no_model_is_refused_and_leaves_nothing(
    store: ModelStore, server
) -> None:
    # Same size, no checksum in the catalog: only the structural check can tell.
    server[1].files["voices/test/test-voice.onnx"] = b"GGUF" + ONNX[4:]
    with pytest.raises(ModelError) as info:
        store.pull("unsummed-voice")
    message = info.value.message
    assert "\n" not in message
    assert message.startswith("the download of unsummed-voice is not a usable model: ")
    assert "test-voice.onnx: not an ONNX model" in message and "nothing was installed" in message
    assert not (store.root / "unsummed-voice").exists()
    assert not (store.root / ".downloads" / "unsummed-voice").exists()


def test_catalog_without_sha256_records_the_computed_one(store: ModelStore) -> None:
    model = store.pull("unsummed-voice")
    manifest = (model.folder / "model.toml").read_text()
    assert _sha(ONNX) in manifest
    assert store.verify("unsummed-voice").ok


def test_cancel_stops_between_chunks_and_resume_finishes(store: ModelStore, server) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int | None) -> None:
        cancel.set()  # after the first chunk

    with pytest.raises(PullCancelled):
        store.pull("test-voice", progress=progress, cancel=cancel)
    (part,) = _parts(store.root)
    kept = part.stat().st_size
    assert 0 < kept < len(ONNX)
    assert not (store.root / "test-voice").exists()
    assert store.pull("test-voice").path.read_bytes() == ONNX
    # The resume asked for the rest only. (Membership, not position: the cancelled
    # request's handler thread may log after the later ones.)
    assert ("voices/test/test-voice.onnx", kept, len(ONNX) - kept) in server[1].requests


def test_not_enough_disk_space_fails_before_downloading(
    store: ModelStore, server, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage
    monkeypatch.setattr(
        assistant.store.install.shutil,
        "disk_usage",
        lambda path: real(path)._replace(free=1000),
    )
    needed = human_size(len(ONNX) + len(CONFIG)).replace(".", r"\.")
    with pytest.raises(DownloadError, match=f"needs {needed}"):
        store.pull("test-voice")
    assert server[1].requests == []


def test_http_error_names_the_url(store: ModelStore, server) -> None:
    del server[1].files["voices/test/test-voice.onnx.json"]
    with pytest.raises(DownloadError, match="HTTP 404"):
        store.pull("test-voice")
    assert not (store.root / "test-voice").exists()


def test_embedded_models_are_not_pulled(tmp_path: Path) -> None:
    store = ModelStore(tmp_path, Catalog.load(Path(__file__).parents[1] / "models/catalog.toml"))
    with pytest.raises(ModelError, match="already installed with the Python package"):
        store.pull("smollm2-135m-instruct")


def test_cli_pull_uses_the_configured_hub(
    server, catalog_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\nhub_url = "{server[0]}"\n')
    assert main(["--config", str(config), "models", "pull", "test-voice"]) == 0
    out = capsys.readouterr().out
    assert "pulled" in out and "test-voice" in out
    assert main(["--config", str(config), "models", "list"]) == 0
    out, _ = capsys.readouterr()
    row = next(line for line in out.splitlines() if "test-voice" in line)
    assert "verified" in row and "pulled" in row
    assert main(["--config", str(config), "models", "path", "test-voice"]) == 0
    assert capsys.readouterr().out.strip().endswith("test-voice/test-voice.onnx")


def test_cli_pull_failure_says_how_to_resume(
    server, catalog_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\nhub_url = "{server[0]}"\n')
    server[1].cut_after = CUT_AT
    assert main(["--config", str(config), "models", "pull", "test-voice"]) == 1
    err = capsys.readouterr().err
    assert "partial download is kept" in err and "again to resume" in err


def test_a_second_pull_of_the_same_model_is_refused_while_one_runs(store: ModelStore) -> None:
    import fcntl

    downloads = store.root / ".downloads"
    downloads.mkdir(parents=True)
    with open(downloads / "test-voice.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DownloadError, match="already running"):
            store.pull("test-voice")
    assert store.pull("test-voice").path.read_bytes() == ONNX


def test_the_model_manager_pulls_with_progress_and_cancel(
    qtbot, store: ModelStore, server, tmp_path: Path
) -> None:
    from PySide6.QtCore import Qt

    from assistant.config import Config, save_config
    from gui.controller import Controller, Services
    from gui.model_manager import ModelManager

    save_config(Config(), tmp_path / "config.toml")
    controller = Controller(Services(config_path=tmp_path / "config.toml", first_run=False))
    controller.store = store
    manager = ModelManager(controller)
    qtbot.addWidget(manager)
    served = server[1]
    served.delay = 0.05  # ~1 s for the whole file: time to see progress and cancel

    def pull() -> None:
        manager.catalog.setCurrentIndex(manager.catalog.findData("test-voice"))
        qtbot.mouseClick(manager.pull, Qt.MouseButton.LeftButton)

    pull()
    assert manager.cancel.isEnabled() and not manager.pull.isEnabled()
    qtbot.waitUntil(lambda: manager.progress.maximum() == 1000, timeout=10_000)
    qtbot.waitUntil(lambda: manager.progress.value() > 0, timeout=10_000)
    assert "of" in manager.progress.format()  # "320.0 KB of 700.1 KB"
    qtbot.mouseClick(manager.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not manager.cancel.isEnabled(), timeout=10_000)
    assert "cancel" in manager.status.text().lower()
    assert "test-voice" not in manager.installed_ids() and store.installed() == []
    assert manager.pull.isEnabled() and not manager.progress.isVisible()

    served.delay = 0.0  # the second pull resumes and finishes
    pull()
    qtbot.waitUntil(lambda: "test-voice" in manager.installed_ids(), timeout=10_000)
    assert "pulled test-voice" in manager.status.text().lower()
    assert store.verify("test-voice").ok
    assert any(start for path, start, _ in served.requests if path.endswith(".onnx"))
