"""`prepare` on real human speech: Debian's Asterisk prompts (one professional speaker),
fetched by the test itself, keep their sentence prompts and get a full report."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from training.voice.prepare import PrepareOptions, prepare

pytestmark = pytest.mark.timeout(900)


# A fixed subset: every sentence prompt of the package would take ~3 minutes of ASR
# checking on 2 cores; 60 of them, spread evenly over the sorted names, take ~30 s.
ASTERISK_SUBSET = 60


@pytest.fixture(scope="module")
def asterisk_prompts(tmp_path_factory) -> tuple[Path, int]:
    """Allison Smith's Asterisk prompts (Debian, CC-BY-SA-3.0), fetched with apt-get
    download, decoded from G.722 with ffmpeg: a folder of WAVs + metadata.csv."""
    work = tmp_path_factory.mktemp("asterisk")
    subprocess.run(
        ["apt-get", "download", "asterisk-core-sounds-en-g722", "asterisk-core-sounds-en"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    for deb in work.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(work / "x")], check=True)
    doc = work / "x/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
    sounds = next((work / "x/usr/share/asterisk/sounds").glob("en*"))
    prompts = {}
    with gzip.open(doc, "rt", encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    for line in lines:
        name, sep, text = line.partition(":")
        text = text.strip()
        # Notes in brackets or parentheses ("(10 seconds of silence)") are not prompts.
        if not sep or line.startswith(";") or text[:1] in "[(" or len(text.split()) < 4:
            continue
        if (sounds / f"{name.strip()}.g722").is_file():
            prompts[name.strip()] = text
    names = sorted(prompts)
    chosen = names[:: max(1, len(names) // ASTERISK_SUBSET)][:ASTERISK_SUBSET]
    rec = work / "rec"
    rec.mkdir()
    rows = []
    for name in chosen:
        uid = name.replace("/", "_")
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "g722",
                "-i",
                str(sounds / f"{name}.g722"),
                "-ar",
                "16000",
                str(rec / f"{uid}.wav"),
            ],
            check=True,
        )
        rows.append(f"{uid}|{prompts[name]}")
    (rec / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return rec, len(chosen)


def test_prepare_keeps_real_human_recordings(asterisk_prompts, tmp_path, vad, transcriber):
    rec, count = asterisk_prompts
    assert count == ASTERISK_SUBSET
    report = prepare(PrepareOptions(rec, tmp_path / "data"), vad, transcriber)
    rejected_files = {r.file for r in report.rejected}
    kept_prompts = count - len(rejected_files)
    assert kept_prompts >= 0.95 * count, report.to_text()
    data = report.to_dict()
    assert data["minutes"] > 1.0
    assert data["coverage"]["ratio"] > 0.85
    assert isinstance(data["rejected_by_reason"], dict)
    print(
        f"\nAsterisk subset: {kept_prompts}/{count} prompts kept, {data['minutes']} min, "
        f"coverage {data['coverage']['ratio']:.0%}, rejected {data['rejected_by_reason']}"
    )
