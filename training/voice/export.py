"""Exporting a checkpoint as a voice the runtime speaks with: ``<name>.onnx`` and
``<name>.onnx.json``, optionally registered in the model store. A fine-tune of a Piper
voice is written as a standard Piper voice (:mod:`.piper_export`); a voice trained from
scratch with Coqui's vocabulary gets the config :class:`assistant.tts.vits.VitsVoice`
reads."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError
from assistant.fsutil import atomic_write_text
from assistant.store.catalog import check_model_id
from assistant.tts.vits import CONFIG_FORMAT

from .model import load_model, tokenizer_of

__all__ = ["ExportResult", "export_voice", "voice_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportResult:
    """Where the exported voice is."""

    onnx: Path
    """The model file."""
    config: Path
    """Its config beside it."""
    model_id: str | None
    """Id in the model store, when registered."""


def voice_config(model: Any, state: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``.onnx.json`` of a trained voice."""
    language = str(state.get("language", "en-us"))
    return {
        "format": CONFIG_FORMAT,
        "version": 1,
        "name": name,
        "language": language,
        "audio": {"sample_rate": int(model.config.audio.sample_rate)},
        "phonemizer": {"kind": "espeak-ng (piper-tts)", "voice": language},
        "tokenizer": tokenizer_of(model).to_dict(),
        "inference": {
            "noise_scale": float(model.inference_noise_scale),
            "length_scale": float(model.length_scale),
            "noise_scale_w": float(model.inference_noise_scale_dp),
        },
        "training": {"step": int(state.get("step", 0)), "preset": state.get("preset")},
    }


def export_voice(
    checkpoint: Path,
    output_dir: Path,
    name: str,
    *,
    register: bool = False,
    store: Any = None,
) -> ExportResult:
    """Write ``output_dir/<name>.onnx`` and its config from ``checkpoint``; with
    ``register``, add the folder to ``store`` as voice ``name`` (replacing an earlier
    trained voice of that id)."""
    check_model_id(name)
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise AssistantError(
            f"checkpoint {checkpoint} does not exist",
            hint="pass a .pt file from a run's checkpoints/ folder, or the run folder",
        )
    model, state = load_model(checkpoint)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    onnx = output_dir / f"{name}.onnx"
    config_path = Path(f"{onnx}.json")
    if state.get("piper"):
        from .piper_export import export_piper_onnx, piper_config

        config = piper_config(state, name)
        export_piper_onnx(model, onnx, num_speakers=int(config.get("num_speakers", 1)))
        atomic_write_text(config_path, json.dumps(config, indent=2, ensure_ascii=False))
        return _registered(onnx, config_path, checkpoint, state, name, register, store, output_dir)
    fd, tmp = tempfile.mkstemp(prefix=f".{onnx.name}.", suffix=".tmp", dir=output_dir)
    os.close(fd)
    try:
        # Coqui's export works on a copy with weight norm removed (the trained model is
        # left as it is); verbose=False keeps the graph dump out of the log.
        model.export_onnx(output_path=tmp, verbose=False)
        os.replace(tmp, onnx)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    atomic_write_text(
        config_path, json.dumps(voice_config(model, state, name), indent=2, ensure_ascii=False)
    )
    return _registered(onnx, config_path, checkpoint, state, name, register, store, output_dir)


def _registered(
    onnx: Path,
    config_path: Path,
    checkpoint: Path,
    state: dict[str, Any],
    name: str,
    register: bool,
    store: Any,
    output_dir: Path,
) -> ExportResult:
    log.info("exported %s (step %s) to %s", checkpoint, state.get("step"), onnx)
    model_id = None
    if register:
        if store is None:
            raise ValueError("register=True needs a store")
        with_existing = {m.id: m for m in store.installed()}
        old = with_existing.get(name)
        if old is not None and old.source == "trained" and old.folder != output_dir.absolute():
            store.remove(name)
        model_id = store.register(
            output_dir,
            "voice",
            name,
            source="trained",
            name=name,
            licence="your own",
            language=str(state.get("language", "")),
            origin=str(checkpoint),
        ).id
    return ExportResult(onnx, config_path, model_id)
