"""Real human speech for the fine-tune benchmark: Debian's Asterisk prompts (one
professional female speaker, CC-BY-SA-3.0), fetched with ``apt-get download`` (only when
the benchmark is asked to), unpacked with ``dpkg -x``, decoded from G.722 with ffmpeg
into a dataset folder (LJSpeech layout, 16 kHz: the fit resamples it to the voice's rate).
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
from pathlib import Path

from assistant.errors import AssistantError

__all__ = ["asterisk_dataset"]

log = logging.getLogger(__name__)

_PACKAGES = ("asterisk-core-sounds-en-g722", "asterisk-core-sounds-en")


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        raise AssistantError(
            f"{cmd[0]} failed: {err.decode(errors='replace').strip()[-200:] or exc}",
            hint="the benchmark needs apt-get (with Debian's package lists), dpkg and ffmpeg",
        ) from exc


def asterisk_dataset(work: Path, limit: int | None = None) -> Path:
    """A dataset folder of the sentence prompts (at most ``limit``, spread evenly over
    the sorted names); reused when already made under ``work``."""
    work = Path(work)
    data = work / "data"
    if (data / "metadata.csv").is_file():
        return data
    work.mkdir(parents=True, exist_ok=True)
    if not list(work.glob("asterisk-core-sounds-en-g722_*.deb")):
        _run(["apt-get", "download", *_PACKAGES], cwd=work)
    for deb in work.glob("*.deb"):
        _run(["dpkg", "-x", str(deb), str(work / "x")])
    doc = work / "x/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
    sounds = next((work / "x/usr/share/asterisk/sounds").glob("en*"))
    prompts: dict[str, str] = {}
    with gzip.open(doc, "rt", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            name, sep, text = line.partition(":")
            text = text.strip()
            # Bracketed notes ("[tone]", "(silence)") and single words are not sentences.
            if not sep or line.startswith(";") or text[:1] in "[(" or len(text.split()) < 4:
                continue
            if (sounds / f"{name.strip()}.g722").is_file():
                prompts[name.strip()] = text
    names = sorted(prompts)
    if limit:
        names = names[:: max(1, len(names) // limit)][:limit]
    tmp = work / "data.tmp"
    (tmp / "wavs").mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        uid = name.replace("/", "_")
        _run(
            [
                "ffmpeg", "-y", "-v", "error", "-f", "g722", "-i", str(sounds / f"{name}.g722"),
                "-ar", "16000", str(tmp / "wavs" / f"{uid}.wav"),
            ]
        )  # fmt: skip
        text = prompts[name].replace("|", " ")
        rows.append(f"{uid}|{text}|{text}")
    (tmp / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp / "report.json").write_text(json.dumps({"language": "en-us"}), encoding="utf-8")
    tmp.rename(data)
    log.info("%d Asterisk prompts in %s", len(rows), data)
    return data
