"""What other packages plug into the runtime: commands, benchmarks, the default app and
self-test checks.

The runtime sits at the bottom: ``assistant`` never imports ``gui`` or ``training``, not
even lazily. Packages built on it declare entry points (``pyproject.toml``)::

    [project.entry-points."assistant.commands"]   # register(subparsers): top-level commands
    [project.entry-points."assistant.bench"]      # register(subparsers): `bench NAME`
    [project.entry-points."assistant.app"]        # an App: what runs when no command is given
    [project.entry-points."assistant.selftest"]   # check(engines, config, home) -> str

They are found in the installed distributions' metadata and, when the runtime runs from a
source checkout, in the checkout's ``pyproject.toml`` too (an editable install made before
an entry point was added does not list it). An entry point whose package cannot be
imported (an extra that is not installed) is skipped, with a debug log line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .cli.context import CliContext

__all__ = ["GROUPS", "App", "PluginEntry", "app", "entries", "load", "registrars"]

log = logging.getLogger(__name__)

GROUPS = ("assistant.commands", "assistant.bench", "assistant.app", "assistant.selftest")

_CHECKOUT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@runtime_checkable
class App(Protocol):
    """The application that runs when ``assistant`` is started with no command."""

    install_hint: str
    """How to get it when :meth:`available` is false."""

    def available(self) -> bool:
        """Whether it can run here (its toolkit is installed)."""
        ...

    def run(self, args: argparse.Namespace, ctx: CliContext) -> int:
        """Run it; returns the exit code."""
        ...


@dataclass(frozen=True)
class PluginEntry:
    """One entry point: ``name = "module:attribute"`` in ``group``."""

    group: str
    name: str
    value: str

    def load(self) -> object:
        """Import the module and return the attribute.

        Raises:
            ImportError: the package (or what it needs) is not installed.
        """
        module_name, _, attribute = self.value.partition(":")
        target: object = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            target = getattr(target, part)
        return target


def _from_checkout(group: str) -> dict[str, str]:
    if not _CHECKOUT.is_file():
        return {}
    try:
        project = tomllib.loads(_CHECKOUT.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.debug("cannot read %s: %s", _CHECKOUT, exc)
        return {}
    table = project.get("entry-points", {}).get(group, {})
    return {str(k): str(v) for k, v in table.items()}


def entries(group: str) -> list[PluginEntry]:
    """The entry points of ``group``, by name (the source checkout's win over installed
    ones of the same name)."""
    found = {ep.name: ep.value for ep in entry_points(group=group)}
    found.update(_from_checkout(group))
    return [PluginEntry(group, name, found[name]) for name in sorted(found)]


def load(group: str) -> list[tuple[str, object]]:
    """Every entry point of ``group`` that can be imported here, loaded, by name."""
    loaded: list[tuple[str, object]] = []
    for entry in entries(group):
        try:
            loaded.append((entry.name, entry.load()))
        except ImportError as exc:
            log.debug("plug-in %s %r is not available: %s", group, entry.name, exc)
    return loaded


def registrars(group: str) -> list[tuple[str, Callable[[object], None]]]:
    """The callables of a ``register(subparsers)`` group."""
    found: list[tuple[str, Callable[[object], None]]] = []
    for name, target in load(group):
        if callable(target):
            found.append((name, target))
        else:
            log.warning("plug-in %s %r is not callable: ignored", group, name)
    return found


def app() -> App | None:
    """The default application, if one is plugged in."""
    for name, target in load("assistant.app"):
        if isinstance(target, App):
            return target
        log.warning("plug-in assistant.app %r is not an App: ignored", name)
    return None
