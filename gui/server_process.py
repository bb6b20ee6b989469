"""The settings' "serve the models" switch: ``assistant serve`` as a child process while
the app is open (its own engines, so a busy client never slows the app's own turns)."""

from __future__ import annotations

import logging
import subprocess
import sys

from assistant.config import Config

__all__ = ["ServerProcess"]

log = logging.getLogger(__name__)


class ServerProcess:
    """Starts, restarts and stops the server to match ``config.serve``."""

    def __init__(self, config_path: str | None = None) -> None:
        self.config_path = config_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._running_for: tuple[str, int] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def apply(self, config: Config) -> None:
        """Start the server if the switch is on (restart on a new address), else stop it."""
        wanted = (config.serve.host, config.serve.port) if config.serve.enabled else None
        if wanted == self._running_for and (wanted is None or self.running):
            return
        self.stop()
        if wanted is None:
            return
        command = [sys.executable, "-m", "assistant"]
        if self.config_path:
            command += ["--config", self.config_path]
        command += ["serve", "--port", str(config.serve.port)]
        log.info("starting the server: %s", " ".join(command))
        self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        self._running_for = wanted

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self._running_for = None
