"""Speech recognition on any OpenAI-compatible server (``[asr] backend = "openai"``).

Posts each utterance as a 16 kHz WAV to ``{base_url}/audio/transcriptions`` and reads
``verbose_json`` back (segments included), with the standard library alone. A
connection is opened only to transcribe, and only to the configured ``base_url``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any

from ..audio import ASR_RATE, Audio, write_wav
from ..config import AsrConfig
from ..errors import EngineError
from ..multipart import form_data
from .base import Segment, Transcript

__all__ = ["API_KEY_ENV", "OpenAiTranscriber"]

log = logging.getLogger(__name__)

API_KEY_ENV = "ASSISTANT_ASR_API_KEY"
"""Environment variable that overrides ``asr.api_key``."""


class OpenAiTranscriber:
    """A transcriber behind the OpenAI transcription API.

    Args:
        base_url: the API root, e.g. ``http://gpu-box:8080/v1``.
        model: the model's name there (``whisper-1`` for most servers).
        api_key: bearer key; empty sends none.
        language: language code, or ``auto``/empty to let the server detect it.
        timeout_s: how long to wait for an answer.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        language: str = "en",
        timeout_s: float = 120.0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise EngineError(
                f"the remote speech recogniser's base_url must be an http(s) URL, not {base_url!r}",
                hint='set [asr] base_url, e.g. "http://gpu-box:8080/v1"',
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.language = None if language in ("", "auto") else language
        self.timeout_s = timeout_s
        self._api_key = api_key
        log.info("remote speech recogniser %s at %s", model, self.base_url)

    @classmethod
    def from_config(cls, config: AsrConfig) -> OpenAiTranscriber:
        return cls(
            config.base_url,
            config.model,
            api_key=os.environ.get(API_KEY_ENV, config.api_key),
            language=config.language,
        )

    def transcribe(
        self, audio: Audio, *, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """Send the audio (as 16 kHz WAV) and return the server's transcript."""
        wav = io.BytesIO()
        write_wav(wav, audio.at_rate(ASR_RATE))
        fields = {"model": self.model, "response_format": "verbose_json"}
        if language or self.language:
            fields["language"] = str(language or self.language)
        if prompt:
            fields["prompt"] = prompt
        body, content_type = form_data(fields, wav.getvalue())
        headers = {"Content-Type": content_type}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            f"{self.base_url}/audio/transcriptions", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise EngineError(
                f"the speech recognition server at {self.base_url} answered {exc.code}: "
                f"{_message(exc)}"
            ) from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise EngineError(
                f"cannot reach the speech recognition server at {self.base_url}: "
                f"{getattr(exc, 'reason', exc)}",
                hint="check [asr] base_url and that the server is running",
            ) from exc
        except json.JSONDecodeError as exc:
            raise EngineError(
                f"the speech recognition server at {self.base_url} sent no JSON"
            ) from exc
        return _transcript(data, audio.duration, language or self.language or "")


def _transcript(data: Any, duration: float, language: str) -> Transcript:
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise EngineError("the speech recognition server's answer has no 'text'")
    segments = tuple(
        Segment(
            start=float(s.get("start", 0.0)),
            end=float(s.get("end", 0.0)),
            text=str(s.get("text", "")).strip(),
            avg_logprob=float(s.get("avg_logprob", 0.0)),
            no_speech_prob=float(s.get("no_speech_prob", 0.0)),
        )
        for s in data.get("segments") or []
        if isinstance(s, dict)
    )
    return Transcript(
        text=data["text"].strip(),
        segments=segments,
        language=str(data.get("language") or language),
        duration=float(data.get("duration") or duration),
    )


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read() or b"{}")["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return str(exc.reason)
