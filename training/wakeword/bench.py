"""``assistant bench wake``: false rejects, false accepts per hour, CPU while asleep,
detection delay and custom-word training time.

- **False rejects**: takes of each word said by voices its training never saw (the
  Piper voices, and espeak-ng accents held out of custom training), with noise at
  10 dB SNR (pink, brown, white or real speech), each after a second of quiet; a take
  is missed when the word is not detected within a second of its end.
- **False accepts**: every word listened for on real speech without any wake word (the
  Asterisk prompts in English, French, Spanish and Italian, four professional speakers:
  Debian's ``asterisk-core-sounds-*-g722``, fetched once with ``apt-get download`` into
  the cache, or ``--speech DIR``) plus generated noise, at least an hour in all.
- **CPU while asleep**: the whole process's CPU time while the detector listens to a
  real-time stream, over ``--cpu-seconds``.
- **Custom word**: ``assistant train wakeword`` on the bench's phrase, its wall time,
  then the same false-reject and false-accept figures. Its real-speech negatives are
  what the hour leaves of those prompts plus the Russian prompts
  (``asterisk-core-sounds-ru-g722``, a fifth speaker), which the hour does not have.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError
from assistant.wake import RATE, Detection, WakeDetector, load_detector
from assistant.wake.micro import PRETRAINED

__all__ = ["WakeBenchOptions", "run_wake_bench", "speech_corpus"]

log = logging.getLogger(__name__)

_PACKAGES = ("en", "fr", "es", "it")
TRAINING_SPEECH = ("ru",)
"""Asterisk prompts that only custom training hears (real speech without the phrase, by
a speaker and in a language the false-accept hour does not have)."""
HOLD_OUT = ("piper:", "espeak:en-gb-scotland", "espeak:en-029", "espeak:en-us-nyc",
            "espeak:en-gb-x-gbcwmd")  # fmt: skip
"""Voices custom training never sees in the bench: the test voices."""
_PHRASES = {"hey_jarvis": "hey jarvis", "okay_nabu": "okay nah boo", "alexa": "alexa",
            "hey_mycroft": "hey mycroft"}  # fmt: skip
"""What the voices are given to say: "nabu" is said "nah boo" (the voices' own reading,
"nay boo", is another word to the model)."""


@dataclass
class WakeBenchOptions:
    """What to measure."""

    words: list[str] = field(default_factory=lambda: list(PRETRAINED))
    takes: int = 40
    snr_db: float = 10.0
    hours: float = 1.0
    speech: Path | None = None
    cache: Path | None = None
    cpu_seconds: float = 60.0
    custom_phrase: str | None = "hey computer"
    custom_preset: str = "standard"
    seed: int = 0
    keep: Path | None = None
    """Where to copy the custom word's model (to try it with ``wake detect``)."""
    sensitivity: dict[str, float] = field(default_factory=dict)
    """Pretrained words' sensitivities (``wake.sensitivity``); 0.5 when not given."""


def speech_corpus(cache: Path, out: Callable[[str], None],
                  languages: tuple[str, ...] = _PACKAGES) -> list[Path]:  # fmt: skip
    """16 kHz WAVs of the Asterisk prompts (one per language), fetched and decoded once."""
    cache.mkdir(parents=True, exist_ok=True)
    wavs = [cache / f"asterisk-{lang}.wav" for lang in languages]
    if all(w.is_file() for w in wavs):
        return wavs
    for tool in ("apt-get", "dpkg", "ffmpeg"):
        if shutil.which(tool) is None:
            raise AssistantError(
                f"the false-accept corpus needs {tool}, which is missing",
                hint="install it, or pass --speech DIR with an hour of speech without wake words",
            )
    out("fetching the Asterisk prompts (Debian asterisk-core-sounds-*-g722) once...")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        names = [f"asterisk-core-sounds-{lang}-g722" for lang in languages]
        run = subprocess.run(["apt-get", "download", *names], cwd=work, capture_output=True,
                             text=True)  # fmt: skip
        if run.returncode != 0:
            raise AssistantError(
                f"apt-get download failed: {run.stderr.strip().splitlines()[-1:]}",
                hint="pass --speech DIR with an hour of speech without wake words",
            )
        for deb in work.glob("*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(work / "x")], check=True)
        for lang, wav in zip(languages, wavs, strict=True):
            folder = next((work / "x/usr/share/asterisk/sounds").glob(f"{lang}_*"))
            raw = work / f"{lang}.g722"
            with raw.open("wb") as handle:
                for f in sorted(folder.rglob("*.g722")):
                    handle.write(f.read_bytes())
            tmp_wav = wav.with_suffix(".part.wav")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "g722", "-i", str(raw), "-ar",
                            "16000", "-ac", "1", str(tmp_wav)], check=True)  # fmt: skip
            tmp_wav.replace(wav)
    return wavs


