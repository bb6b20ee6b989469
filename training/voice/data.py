"""Reading a prepared (LJSpeech-layout) dataset for training and evaluation."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..common import TrainError

__all__ = ["Utterance", "dataset_language", "read_metadata", "short_enough", "split_heldout"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Utterance:
    """One recording of a dataset."""

    id: str
    """File stem under ``wavs/``."""
    text: str
    """What is said (the normalised column of metadata.csv)."""
    wav: Path
    """The audio file."""


def read_metadata(data_dir: Path) -> list[Utterance]:
    """The utterances of an LJSpeech folder: ``metadata.csv`` (``id|text|normalised``,
    no header) and ``wavs/<id>.wav``.

    Raises:
        TrainError: the folder is not such a dataset, or a listed file is missing.
    """
    data_dir = Path(data_dir)
    meta = data_dir / "metadata.csv"
    if not meta.is_file():
        raise TrainError(
            f"{data_dir} is not a prepared dataset: metadata.csv is missing",
            hint="run `assistant train voice prepare` on your recordings first",
        )
    found: list[Utterance] = []
    missing: list[str] = []
    with open(meta, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
            if not row or not row[0].strip():
                continue
            uid = row[0].strip()
            text = row[2] if len(row) > 2 and row[2].strip() else row[1] if len(row) > 1 else ""
            wav = data_dir / "wavs" / f"{uid}.wav"
            if not wav.is_file():
                missing.append(uid)
                continue
            found.append(Utterance(uid, text.strip(), wav))
    if missing:
        raise TrainError(
            f"{meta} lists {len(missing)} recording(s) with no file under wavs/: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}",
            hint="re-run `assistant train voice prepare`, or remove those lines",
        )
    if not found:
        raise TrainError(f"{meta} lists no recordings")
    return found


def dataset_language(data_dir: Path, default: str = "en-us") -> str:
    """The espeak-ng language the dataset was prepared for (from its report)."""
    report = Path(data_dir) / "report.json"
    try:
        return str(json.loads(report.read_text(encoding="utf-8"))["language"])
    except (OSError, ValueError, KeyError):
        return default


def split_heldout(
    utterances: list[Utterance], every: int = 20, minimum: int = 1
) -> tuple[list[Utterance], list[Utterance]]:
    """(train, held out): every ``every``-th utterance is held out for evaluation, at
    least ``minimum`` when there are five or more; the split is the same on every run."""
    ordered = sorted(utterances, key=lambda u: u.id)
    if len(ordered) < 5:
        return ordered, []
    held = ordered[every - 1 :: every] or []
    if len(held) < minimum:
        step = max(1, len(ordered) // (minimum + 1))
        held = ordered[step - 1 :: step][:minimum]
    held_ids = {u.id for u in held}
    return [u for u in ordered if u.id not in held_ids], held


def short_enough(
    utterances: list[Utterance], max_s: float | None, data_dir: Path
) -> list[Utterance]:
    """The recordings no longer than ``max_s`` seconds (all when ``None``); a one-line
    error when none is."""
    if not max_s:
        return utterances
    import soundfile as sf

    kept = [u for u in utterances if sf.info(str(u.wav)).duration <= max_s]
    if not kept:
        raise TrainError(
            f"every recording in {data_dir} is longer than {max_s:g} s",
            hint="split the recordings into sentences (`assistant train voice prepare`)",
        )
    if len(kept) < len(utterances):
        log.info(
            "%d of %d recordings are longer than %g s and are left out of training",
            len(utterances) - len(kept),
            len(utterances),
            max_s,
        )
    return kept
