"""Exporting a fine-tune of a Piper voice as a standard Piper voice: ``<name>.onnx`` with
Piper's graph signature (``input``, ``input_lengths``, ``scales``[, ``sid``] ->
``output``) and ``<name>.onnx.json`` in Piper's config format (the base's, with this
voice's name and training record), so it runs in this runtime, in ``piper`` and in Home
Assistant."""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["export_piper_onnx", "piper_config"]

log = logging.getLogger(__name__)

OPSET = 15
"""Piper's export uses opset 15."""


def piper_config(state: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``.onnx.json`` of the fine-tuned voice: the base's config (phoneme map,
    espeak voice, inference scales, speakers) with this voice's name."""
    config = copy.deepcopy(state["piper"])
    config["dataset"] = name
    config.setdefault("audio", {})
    config["training"] = {
        "step": int(state.get("step", 0)),
        "preset": state.get("preset"),
        "fine_tuned_from": state["piper"].get("dataset"),
    }
    speaker = state.get("speaker")
    if speaker is not None:
        # One speaker was fine-tuned; the table keeps the others as they were.
        config["training"]["speaker"] = int(speaker)
    return config


def _strip_weight_norm(model: Any) -> None:
    """Fold weight normalisation into plain weights (what Piper's ONNX files hold)."""
    import torch
    from torch.nn.utils import parametrize

    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for pname in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, pname, leave_parametrized=True)
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            torch.nn.utils.remove_weight_norm(module)


def export_piper_onnx(model: Any, onnx_path: Path, *, num_speakers: int = 1) -> None:
    """Write the generator of ``model`` (a Coqui ``Vits``) to ``onnx_path`` atomically."""
    import torch

    from .infer import PiperGraph

    gen = copy.deepcopy(model).cpu().float().eval()
    for part in ("disc", "posterior_encoder"):
        if hasattr(gen, part):
            setattr(gen, part, None)
    _strip_weight_norm(gen)
    graph = PiperGraph(gen).eval()
    ids = torch.randint(low=0, high=int(gen.args.num_chars), size=(1, 50), dtype=torch.long)
    lengths = torch.tensor([ids.shape[1]], dtype=torch.long)
    scales = torch.tensor([0.667, 1.0, 0.8], dtype=torch.float32)
    args: tuple[Any, ...] = (ids, lengths, scales)
    names = ["input", "input_lengths", "scales"]
    if num_speakers > 1:
        args = (*args, torch.tensor([0], dtype=torch.long))
        names.append("sid")
    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{onnx_path.name}.", suffix=".tmp", dir=onnx_path.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(
                graph,
                args,
                tmp,
                opset_version=OPSET,
                input_names=names,
                output_names=["output"],
                dynamic_axes={
                    "input": {0: "batch_size", 1: "phonemes"},
                    "input_lengths": {0: "batch_size"},
                    "output": {0: "batch_size", 2: "time"},
                },
                dynamo=False,
            )
        os.replace(tmp, onnx_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("exported a Piper voice to %s", onnx_path)
