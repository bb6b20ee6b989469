"""Bases that are trained voices rather than our own checkpoints: a Piper voice
(``.onnx`` + ``.onnx.json``), found by path or by the id of an installed voice, or a
Piper training checkpoint (``.ckpt``, see :mod:`.piper_ckpt`); which of
the model's parameters came from it; and which speaker of a multi-speaker base to train."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError

from .piper_base import PiperBase, coqui_name, read_piper_voice

if TYPE_CHECKING:
    from assistant.store import ModelStore

__all__ = [
    "coqui_base_config",
    "imported_params",
    "is_voice_base",
    "load_voice_base",
    "pick_speaker",
    "resolve_voice",
]

log = logging.getLogger(__name__)

VOICE_SUFFIXES = (".onnx", ".ckpt")


def is_voice_base(path: Path) -> bool:
    """Whether ``path`` is a base of this module's kinds (by suffix)."""
    return Path(path).suffix.lower() in VOICE_SUFFIXES


def resolve_voice(spec: str, store: ModelStore) -> Path | None:
    """The ``.onnx`` of an installed Piper voice called ``spec``; None when no installed
    voice has that id."""
    for model in store.installed():
        if model.id == spec and model.kind == "voice":
            return Path(model.path)
    return None


def load_voice_base(path: Path) -> PiperBase:
    """The base's weights and sizes: a Piper voice, or a Piper training checkpoint."""
    if Path(path).suffix.lower() == ".ckpt":
        from .piper_ckpt import read_piper_checkpoint

        return read_piper_checkpoint(Path(path))
    return read_piper_voice(Path(path))


def imported_params(model: Any, base: PiperBase) -> set[str]:
    """Names of ``model``'s parameters that hold the base's weights."""
    own = {name for name, _ in model.named_parameters()}
    found: set[str] = set()
    for name in base.weights:
        target = coqui_name(name)
        if target in own:
            found.add(target)
            continue
        stem = target.rsplit(".", 1)[0]
        for part in ("original0", "original1"):
            candidate = f"{stem}.parametrizations.weight.{part}"
            if candidate in own:
                found.add(candidate)
    return found


def pick_speaker(base: PiperBase, spec: str | None) -> int | None:
    """The speaker id to train from a multi-speaker base (``None`` for one speaker)."""
    if base.num_speakers <= 1:
        if spec not in (None, "", "0"):
            log.warning("%s has one speaker; --speaker %s ignored", base.onnx.name, spec)
        return None
    names = base.speaker_id_map
    listing = ", ".join(list(names)[:8]) + (" ..." if len(names) > 8 else "")
    if spec is None:
        raise AssistantError(
            f"{base.onnx} has {base.num_speakers} speakers: say which one to start from",
            hint=f"pass --speaker NAME or a number below {base.num_speakers} ({listing})",
        )
    if spec in names:
        return names[spec]
    if spec.isdigit() and int(spec) < base.num_speakers:
        return int(spec)
    raise AssistantError(
        f"{base.onnx} has no speaker {spec!r}",
        hint=f"its speakers: {listing} (or a number below {base.num_speakers})",
    )


def coqui_base_config(path: Path) -> tuple[Any, Any] | None:
    """(VitsConfig, preset) of a Coqui VITS ``.pth`` from the ``config.json`` Coqui
    publishes beside it; None when there is none (the preset's sizes are used then)."""
    import json

    path = Path(path)
    config_path = path.parent / "config.json"
    if path.suffix.lower() != ".pth" or not config_path.is_file():
        return None
    from .model import config_from_dict
    from .presets import Preset

    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
        if data.get("model") not in (None, "vits"):
            raise ValueError(f"model {data.get('model')!r}, not vits")
        config = config_from_dict(data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise AssistantError(
            f"{config_path} is not a Coqui VITS config ({exc})",
            hint="a Coqui base is its model .pth with the config.json it was trained with",
        ) from exc
    preset = Preset(
        "coqui-base",
        {},
        batch_size=int(config.batch_size),
        lr=float(config.lr_gen),
        steps=20000,
        checkpoint_every=1000,
        sample_rate=int(config.audio.sample_rate),
    )
    return config, preset
