"""``prepare``: the user's recordings to a clean, checked LJSpeech-layout dataset.

The originals are only read. Each recording is decoded (WAV, FLAC, OGG, MP3), checked
for clipping, trimmed to its speech with the project's VAD, split at pauses when longer
than the limit, resampled to the training rate (mono), loudness-normalised and, when it
came with a transcript, checked against what ASR hears. Everything rejected is listed
with its reason; the report also gives the minutes kept and the phoneme coverage.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import Audio, read_audio, write_wav
from assistant.config import VadConfig
from assistant.errors import AssistantError, AudioFormatError, NoSpeechError
from assistant.fsutil import atomic_write_text
from assistant.text.wer import normalize_words, word_error_rate
from assistant.tts.vits import phonemize
from assistant.vad import speech_segments, trim_to_speech

from .phonemes import coverage

__all__ = ["AUDIO_SUFFIXES", "PrepareOptions", "PrepareReport", "Rejection", "prepare"]

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
"""Files taken as recordings."""


@dataclass(frozen=True)
class PrepareOptions:
    """What ``assistant train voice prepare`` is asked to do."""

    input_dir: Path
    """The user's recordings (read only)."""
    output_dir: Path
    """Where the dataset goes (created; must not be inside ``input_dir``)."""
    sample_rate: int = 22050
    """Training rate."""
    language: str = "en-us"
    """espeak-ng voice of the transcripts."""
    min_seconds: float = 1.0
    """Shorter clips (after trimming) are rejected."""
    max_seconds: float = 15.0
    """Longer clips are split at pauses, or rejected when they cannot be."""
    target_dbfs: float = -20.0
    """RMS level of the speech after normalisation."""
    asr_check: bool = True
    """Reject a transcript that disagrees with what ASR hears."""
    max_wer: float = 0.5
    """Word error rate between transcript and ASR above which a clip is rejected..."""
    max_cer: float = 0.3
    """...unless the character error rate stays under this: a small ASR model splits and
    misspells words ("to cancel" -> "the can sell") that it still hears right."""
    review_logprob: float = -0.8
    """ASR transcripts (no transcript given) with a mean log-probability below this are
    flagged for review."""


@dataclass(frozen=True)
class Rejection:
    """A recording left out, and why."""

    file: str
    """Path relative to the input folder."""
    reason: str
    """Short reason: ``clipped``, ``too short``, ``too long``, ``silent``, ``not audio``,
    ``empty``, ``transcript disagrees with ASR``, ``no transcript``."""
    detail: str = ""
    """Numbers behind the reason (e.g. the WER and what ASR heard)."""


@dataclass
class PrepareReport:
    """What prepare kept and rejected."""

    input_dir: str
    output_dir: str
    language: str
    sample_rate: int
    transcripts: str
    """``metadata.csv``, ``txt`` (beside each file), ``asr`` or a mix of them."""
    kept: int = 0
    kept_seconds: float = 0.0
    rejected: list[Rejection] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    """Kept clips whose transcript came from ASR with low confidence, or that were split."""
    coverage: dict[str, Any] = field(default_factory=dict)
    unknown_symbols: list[str] = field(default_factory=list)
    """Phoneme symbols outside the model's vocabulary (the model never sees them)."""

    @property
    def minutes(self) -> float:
        """Minutes of speech kept."""
        return self.kept_seconds / 60

    def to_dict(self) -> dict[str, Any]:
        """Plain data (report.json)."""
        data = asdict(self)
        data["minutes"] = round(self.minutes, 2)
        data["kept_seconds"] = round(self.kept_seconds, 2)
        data["rejected_by_reason"] = _by_reason(self.rejected)
        return data

    def to_text(self) -> str:
        """The report for people (report.md)."""
        lines = [
            "# Voice dataset report",
            "",
            f"- input: {self.input_dir}",
            f"- transcripts from: {self.transcripts}",
            f"- kept: {self.kept} clips, {self.minutes:.1f} minutes at {self.sample_rate} Hz",
            f"- rejected: {len(self.rejected)}",
        ]
        for reason, count in _by_reason(self.rejected).items():
            lines.append(f"  - {reason}: {count}")
        cov = self.coverage
        if cov:
            lines.append(
                f"- phoneme coverage ({cov['language']}): {cov['covered']}/"
                f"{cov['inventory_size']} ({100 * cov['ratio']:.0f}%)"
                + (f"; missing: {' '.join(cov['missing'])}" if cov["missing"] else "")
            )
        if self.review:
            lines.append(f"- to review (ASR transcripts or split clips): {len(self.review)}")
        if self.rejected:
            lines += ["", "## Rejected", ""]
            lines += [
                f"- {r.file}: {r.reason}" + (f" ({r.detail})" if r.detail else "")
                for r in self.rejected
            ]
        return "\n".join(lines) + "\n"


