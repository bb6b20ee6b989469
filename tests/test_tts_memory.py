"""A voice gives back the memory its longest sentence took (onnxruntime's arena), so a
long conversation does not stay at the size of its longest sentence."""

from __future__ import annotations

from pathlib import Path

from assistant.memtrim import release_free_memory
from assistant.tts import PiperVoice, ReleasesMemory

LONG = " ".join(["The quick brown fox jumps over the lazy dog near the river bank today."] * 4)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_piper_voice_releases_what_a_long_sentence_took(piper_onnx: Path):
    voice = PiperVoice(piper_onnx, device="cpu")
    assert isinstance(voice, ReleasesMemory)
    list(voice.synthesize(LONG))
    release_free_memory()
    after_long = _rss_mib()
    voice.release_memory()
    release_free_memory()
    released = _rss_mib()
    # A 48-word sentence leaves ~100-170 MiB in the arena; malloc_trim alone keeps it.
    assert after_long - released > 50, (after_long, released)
    chunks = list(voice.synthesize("Still speaking."))
    assert chunks and chunks[0].audio.samples.size > voice.sample_rate // 4
