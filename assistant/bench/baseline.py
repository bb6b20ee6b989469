"""The naive sequential pipeline ``bench latency`` compares the live one with: hear the
whole question through the same endpointer in real time, then transcribe all, generate
all, synthesize all, and play it on a simulated speaker. Its clock starts at the same
point as the live pipeline's (the endpointer's end of speech), so it also includes the
endpointer's ``min_silence_ms`` wait.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from ..audio import ASR_RATE, Audio
from ..audio.playback import Player
from ..config import Config
from ..errors import EngineError
from ..llm import complete, fit_to_context
from ..reply import build_messages, generation_options
from ..text import speakable
from ..tts import synthesize_all
from ..vad import Endpointer, SpeechEnded
from .live import LiveSource
from .report import LatencyTurn

if TYPE_CHECKING:
    from ..engines import Engines

__all__ = ["SequentialBaseline"]

_SILENCE_AFTER = 10.0  # seconds of silence the baseline waits for an end of speech
_SETTLE = 0.3  # seconds of quiet between turns, so no turn starts in another's tail


class SequentialBaseline:
    """Hear the whole question, then transcribe all, generate all, synthesize all."""

    def __init__(self, engines: Engines, config: Config, timeout: float) -> None:
        self.engines = engines
        self.config = config
        self.options = generation_options(config)
        self.timeout = timeout
        self.player = Player(engines.voice.sample_rate, simulated=True, keep=False)
        self._started: list[float] = []
        self._playing = threading.Event()
        self.player.on_started = self._on_started

    def _on_started(self, _tag: object) -> None:
        self._started.append(time.monotonic())
        self._playing.set()

    def close(self) -> None:
        self.player.close()

    def _end_of_speech(self, samples: np.ndarray) -> tuple[float, np.ndarray]:
        """Play ``samples`` in real time into a fresh endpointer, as the live capture
        thread does: (``time.monotonic()`` of the end of speech, the utterance)."""
        endpointer = Endpointer(self.engines.vad, self.config.vad)
        source = LiveSource()
        source.say(samples)
        limit = (len(samples) / ASR_RATE + _SILENCE_AFTER) * ASR_RATE
        blocks = source.blocks()
        try:
            for block in blocks:
                events = endpointer.push(block)
                now = time.monotonic()
                for event in events:
                    if isinstance(event, SpeechEnded):
                        behind = (endpointer.position - event.at) / ASR_RATE
                        return now - behind, event.utterance
                if endpointer.position > limit:
                    break
        finally:
            blocks.close()
        raise EngineError("the endpointer found no end of speech in a benchmark question")

    def ask(self, name: str, samples: np.ndarray, round_: int) -> LatencyTurn:
        engines, config = self.engines, self.config
        speech_end, utterance = self._end_of_speech(samples)
        heard = engines.transcriber.transcribe(Audio(utterance, ASR_RATE)).text
        steps = {"transcript": time.monotonic() - speech_end}
        if not heard.strip():
            return LatencyTurn("baseline", name, round_, heard, "", None, steps)
        messages = build_messages(config.llm.system_prompt, (), heard)
        messages = fit_to_context(engines.chat, messages, self.options.max_tokens)
        reply = complete(engines.chat, messages, self.options).strip()
        steps["reply_text"] = time.monotonic() - speech_end
        audio = synthesize_all(engines.voice, speakable(reply, engines.voice.language))
        steps["reply_audio"] = time.monotonic() - speech_end
        first_audio = None
        if len(audio.samples):
            self._playing.clear()
            self.player.play(audio)
            if self._playing.wait(self.timeout):
                first_audio = self._started[-1] - speech_end
            self.player.stop()
            self.player.wait(self.timeout)
        time.sleep(_SETTLE)
        return LatencyTurn("baseline", name, round_, heard, reply, first_audio, steps)