def _by_reason(rejected: list[Rejection]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rejected:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    return counts


class _Rejected(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _read_metadata(folder: Path) -> dict[str, str]:
    """LJSpeech ``metadata.csv``: id (file stem) -> text (normalised column if present)."""
    meta = folder / "metadata.csv"
    if not meta.is_file():
        return {}
    found: dict[str, str] = {}
    with open(meta, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
            if len(row) >= 2 and row[0].strip():
                text = row[2] if len(row) > 2 and row[2].strip() else row[1]
                found[Path(row[0].strip()).stem] = text.strip()
    return found


def _clipped(samples: np.ndarray) -> tuple[bool, float]:
    """Clipped: runs of 3+ samples stuck at full scale make up more than 0.1% of it."""
    if len(samples) < 3:
        return False, 0.0
    peak = np.abs(samples) >= 0.99
    runs = peak[:-2] & peak[1:-1] & peak[2:]
    share = float(runs.mean())
    return share > 0.001, share


def _normalise(samples: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Scale to ``target_dbfs`` RMS, lowered if needed so the peak stays at -1 dBFS."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0:
        return samples
    gain = 10 ** (target_dbfs / 20) / rms
    peak = float(np.max(np.abs(samples))) * gain
    if peak > 0.891:  # -1 dBFS
        gain *= 0.891 / peak
    return (samples * gain).astype(np.float32)


def _split_at_pauses(audio: Audio, vad: Any, max_seconds: float) -> list[Audio]:
    """Cut a long clip at its pauses into pieces no longer than ``max_seconds``: at the
    longer pauses when they suffice, at ever shorter ones when they do not."""
    at_vad = audio.at_rate(vad.sample_rate)
    probs = vad.probabilities(at_vad.samples)
    scale = audio.sample_rate / vad.sample_rate
    limit = int(max_seconds * audio.sample_rate)
    pieces: list[tuple[int, int]] = []
    for pause_ms in (400, 250, 150, 80):
        options = VadConfig(min_silence_ms=pause_ms, pre_roll_ms=40, post_roll_ms=40)
        segments = speech_segments(
            probs, options, vad.frame_samples, vad.sample_rate, num_samples=len(at_vad.samples)
        )
        pieces = []
        for seg in segments:
            start, end = int(seg.start * scale), int(seg.end * scale)
            if pieces and end - pieces[-1][0] <= limit:
                pieces[-1] = (pieces[-1][0], end)  # the pause stays inside this piece
            else:
                pieces.append((start, end))
        if all(b - a <= limit for a, b in pieces):
            break
    return [Audio(audio.samples[a:b], audio.sample_rate) for a, b in pieces]


def _safe_id(stem: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "clip"
    uid, n = base, 1
    while uid in taken:
        n += 1
        uid = f"{base}_{n}"
    taken.add(uid)
    return uid


def prepare(
    options: PrepareOptions,
    vad: Any,
    transcriber: Any | None,
    on_file: Callable[[int, int, str], None] | None = None,
) -> PrepareReport:
    """Build the dataset; see the module docstring.

    Args:
        options: folders and thresholds.
        vad: a :class:`assistant.vad.SileroVad`.
        transcriber: a :class:`assistant.asr.Transcriber` for missing transcripts and the
            transcript check; ``None`` skips both (files without a transcript are then
            rejected).
        on_file: progress callback ``(done, total, file)``.
    """
    src = Path(options.input_dir).absolute()
    out = Path(options.output_dir).absolute()
    if not src.is_dir():
        raise AssistantError(f"recordings folder {src} does not exist or is not a folder")
    if out == src or src in out.parents:
        raise AssistantError(
            f"the dataset folder {out} is inside the recordings folder {src}",
            hint="choose an output folder outside it: prepare never writes into your recordings",
        )
    if out.exists() and any(out.iterdir()) and not (out / "report.json").is_file():
        raise AssistantError(
            f"{out} exists and is not a dataset made by prepare",
            hint="choose a new or empty output folder",
        )
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise AssistantError(
            f"no recordings in {src}", hint=f"put {', '.join(AUDIO_SUFFIXES)} files there"
        )
    metadata = _read_metadata(src)
    if out.exists():
        shutil.rmtree(out / "wavs", ignore_errors=True)
    (out / "wavs").mkdir(parents=True, exist_ok=True)

    sources: set[str] = set()
    report = PrepareReport(str(src), str(out), options.language, options.sample_rate, "")
    rows: list[tuple[str, str]] = []
    taken: set[str] = set()
    trim_options = VadConfig(min_silence_ms=400, pre_roll_ms=150, post_roll_ms=200)
    for done, path in enumerate(files):
        rel = path.relative_to(src).as_posix()
        if on_file is not None:
            on_file(done, len(files), rel)
        try:
            text, source = _transcript_of(path, metadata)
            pieces = _clean(path, rel, options, vad, trim_options)
            if text is None or len(pieces) > 1:
                if transcriber is None:
                    raise _Rejected("no transcript", "no metadata.csv line, no .txt, ASR off")
                for piece in pieces:
                    heard = transcriber.transcribe(piece)
                    if not heard.text.strip():
                        raise _Rejected("silent", "ASR heard no words")
                    uid = _safe_id(path.stem, taken)
                    rows.append((uid, heard.text.strip()))
                    _write(out, uid, piece, options)
                    report.kept += 1
                    report.kept_seconds += piece.duration
                    low = min((s.avg_logprob for s in heard.segments), default=0.0)
                    if len(pieces) > 1 or low < options.review_logprob:
                        report.review.append(
                            {
                                "id": uid,
                                "file": rel,
                                "text": heard.text.strip(),
                                "why": "split at a pause"
                                if len(pieces) > 1
                                else f"low ASR confidence (log-prob {low:.2f})",
                            }
                        )
                sources.add("asr")
                continue
            piece = pieces[0]
            if options.asr_check and transcriber is not None:
                heard = transcriber.transcribe(piece)
                wer = word_error_rate(text, heard.text)
                cer = _char_error_rate(text, heard.text)
                if wer > options.max_wer and cer > options.max_cer:
                    raise _Rejected(
                        "transcript disagrees with ASR",
                        f"WER {wer:.2f}, CER {cer:.2f}; heard {heard.text!r}",
                    )
            uid = _safe_id(path.stem, taken)
            rows.append((uid, text))
            _write(out, uid, piece, options)
            report.kept += 1
            report.kept_seconds += piece.duration
            sources.add(source)
        except _Rejected as rej:
            report.rejected.append(Rejection(rel, rej.reason, rej.detail))
            log.info("rejected %s: %s %s", rel, rej.reason, rej.detail)
    report.transcripts = "+".join(sorted(sources)) or "none"
    texts = [t for _, t in rows]
    report.coverage = coverage(texts, options.language).to_dict()
    report.unknown_symbols = _unknown_symbols(texts, options.language)
    _write_metadata(out / "metadata.csv", rows)
    atomic_write_text(
        out / "report.json", json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
    )
    atomic_write_text(out / "report.md", report.to_text())
    return report


def _char_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance over letters (spaces and punctuation ignored) / reference letters."""

    def letters(text: str) -> str:
        return " ".join("".join(normalize_words(text)))

    return word_error_rate(letters(reference), letters(hypothesis))


def _transcript_of(path: Path, metadata: dict[str, str]) -> tuple[str | None, str]:
    if path.stem in metadata:
        return metadata[path.stem], "metadata.csv"
    txt = path.with_suffix(".txt")
    if txt.is_file():
        text = txt.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return " ".join(text.split()), "txt"
    return None, "asr"


def _clean(
    path: Path, rel: str, options: PrepareOptions, vad: Any, trim_options: VadConfig
) -> list[Audio]:
    """Decoded, checked, trimmed, split, resampled and normalised pieces of one file."""
    try:
        audio = read_audio(path, rate=None)
    except AudioFormatError as exc:
        raise _Rejected("not audio", str(exc.message).replace(str(path), rel)) from exc
    if len(audio.samples) == 0:
        raise _Rejected("empty", "the file holds no samples")
    clipped, share = _clipped(audio.samples)
    if clipped:
        raise _Rejected("clipped", f"{100 * share:.2f}% of samples at full scale")
    try:
        audio = trim_to_speech(audio, vad, trim_options, source=rel)
    except NoSpeechError as exc:
        raise _Rejected("silent", "the VAD found no speech") from exc
    audio = audio.at_rate(options.sample_rate)
    if audio.duration < options.min_seconds:
        raise _Rejected("too short", f"{audio.duration:.2f} s of speech < {options.min_seconds} s")
    pieces = [audio]
    if audio.duration > options.max_seconds:
        pieces = _split_at_pauses(audio, vad, options.max_seconds)
        if any(p.duration > options.max_seconds for p in pieces):
            raise _Rejected(
                "too long",
                f"{audio.duration:.1f} s with no pause to split it under {options.max_seconds} s",
            )
        pieces = [p for p in pieces if p.duration >= options.min_seconds]
        if not pieces:
            raise _Rejected("too short", "only short pieces between pauses")
    return [Audio(_normalise(p.samples, options.target_dbfs), p.sample_rate) for p in pieces]


def _write(out: Path, uid: str, audio: Audio, options: PrepareOptions) -> None:
    write_wav(out / "wavs" / f"{uid}.wav", audio)


def _write_metadata(path: Path, rows: list[tuple[str, str]]) -> None:
    buf = io.StringIO()
    for uid, text in rows:
        clean = " ".join(text.replace("|", " ").split())
        buf.write(f"{uid}|{clean}|{clean}\n")
    atomic_write_text(path, buf.getvalue())


def _unknown_symbols(texts: list[str], language: str) -> list[str]:
    """Phoneme symbols the VITS vocabulary lacks (Coqui's letters + IPA + punctuation)."""
    from TTS.tts.utils.text.characters import _characters, _phonemes, _punctuations

    vocabulary = set(_characters + _phonemes + _punctuations)
    seen: set[str] = set()
    for text in texts:
        seen.update(phonemize(text, language))
    return sorted(seen - vocabulary)
