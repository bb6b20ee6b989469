"""A Piper training checkpoint (``.ckpt``, PyTorch Lightning, as piper1-gpl writes and as
voices are published for fine-tuning) as a base.

Layout (piper1-gpl ``VitsModel``): ``state_dict`` holds the generator under ``model_g.``
(``enc_p``, ``enc_q``, ``dp``, ``flow``, ``dec``, ``emb_g``) and the discriminator under
``model_d.``; weight-normalised layers are stored as ``weight_g``/``weight_v`` pairs;
``hyper_parameters`` holds the sizes. The phoneme map is not in it: it comes from the
voice's ``.onnx.json`` (or ``config.json``) beside the checkpoint.

Unlike an ONNX voice, a checkpoint also carries the posterior encoder and the duration
predictor's posterior flows, so those start trained too; only the discriminator (whose
layout differs from Coqui's) starts fresh.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError

from .piper_base import PiperBase, describe_voice

__all__ = ["find_voice_config", "read_piper_checkpoint"]

log = logging.getLogger(__name__)


def find_voice_config(ckpt: Path) -> Path:
    """The voice config beside a checkpoint: ``<stem>.onnx.json``, ``<stem>.json``, any
    single ``*.onnx.json`` or ``config.json``."""
    folder = ckpt.parent
    candidates = [
        folder / f"{ckpt.stem}.onnx.json",
        folder / f"{ckpt.stem}.json",
        *sorted(folder.glob("*.onnx.json")),
        folder / "config.json",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise AssistantError(
        f"{ckpt} has no voice config beside it (its phoneme map)",
        hint=f"put the voice's .onnx.json (or config.json) in {folder}",
    )


def _fold(weights: dict[str, Any]) -> dict[str, np.ndarray]:
    """Generator tensors as plain arrays, weight norm folded (w = g * v / |v|)."""
    import torch

    out: dict[str, np.ndarray] = {}
    for key, value in weights.items():
        if key.endswith(".weight_v"):
            stem = key[: -len(".weight_v")]
            g = weights[f"{stem}.weight_g"]
            out[f"{stem}.weight"] = torch._weight_norm(value.float(), g.float(), 0).numpy()
        elif key.endswith(".weight_g"):
            continue
        elif key.endswith(".parametrizations.weight.original1"):
            stem = key[: -len(".parametrizations.weight.original1")]
            g = weights[f"{stem}.parametrizations.weight.original0"]
            out[f"{stem}.weight"] = torch._weight_norm(value.float(), g.float(), 0).numpy()
        elif key.endswith(".parametrizations.weight.original0"):
            continue
        else:
            out[key] = value.float().numpy()
    return out


def read_piper_checkpoint(path: Path) -> PiperBase:
    """Weights and sizes of a Piper ``.ckpt``; one-line errors for other layouts."""
    import torch

    path = Path(path)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise AssistantError(f"cannot read checkpoint {path}: {exc}") from exc
    sd = state.get("state_dict") if isinstance(state, dict) else None
    hp = state.get("hyper_parameters") if isinstance(state, dict) else None
    if not isinstance(sd, dict) or not any(k.startswith("model_g.") for k in sd):
        raise AssistantError(
            f"{path} is not a Piper training checkpoint (no state_dict with model_g.* weights)",
            hint="pass a Piper .ckpt (PyTorch Lightning), a Piper voice .onnx, or a Coqui .pth",
        )
    hp = dict(hp or {})
    config_path = find_voice_config(path)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssistantError(f"cannot read {config_path}: {exc}") from exc
    weights = _fold({k[len("model_g.") :]: v for k, v in sd.items() if k.startswith("model_g.")})
    rates = list(hp.get("upsample_rates", (8, 8, 4)))
    strides = {f"dec.ups.{i}": int(r) for i, r in enumerate(rates)}
    dilations: dict[str, int] = {}
    kind = str(hp.get("resblock", "2"))
    first = "convs1" if kind == "1" else "convs"
    for j, ds in enumerate(hp.get("resblock_dilation_sizes", ((1, 2), (2, 6), (3, 12)))):
        for i, d in enumerate(ds):
            dilations[f"dec.resblocks.{j}.{first}.{i}"] = int(d)
    config.setdefault("audio", {}).setdefault("sample_rate", int(hp.get("sample_rate", 22050)))
    config.setdefault("num_speakers", int(hp.get("num_speakers", 1)))
    base = describe_voice(path, config, weights, strides, dilations)
    log.info("%s: Piper checkpoint, %d generator tensors", path.name, len(weights))
    return base
