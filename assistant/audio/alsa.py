"""Keeping ALSA's own messages out of the terminal.

PortAudio reaches the sound card (or the sound server) through ALSA, whose library
prints lines such as "ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred" straight
to stderr, in the middle of a conversation shown in the terminal. They are routed to the
log instead (debug level: ``--debug`` shows them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

__all__ = ["silence_alsa_messages"]

log = logging.getLogger(__name__)

# void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
# The variadic arguments are not read, so the fixed part is enough to receive the call.
_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
_installed: list[Any] = []  # the C callback must outlive every ALSA call


def _to_log(file: bytes | None, line: int, function: bytes | None, err: int,
            fmt: bytes | None) -> None:  # fmt: skip
    log.debug(
        "ALSA %s:%d (%s): %s",
        (file or b"?").decode(errors="replace"),
        line,
        (function or b"?").decode(errors="replace"),
        (fmt or b"").decode(errors="replace"),
    )


def silence_alsa_messages() -> bool:
    """Send libasound's messages to the log; False when there is no libasound."""
    if _installed:
        return True
    name = ctypes.util.find_library("asound")
    if name is None:
        return False
    try:
        library = ctypes.CDLL(name)
        handler = _HANDLER(_to_log)
        library.snd_lib_error_set_handler(handler)
    except (OSError, AttributeError) as exc:
        log.debug("cannot quiet ALSA: %s", exc)
        return False
    _installed.append((library, handler))
    return True