def _false_rejects(detector: WakeDetector, word: str, phrase: str, speakers: list[Any],
                   opts: WakeBenchOptions, babble: list[np.ndarray]) -> dict[str, Any]:  # fmt: skip
    from training.wakeword.synth import Synthesizer, _colored_noise, mix_at_snr, trim

    synth = Synthesizer(seed=opts.seed + 7)
    rng = np.random.default_rng(opts.seed + 11)
    missed, delays, handoffs = 0, [], []
    by_engine: dict[str, list[int]] = {}
    for i in range(opts.takes):
        piper = [s for s in speakers if s.engine == "piper"]
        others = [s for s in speakers if s.engine != "piper"] or piper
        pool = piper if (piper and i % 2 == 0) else others
        speaker = pool[(i // 2) % len(pool)]
        speech = trim(synth.say(speaker, phrase))
        clip = np.concatenate([np.zeros(RATE, np.float32), speech, np.zeros(RATE, np.float32)])
        kind = i % 4
        if kind == 3 and babble:
            source = babble[int(rng.integers(0, len(babble)))]
            start = int(rng.integers(0, max(1, len(source) - len(clip))))
            noise = np.resize(source[start : start + len(clip)], len(clip))
        else:
            noise = _colored_noise(len(clip), rng, float(kind))
        clip = mix_at_snr(clip, noise, opts.snr_db)
        clip = clip / (np.abs(clip).max() + 1e-9) * 0.5
        word_end = (RATE + len(speech)) / RATE
        woke = _wake_to_listening(detector, clip, word_end + 1.0)
        counts = by_engine.setdefault(speaker.engine, [0, 0])
        counts[0] += 1
        if woke is not None and woke[0].word == word and woke[0].time >= 1.0:
            delays.append(woke[0].time - word_end)
            handoffs.append(woke[1] - word_end)
        else:
            missed += 1
            counts[1] += 1
    rates = {engine: m / n for engine, (n, m) in by_engine.items()}
    return {
        "takes": opts.takes,
        "missed": missed,
        "false_reject_rate": missed / max(opts.takes, 1),
        "by_voice_engine": {e: {"takes": n, "missed": m} for e, (n, m) in by_engine.items()},
        "false_reject_rate_piper": rates.get("piper"),
        "false_reject_rate_espeak": rates.get("espeak"),
        "voices": sorted({s.label for s in speakers}),
        "delay_p50_ms": _ms(delays, 50),
        "delay_p90_ms": _ms(delays, 90),
        "listening_p50_ms": _ms(handoffs, 50),
        "listening_p90_ms": _ms(handoffs, 90),
    }


def _ms(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q) * 1000) if values else None


def _wake_to_listening(detector: WakeDetector, clip: np.ndarray,
                       until_s: float) -> tuple[Detection, float] | None:  # fmt: skip
    """Play ``clip`` into the wake gate as the microphone delivers it (30 ms blocks, each
    handed over when its last sample is in), with the capture stage's hand-off on the
    word: the gate wakes, the pipeline's state becomes "listening". Returns the detection
    and the moment of that state change on the clip's clock: the end of the block that
    woke it plus the wall time its processing took (the detector, the gate, the state
    change and its event). ``None`` when it did not wake by ``until_s``."""
    from assistant.pipeline.emitter import Emitter
    from assistant.pipeline.events import State, StateChanged
    from assistant.pipeline.sources import BLOCK_SECONDS
    from assistant.wake.gate import WakeGate

    detector.reset()
    gate = WakeGate(detector)
    emitter = Emitter()
    emitter.set_state(State.ASLEEP)
    changed: list[float] = []
    emitter.subscribe(lambda e: changed.append(time.perf_counter())
                      if isinstance(e, StateChanged) and e.state == State.LISTENING
                      else None)  # fmt: skip
    block = int(RATE * BLOCK_SECONDS)
    pcm = np.concatenate([clip, np.zeros(RATE, np.float32)]).astype(np.float32)
    for pos in range(0, min(len(pcm), int(until_s * RATE)), block):
        piece = pcm[pos : pos + block]
        began = time.perf_counter()
        woken, _ = gate.feed(piece)
        if woken is not None:
            emitter.set_state(State.LISTENING)  # as the capture stage does on the word
            return woken.detection, (pos + len(piece)) / RATE + changed[0] - began
    return None


def _false_accepts(detector: WakeDetector, corpus: list[np.ndarray],
                   noise_s: float) -> dict[str, Any]:  # fmt: skip
    from training.wakeword.synth import _colored_noise

    rng = np.random.default_rng(5)
    detector.reset()
    counts = dict.fromkeys(detector.words, 0)
    events: list[dict[str, Any]] = []  # where each false accept was (to listen to them)
    seconds = 0.0
    for part, audio in enumerate(corpus):
        start = detector.time  # the stream goes on from part to part
        for d in detector.scan(audio):
            counts[d.word] += 1
            events.append({"word": d.word, "part": part, "time_s": round(d.time - start, 2),
                           "score": round(d.score, 3)})  # fmt: skip
        seconds += len(audio) / RATE
    speech_s = seconds
    for kind in (0.0, 1.0, 2.0):
        n = int(noise_s / 3 * RATE)
        noise = _colored_noise(n, rng, kind) * 0.05
        for d in detector.scan(noise):
            counts[d.word] += 1
        seconds += n / RATE
    hours = seconds / 3600
    return {
        "speech_minutes": speech_s / 60,
        "noise_minutes": (seconds - speech_s) / 60,
        "hours": hours,
        "false_accepts": counts,
        "per_hour": {w: c / hours for w, c in counts.items()},
        "speech_events": events[:200],
    }


def _rates(fr: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    ms = fr["listening_p90_ms"]
    return (f"{pct(fr['false_reject_rate'])} (Piper voices {pct(fr['false_reject_rate_piper'])}, "
            f"espeak-ng voices {pct(fr['false_reject_rate_espeak'])}); word end -> listening "
            f"p90 {'-' if ms is None else f'{ms:.0f} ms'}")  # fmt: skip


def _cpu_asleep(detector: WakeDetector, audio: np.ndarray, seconds: float) -> float:
    """Percent of one core the whole process used while the detector listened to a
    real-time stream (80 ms chunks)."""
    detector.reset()
    chunk = 1280
    pcm = np.resize(audio, int(seconds * RATE))
    start_wall, start_cpu = time.monotonic(), time.process_time()
    for i, pos in enumerate(range(0, len(pcm), chunk)):
        detector.feed(pcm[pos : pos + chunk])
        wait = start_wall + (i + 1) * chunk / RATE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    wall = time.monotonic() - start_wall
    return 100.0 * (time.process_time() - start_cpu) / wall


def run_wake_bench(opts: WakeBenchOptions, store: Any, out: Callable[[str], None]
                   ) -> dict[str, Any]:  # fmt: skip
    """Every figure, as a JSON-ready dict."""
    try:
        from training.wakeword.synth import espeak_speakers, piper_speakers
    except ImportError as exc:
        raise AssistantError(
            "bench wake needs the training package (it speaks the test takes)",
            hint="run it from a source checkout with the train extra",
        ) from exc
    from assistant.audio.io import read_audio
    from assistant.config import data_dir

    report: dict[str, Any] = {"options": {k: str(v) for k, v in vars(opts).items()}}
    if opts.speech is not None:
        files = sorted(p for p in opts.speech.rglob("*") if p.suffix.lower() in
                       (".wav", ".flac", ".ogg", ".mp3"))  # fmt: skip
    else:
        files = speech_corpus(opts.cache or data_dir() / "bench" / "wake-speech", out)
    corpus = [read_audio(f, RATE).samples for f in files]
    # Speech for custom training only: another speaker and language than the test hour's.
    extra = [] if opts.speech is not None or not opts.custom_phrase else [
        read_audio(f, RATE).samples for f in speech_corpus(
            opts.cache or data_dir() / "bench" / "wake-speech", out, TRAINING_SPEECH)]  # fmt: skip
    total_s = sum(len(a) for a in corpus) / RATE
    need_s = opts.hours * 3600
    unused: list[np.ndarray] = []  # speech left out of the test: custom training may use it
    if total_s > need_s * 0.95:
        # Keep the speech to the hour's share; what is left over is never tested on.
        keep_s = need_s * 0.95
        trimmed: list[np.ndarray] = []
        for audio in corpus:
            take = max(0, min(len(audio), int(keep_s * RATE) - sum(len(a) for a in trimmed)))
            if take > 0:
                trimmed.append(audio[:take])
            if take < len(audio):
                unused.append(audio[take:])
        corpus, total_s = trimmed, sum(len(a) for a in trimmed) / RATE
    noise_s = max(need_s - total_s, 60.0)
    babble = [a[: 60 * RATE] for a in corpus]
    held_espeak = [s for s in espeak_speakers()
                   if any(s.label.startswith(h) for h in HOLD_OUT)][::3]  # fmt: skip
    test_speakers = piper_speakers(store) + held_espeak

    words: dict[str, Any] = {}
    for word in opts.words:
        out(f"[{word}] false rejects on {opts.takes} held-out takes at {opts.snr_db:g} dB SNR")
        detector = load_detector([word], store, opts.sensitivity)
        words[word] = _false_rejects(detector, word, _PHRASES.get(word, word.replace("_", " ")),
                                     test_speakers, opts, babble)  # fmt: skip
        out(f"  false reject rate {_rates(words[word])}")
    custom_id = None
    if opts.custom_phrase:
        from training.wakeword.fit import WakeTrainOptions, train

        custom_id = "bench_" + opts.custom_phrase.replace(" ", "_")
        out(f"[custom] training {opts.custom_phrase!r} ({opts.custom_preset}), voices "
            f"{', '.join(HOLD_OUT)} held out")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            result = train(
                WakeTrainOptions(phrase=opts.custom_phrase, name=custom_id, output=Path(tmp),
                                 preset=opts.custom_preset, hold_out=HOLD_OUT, register=False,
                                 seed=opts.seed, negative_audio=unused + extra),
                store,
                out=out,
            )
            from assistant.wake.base import WakeDetector as _Detector
            from assistant.wake.custom import CustomEngine

            engine = CustomEngine(result.model, custom_id)
            if opts.keep is not None:
                shutil.copytree(result.model.parent, opts.keep, dirs_exist_ok=True)
            report["custom_training"] = {"phrase": opts.custom_phrase,
                                         "real_negative_minutes": sum(
                                             len(a) for a in unused + extra) / RATE / 60,
                                         "preset": opts.custom_preset,
                                         "seconds": result.seconds,
                                         "windows": result.windows,
                                         "val_recall": result.val_recall,
                                         "threshold": result.threshold,
                                         "frames": result.frames}  # fmt: skip
            custom_detector = _Detector([engine])
            words[custom_id] = _false_rejects(custom_detector, custom_id, opts.custom_phrase,
                                              test_speakers, opts, babble)  # fmt: skip
            out(f"  false reject rate {_rates(words[custom_id])}")
            out(f"[false accepts] {total_s / 60:.0f} min of real speech + "
                f"{noise_s / 60:.0f} min of noise, all words")  # fmt: skip
            everything = _Detector([*load_detector(opts.words, store).engines, engine],
                                   opts.sensitivity)  # fmt: skip
            report["false_accepts"] = _false_accepts(everything, corpus, noise_s)
            out(f"[cpu] {opts.cpu_seconds:g} s real-time stream, asleep")
            report["cpu_percent_custom"] = _cpu_asleep(_Detector([engine]), corpus[0],
                                                       opts.cpu_seconds)  # fmt: skip
    else:
        report["false_accepts"] = _false_accepts(load_detector(opts.words, store, opts.sensitivity),
                                                 corpus, noise_s)  # fmt: skip
    report["words"] = words
    report["cpu_percent_pretrained"] = _cpu_asleep(load_detector(opts.words[:1], store),
                                                   corpus[0], opts.cpu_seconds)  # fmt: skip
    report["custom_id"] = custom_id
    return report
