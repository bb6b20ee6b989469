"""The offline voice assistant's runtime: config, model store, audio, VAD, speech
recognition, language model, voice, and the command line.

Never imports torch or Qt: the shipped app stays small, and training is an install extra.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("offline-voice-assistant")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
