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
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..audio import ASR_RATE, Audio, resample
from .report import (
    DEFAULT_PROMPT,
    DEFAULT_VOICE_TEXT,
    BenchOptions,
    EngineBench,
    EnginesReport,
    Metric,
    machine_info,
)

if TYPE_CHECKING:
    from ..asr import WhisperTranscriber
    from ..config import Config
    from ..llm import LlamaCppChatModel
    from ..store import ModelStore
    from ..tts import PiperVoice

__all__ = ["bench_asr", "bench_llm", "bench_tts", "make_speech", "run_engines_bench"]

log = logging.getLogger(__name__)


# A trial returns its figures by metric name, and what it produced (to check that
# ours and raw did the same work).
_Trial = tuple[dict[str, float], object]


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
            delta: dict[str, Any] = chunk["choices"][0]["delta"]  # type: ignore[index,assignment]
            content = delta.get("content")
            if content:
                if first is None:
                    first = time.perf_counter()
                parts.append(str(content))
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
    from ..asr import WhisperTranscriber
    from ..engines import load_chat_model, load_transcriber, load_voice
    from ..errors import AssistantError, ModelError
    from ..llm import LlamaCppChatModel
    from ..tts import PiperVoice

    options = options or BenchOptions()
    say = progress or (lambda _line: None)

    say("loading the engines")
    voice = load_voice(config, store)
    if not isinstance(voice, PiperVoice):
        # The TTS figures compare our wrapper with piper's own call on the same voice.
        raise AssistantError(
            f"bench engines measures Piper voices; {config.tts.voice!r} is a trained voice",
            hint="add --voice with a Piper voice id; `assistant train voice bench` "
            "measures trained voices",
        )
    transcriber = load_transcriber(config, store)
    chat = load_chat_model(config, store)
    if not isinstance(chat, LlamaCppChatModel):
        raise ModelError(
            f"`bench engines` compares llama.cpp with our wrapper; {config.llm.model} is "
            "an ONNX model",
            hint="pick a GGUF model with --llm; `assistant train llm bench` measures ONNX",
        )

    if not isinstance(transcriber, WhisperTranscriber):
        raise ModelError(
            "`bench engines` compares faster-whisper with our wrapper; [asr] backend is "
            f"{config.asr.backend!r}",
            hint='measure with [asr] backend = "local"',
        )

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
