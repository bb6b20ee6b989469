"""The runtime stays small and offline: no torch, no Qt, no network, ever."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Runs a whole spoken turn in a fresh interpreter with guards installed first: any
# attempt to import a training/GUI library or to open a network connection is recorded
# (and refused), so even an attempt that the code catches and survives is seen.
_GUARDED_TURN = textwrap.dedent(
    """
    import importlib.abc, json, socket, sys

    FORBIDDEN = ("torch", "PySide6", "TTS", "transformers", "peft", "tensorflow")
    attempts = {"imports": [], "network": []}

    class Guard(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                attempts["imports"].append(name)
                raise ImportError(f"{name} is forbidden in the runtime")
            return None

    sys.meta_path.insert(0, Guard())

    def refuse(kind):
        def _refuse(*args, **kwargs):
            attempts["network"].append(f"{kind} {args[:2]!r}")
            raise OSError(f"network access is disabled ({kind})")
        return _refuse

    real_connect = socket.socket.connect
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            return refuse("connect")(address)
        return real_connect(self, address)
    socket.socket.connect = connect
    socket.socket.connect_ex = lambda self, address: connect(self, address)
    socket.create_connection = refuse("create_connection")
    socket.getaddrinfo = refuse("getaddrinfo")

    from assistant.cli import main
    code = main(sys.argv[1:])
    attempts["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
    attempts["code"] = code
    print("GUARD " + json.dumps(attempts))
    """
)


@pytest.fixture(scope="module")
def guarded_turn(tmp_path_factory, speak):
    out = tmp_path_factory.mktemp("offline") / "reply.wav"
    question = speak("What is the tallest mountain in the world?")
    result = subprocess.run(
        [sys.executable, "-c", _GUARDED_TURN, "talk", "-i", str(question), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("GUARD ")]
    assert lines, result.stdout + result.stderr
    return json.loads(lines[-1][len("GUARD ") :]), out


def test_a_whole_turn_works_with_the_network_disabled(guarded_turn):
    attempts, reply = guarded_turn
    assert attempts["code"] == 0
    assert reply.stat().st_size > 10_000
    assert attempts["network"] == []


def test_a_whole_turn_never_imports_torch_or_qt(guarded_turn):
    attempts, _ = guarded_turn
    assert attempts["code"] == 0
    assert attempts["imports"] == [] and attempts["loaded"] == []
