"""The model store and catalog.

:class:`Catalog` says which models exist (``models/catalog.toml``); :class:`ModelStore`
says which are installed on this machine and manages them: list, verify, import,
register (trained models), remove, and pull (the only code that downloads anything,
and only when asked).
"""

from __future__ import annotations

from .catalog import KINDS, PIPELINE_KINDS, Catalog, CatalogEntry, ModelFile, catalog_path
from .install import human_size
from .installed import InstalledModel
from .manifest import SOURCES
from .pull import PullCancelled
from .store import ModelStore
from .verify import VerifyResult

__all__ = [
    "KINDS",
    "PIPELINE_KINDS",
    "SOURCES",
    "Catalog",
    "CatalogEntry",
    "InstalledModel",
    "ModelFile",
    "ModelStore",
    "PullCancelled",
    "VerifyResult",
    "catalog_path",
    "human_size",
]
