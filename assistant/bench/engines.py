"""Engine speed on this machine, each figure beside the raw library call it wraps.

Every engine is measured twice in the same run on the same input: through our wrapper
(``WhisperTranscriber``, ``LlamaCppChatModel``, ``PiperVoice``) and through the library
call underneath it (faster-whisper, llama-cpp-python, piper-tts). The ratio of the two
is what the wrapper costs; 1.0 means nothing.

Method: each side is warmed up once, then the two alternate for ``repeats`` rounds (the
order flips every round so neither side always runs on a warmer cache), and each figure
is the median of its rounds. The LLM and the voice run the raw call through the very
object our wrapper holds, so load settings cannot differ and only the wrapper's own
work is measured; the raw whisper model is a second instance built with the same
device, compute type and thread count.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio import ASR_RATE, Audio, resample

if TYPE_CHECKING:
    from ..asr import WhisperTranscriber
    from ..config import Config
    from ..llm import LlamaCppChatModel
    from ..store import ModelStore
    from ..tts import PiperVoice

__all__ = [
    "BenchOptions",
    "EngineBench",
    "EnginesReport",
    "MachineInfo",
    "Metric",
    "bench_asr",
    "bench_llm",
    "bench_tts",
    "machine_info",
    "make_speech",
    "run_engines_bench",
]

log = logging.getLogger(__name__)

DEFAULT_SPEECH_TEXT = (
    "The quick brown fox jumps over the lazy dog, then runs back home across the wide "
    "green field before the sun goes down."
)
DEFAULT_VOICE_TEXT = (
    "Rainbows form when sunlight passes through falling raindrops. Each drop bends the "
    "light and splits it into its colours. That is why you often see one after a storm."
)
DEFAULT_PROMPT = "Explain in a few sentences how a rainbow forms."

_PACKAGES = (
    "offline-voice-assistant",
    "faster-whisper",
    "ctranslate2",
    "llama_cpp_python",
    "piper-tts",
    "onnxruntime",
    "numpy",
)

# A trial returns its figures by metric name, and what it produced (to check that
# ours and raw did the same work).
_Trial = tuple[dict[str, float], object]


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how often."""

    repeats: int = 5
    """Timed rounds per side, after one warm-up each; figures are medians."""
    llm_tokens: int = 128
    """Longest LLM reply (``max_tokens``); decoding is greedy, so both sides agree."""
    prompt: str = DEFAULT_PROMPT
    """The user message sent to the LLM (after the config's system prompt)."""
    speech_text: str = DEFAULT_SPEECH_TEXT
    """Spoken by the voice to make the ASR input (about 7 s of speech)."""
    voice_text: str = DEFAULT_VOICE_TEXT
    """What the TTS benchmark synthesizes (three sentences)."""
    seed: int = 0
    """LLM sampling seed (irrelevant at temperature 0, passed for completeness)."""

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, not {self.repeats}")
        if self.llm_tokens < 2:
            raise ValueError(f"llm_tokens must be at least 2, not {self.llm_tokens}")


@dataclass(frozen=True)
class Metric:
    """One figure of one engine: every round of ours and of the raw call."""

    name: str
    """Short machine name, e.g. ``rtf`` or ``tokens_per_s``."""
    unit: str
    """``s``, ``x`` (a ratio of seconds to seconds) or ``tok/s``."""
    higher_is_better: bool
    """True for rates (tokens/s), False for times and real-time factors."""
    ours_runs: tuple[float, ...]
    """Each round through our wrapper."""
    raw_runs: tuple[float, ...]
    """Each round of the raw library call."""

    @property
    def ours(self) -> float:
        """Median over the rounds through our wrapper."""
        return statistics.median(self.ours_runs)

    @property
    def raw(self) -> float:
        """Median over the rounds of the raw library call."""
        return statistics.median(self.raw_runs)

    @property
    def ratio(self) -> float:
        """How much slower ours is: ours/raw for times, raw/ours for rates, so that
        above 1 always means our wrapper is slower."""
        num, den = (self.raw, self.ours) if self.higher_is_better else (self.ours, self.raw)
        return num / den if den > 0 else math.inf

    @property
    def spread(self) -> float:
        """Slowest over fastest round of the noisier side, minus 1: how much the rounds
        varied (0.1 = 10%). A busy machine shows here before it shows in the ratio."""
        return max(max(runs) / min(runs) for runs in (self.ours_runs, self.raw_runs)) - 1.0


