"""PyInstaller runtime hook: a stand-in for PyAV (FFmpeg), which the bundle leaves out.

faster-whisper imports ``av`` at import time but uses it only to decode files it is given
by name; the assistant always hands it decoded samples (it reads audio with libsndfile),
so the 105 MB of FFmpeg libraries would never run. Anything that does reach for it gets
an error that says so.
"""

import sys
import types


class _NoPyAV(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"av.{name}: FFmpeg (PyAV) is not part of this bundle; the assistant decodes "
            "audio with libsndfile (WAV, FLAC, OGG, MP3)"
        )


sys.modules.setdefault("av", _NoPyAV("av"))
