"""What every command gets: the loaded config and lazily opened shared objects."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config, load_config

if TYPE_CHECKING:
    from ..store import ModelStore

__all__ = ["CliContext"]


@dataclass
class CliContext:
    """Per-invocation state shared by commands."""

    config_path: Path | None
    """``--config`` as given, or ``None`` for the default location."""
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)
    _store: ModelStore | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CliContext:
        return cls(config_path=Path(args.config) if args.config else None, debug=args.debug)

    @property
    def config(self) -> Config:
        """The config, loaded on first use (so a broken file fails inside error handling)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> ModelStore:
        """The model store described by the config."""
        if self._store is None:
            from ..store import ModelStore

            self._store = ModelStore.from_config(self.config.models)
        return self._store

    def close(self) -> None:
        """Release what commands opened."""