@dataclass(frozen=True)
class EngineBench:
    """The figures of one engine."""

    engine: str
    """``asr``, ``llm`` or ``tts``."""
    model: str
    """Model id (or file name) that was measured."""
    workload: str
    """What was processed, in words."""
    metrics: tuple[Metric, ...]
    """The figures."""
    same_output: bool | None
    """Whether ours and raw produced the same text (``None`` where the output is
    random by design, as VITS audio is)."""


@dataclass(frozen=True)
class MachineInfo:
    """Where the figures were taken."""

    cpu_count: int
    """Logical CPUs."""
    cpu: str
    """CPU model name, where the OS tells it."""
    python: str
    """Python version."""
    platform: str
    """OS and architecture."""
    versions: dict[str, str] = field(default_factory=dict)
    """Versions of this package and the engine libraries."""


@dataclass(frozen=True)
class EnginesReport:
    """Everything ``assistant bench engines`` measured."""

    engines: tuple[EngineBench, ...]
    """One entry per engine."""
    machine: MachineInfo
    """The machine."""
    options: BenchOptions
    """How it was measured."""

    def worst_ratio(self) -> float:
        """The largest ours/raw ratio over every figure."""
        return max(m.ratio for e in self.engines for m in e.metrics)

    def within(self, limit: float = 1.05) -> bool:
        """Whether every ratio is at most ``limit``."""
        return self.worst_ratio() <= limit

    def to_dict(self) -> dict[str, Any]:
        """``{engine: {metric: {ours, raw, ratio, ...}}, "machine": {...},
        "settings": {...}}``; each metric also has its ``spread`` and every round."""
        out: dict[str, Any] = {
            e.engine: {
                m.name: {
                    "ours": m.ours,
                    "raw": m.raw,
                    "ratio": m.ratio,
                    "spread": m.spread,
                    "ours_runs": list(m.ours_runs),
                    "raw_runs": list(m.raw_runs),
                }
                for m in e.metrics
            }
            for e in self.engines
        }
        out["machine"] = {
            "cpu_count": self.machine.cpu_count,
            "cpu": self.machine.cpu,
            "python": self.machine.python,
            "platform": self.machine.platform,
            "versions": dict(self.machine.versions),
        }
        out["settings"] = {
            "repeats": self.options.repeats,
            "llm_tokens": self.options.llm_tokens,
            "models": {e.engine: e.model for e in self.engines},
        }
        return out


