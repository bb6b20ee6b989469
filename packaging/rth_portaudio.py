"""PyInstaller runtime hook: sounddevice loads the PortAudio library that ships inside the
bundle, not whichever one the system has (or lacks).

sounddevice looks PortAudio up with ``ctypes.util.find_library("portaudio")``, which on
Linux searches only the system's library paths; this points that one name at the bundled
copy, so the app runs where no libportaudio2 is installed and never mixes versions.
"""

import ctypes.util
import os
import sys

_BUNDLED = os.path.join(getattr(sys, "_MEIPASS", ""), "libportaudio.so.2")

if os.path.isfile(_BUNDLED):
    _find_library = ctypes.util.find_library

    def _find_bundled_first(name: str):
        if name == "portaudio":
            return _BUNDLED
        return _find_library(name)

    ctypes.util.find_library = _find_bundled_first