def machine_info() -> MachineInfo:
    """This machine and the installed engine libraries."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return MachineInfo(
        cpu_count=os.cpu_count() or 1,
        cpu=_cpu_name(),
        python=sys.version.split()[0],
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        versions=versions,
    )


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def make_speech(piper_voice: Any, text: str, *, padding: float = 0.25) -> Audio:
    """``text`` spoken by a ``piper.PiperVoice`` (the library's, not our wrapper), with
    ``padding`` seconds of silence either side, at the recogniser's 16 kHz."""
    rate = int(piper_voice.config.sample_rate)
    pad = np.zeros(int(padding * rate), np.float32)
    parts = [pad, *(chunk.audio_float_array for chunk in piper_voice.synthesize(text)), pad]
    samples = np.concatenate(parts).astype(np.float32, copy=False)
    return Audio(resample(samples, rate, ASR_RATE), ASR_RATE)


def _alternate(
    ours: Callable[[], _Trial], raw: Callable[[], _Trial], repeats: int
) -> tuple[list[dict[str, float]], list[dict[str, float]], object, object]:
    """Warm each side up once, then run them in turns; the first to go flips every
    round. Returns each side's figures per round and each side's last output."""
    ours_out = ours()[1]
    raw_out = raw()[1]
    ours_runs: list[dict[str, float]] = []
    raw_runs: list[dict[str, float]] = []
    for round_ in range(repeats):
        order = ((ours, ours_runs), (raw, raw_runs))
        for fn, runs in order if round_ % 2 == 0 else order[::-1]:
            # A collection inside a timed call would charge one side for the other's
            # garbage.
            gc.collect()
            figures, output = fn()
            runs.append(figures)
            if fn is ours:
                ours_out = output
            else:
                raw_out = output
    return ours_runs, raw_runs, ours_out, raw_out


def _metric(
    name: str,
    unit: str,
    ours: list[dict[str, float]],
    raw: list[dict[str, float]],
    *,
    higher_is_better: bool = False,
) -> Metric:
    return Metric(
        name=name,
        unit=unit,
        higher_is_better=higher_is_better,
        ours_runs=tuple(r[name] for r in ours),
        raw_runs=tuple(r[name] for r in raw),
    )


def bench_asr(
    transcriber: WhisperTranscriber,
    speech: Audio,
    *,
    repeats: int = 5,
    threads: int = 0,
    model: str = "",
) -> EngineBench:
    """Real-time factor of ``transcriber.transcribe`` beside faster-whisper's own
    ``WhisperModel.transcribe`` (segments consumed) on ``speech``.

    The raw model is a second ``WhisperModel`` on the same folder with the same device,
    compute type and ``threads`` as the transcriber's.
    """
    from faster_whisper import WhisperModel

    raw_model = WhisperModel(
        str(transcriber.model_dir),
        device=transcriber.device,
        compute_type=transcriber.compute_type,
        cpu_threads=threads,
    )
    speech = speech.at_rate(ASR_RATE)
    samples = speech.samples  # (n,) float32 at 16 kHz
    language = transcriber.language
    beam_size = transcriber.beam_size

    def ours() -> _Trial:
        start = time.perf_counter()
        transcript = transcriber.transcribe(speech)
        elapsed = time.perf_counter() - start
        return {"rtf": elapsed / speech.duration}, transcript.text

    def raw() -> _Trial:
        start = time.perf_counter()
        segments, _info = raw_model.transcribe(
            samples, language=language, beam_size=beam_size, vad_filter=False
        )
        texts = [s.text.strip() for s in segments]
        elapsed = time.perf_counter() - start
        return {"rtf": elapsed / speech.duration}, " ".join(t for t in texts if t)

    ours_runs, raw_runs, ours_text, raw_text = _alternate(ours, raw, repeats)
    log.info("asr heard %r", ours_text)
    return EngineBench(
        engine="asr",
        model=model or transcriber.model_dir.name,
        workload=f"{speech.duration:.1f} s of speech",
        metrics=(_metric("rtf", "x", ours_runs, raw_runs),),
        same_output=ours_text == raw_text,
    )


def bench_llm(
    chat: LlamaCppChatModel,
    system_prompt: str,
    *,
    prompt: str = DEFAULT_PROMPT,
    max_tokens: int = 128,
    seed: int = 0,
    repeats: int = 5,
    model: str = "",
) -> EngineBench:
    """First-token time and decoding speed of ``chat.stream`` beside llama-cpp-python's
    ``create_chat_completion(stream=True)`` on the same ``Llama`` object, greedy.

    Both sides count a token per non-empty streamed delta. Tokens/s is the decoding
    rate after the first token: ``(n - 1) / (end - first token)``. The KV cache is
    reset before every call, so each first-token time includes the whole prompt's
    evaluation (otherwise the second call would reuse the first one's prompt).
    """
    from ..llm import GenerationOptions, Message

    llm = chat._llm
    messages = [Message("system", system_prompt), Message("user", prompt)]
    dicts = [m.to_dict() for m in messages]
    options = GenerationOptions(max_tokens=max_tokens, temperature=0.0, seed=seed)

    def figures(start: float, first: float | None, end: float, count: int) -> dict[str, float]:
        if first is None:
            raise RuntimeError("the language model produced no text to time")
        decode = end - first
        rate = (count - 1) / decode if count > 1 and decode > 0 else count / (end - start)
        return {"first_token_s": first - start, "tokens_per_s": rate}

    def ours() -> _Trial:
        llm.reset()
        parts: list[str] = []
        first = None
        start = time.perf_counter()
        for delta in chat.stream(messages, options):
            if first is None:
                first = time.perf_counter()
            parts.append(delta)
        end = time.perf_counter()
        return figures(start, first, end, len(parts)), "".join(parts)

    def raw() -> _Trial:
        llm.reset()
        parts: list[str] = []
        first = None
        start = time.perf_counter()
        for chunk in llm.create_chat_completion(
            messages=dicts,  # type: ignore[arg-type]
            stream=True,
            temperature=0.0,
            max_tokens=max_tokens,
            seed=seed,
        ):
            delta = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
            if delta:
                if first is None:
                    first = time.perf_counter()
                parts.append(delta)
        end = time.perf_counter()
        return figures(start, first, end, len(parts)), "".join(parts)

    ours_runs, raw_runs, ours_text, raw_text = _alternate(ours, raw, repeats)
    prompt_tokens = chat.count_tokens(messages)
    return EngineBench(
        engine="llm",
        model=model or chat.name,
        workload=f"{prompt_tokens}-token prompt, up to {max_tokens} tokens, greedy",
        metrics=(
            _metric("first_token_s", "s", ours_runs, raw_runs),
            _metric("tokens_per_s", "tok/s", ours_runs, raw_runs, higher_is_better=True),
        ),
        same_output=ours_text == raw_text,
    )


def bench_tts(
    voice: PiperVoice,
    text: str = DEFAULT_VOICE_TEXT,
    *,
    speaker: int | None = None,
    repeats: int = 5,
    model: str = "",
) -> EngineBench:
    """Real-time factor and time to first audio of ``voice.synthesize`` beside piper's
    own ``PiperVoice.synthesize`` on the same loaded voice and synthesis settings
    (``speaker`` and the voice's speaking rate).

    The real-time factor is processing seconds over seconds of audio produced, per
    call (VITS durations are random, so each call is divided by its own audio).
    """
    from piper import SynthesisConfig

    piper_voice = voice._voice
    # What the wrapper asks piper for: the voice's length scale stretched by the rate.
    syn_config = SynthesisConfig(
        speaker_id=speaker,
        length_scale=piper_voice.config.length_scale / voice.speaking_rate,
    )
    rate = voice.sample_rate

    def ours() -> _Trial:
        samples = 0
        first = None
        start = time.perf_counter()
        for chunk in voice.synthesize(text):
            if first is None:
                first = time.perf_counter()
            samples += len(chunk.audio.samples)
        end = time.perf_counter()
        return _tts_figures(start, first, end, samples / rate), None

    def raw() -> _Trial:
        samples = 0
        first = None
        start = time.perf_counter()
        for chunk in piper_voice.synthesize(text, syn_config=syn_config):
            if first is None:
                first = time.perf_counter()
            samples += len(chunk.audio_float_array)
        end = time.perf_counter()
        return _tts_figures(start, first, end, samples / rate), None

    ours_runs, raw_runs, _, _ = _alternate(ours, raw, repeats)
    return EngineBench(
        engine="tts",
        model=model or voice.model_path.stem,
        workload=f"{len(text)} characters of text",
        metrics=(
            _metric("rtf", "x", ours_runs, raw_runs),
            _metric("first_audio_s", "s", ours_runs, raw_runs),
        ),
        same_output=None,
    )


def _tts_figures(start: float, first: float | None, end: float, seconds: float) -> dict[str, float]:
    if first is None or seconds <= 0:
        raise RuntimeError("the voice produced no audio to time")
    return {"rtf": (end - start) / seconds, "first_audio_s": first - start}


def run_engines_bench(
    config: Config,
    store: ModelStore,
    options: BenchOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> EnginesReport:
    """Load the configured ASR, LLM and voice and measure each against its raw call.

    ``progress`` gets a line before each step (loading, then each engine).

    Raises:
        ModelError: a model is not installed or cannot be loaded.
    """
    from ..engines import load_chat_model, load_transcriber, load_voice

    options = options or BenchOptions()
    say = progress or (lambda _line: None)

    say("loading the engines")
    voice = load_voice(config, store)
    transcriber = load_transcriber(config, store)
    chat = load_chat_model(config, store)

    say("asr: speaking the test sentence")
    speech = make_speech(voice._voice, options.speech_text)
    say(f"asr: {config.asr.model} on {speech.duration:.1f} s of speech")
    asr = bench_asr(
        transcriber,
        speech,
        repeats=options.repeats,
        threads=config.asr.threads,
        model=config.asr.model,
    )
    say(f"llm: {config.llm.model}, up to {options.llm_tokens} tokens")
    llm = bench_llm(
        chat,
        config.llm.system_prompt,
        prompt=options.prompt,
        max_tokens=options.llm_tokens,
        seed=options.seed,
        repeats=options.repeats,
        model=config.llm.model,
    )
    say(f"tts: {config.tts.voice}")
    tts = bench_tts(
        voice,
        options.voice_text,
        speaker=config.tts.speaker,
        repeats=options.repeats,
        model=config.tts.voice,
    )
    return EnginesReport(engines=(asr, llm, tts), machine=machine_info(), options=options)
