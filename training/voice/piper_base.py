"""A Piper voice (``.onnx`` + ``.onnx.json``) as the base of a fine-tune.

A Piper voice is a VITS generator exported by torch: its ONNX file holds the text
encoder (``enc_p``), the duration predictor (``dp``), the flow (``flow``), the decoder
(``dec``) and, for several speakers, the speaker table (``emb_g``), with weight
normalisation folded into plain weights. Some convolution weights were renamed by the
exporter's constant folding (``onnx::Conv_123``); their layer is read back from the name
of the ``Conv`` node that consumes them (``/dec/ups.0/ConvTranspose`` -> ``dec.ups.0``).

Everything the training model's size depends on is read from the voice itself (tensor
shapes, the decoder's strides and dilations from the graph's node attributes, the rate,
speakers and phoneme map from the JSON), so a voice of any Piper quality (x_low, low,
medium, high) gives its own preset; nothing here lists qualities by hand.

What an ONNX voice lacks for training (posterior encoder, the duration predictor's
posterior flows and its first flow, which inference never runs, and the discriminator)
starts fresh; :mod:`.fit` brings those parts up before the imported ones move.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import AssistantError

__all__ = [
    "PiperBase",
    "coqui_name",
    "describe_voice",
    "imported_names",
    "load_into",
    "model_from_piper",
    "quality_name",
    "read_piper_voice",
]

log = logging.getLogger(__name__)

_PARTS = ("enc_p.", "dp.", "flow.", "dec.", "emb_g.")


@dataclass(frozen=True)
class PiperBase:
    """What a Piper voice brings to training."""

    onnx: Path
    """The model file."""
    config: dict[str, Any]
    """Its ``.onnx.json`` as read."""
    weights: dict[str, np.ndarray]
    """Generator weights under Piper's training names (``enc_p.emb.weight``...)."""
    model_args: dict[str, Any]
    """Coqui ``VitsArgs`` of the same shape."""
    sdp_channels: int | None
    """Width of the stochastic duration predictor (Piper's equals the hidden size; Coqui
    fixes 192), ``None`` for a deterministic one."""
    sample_rate: int
    """Rate of the voice."""
    num_speakers: int = 1
    """Speakers in its table."""
    speaker_id_map: dict[str, int] = field(default_factory=dict)
    """Speaker names -> ids (empty for one speaker)."""

    @property
    def phoneme_id_map(self) -> dict[str, list[int]]:
        """Phoneme -> ids, the voice's own inventory."""
        return dict(self.config.get("phoneme_id_map", {}))

    @property
    def language(self) -> str:
        """espeak-ng voice of the phonemes."""
        return str(self.config.get("espeak", {}).get("voice", "en-us"))

    @property
    def inference(self) -> dict[str, float]:
        """noise_scale, length_scale, noise_w."""
        inf = self.config.get("inference", {})
        return {
            "noise_scale": float(inf.get("noise_scale", 0.667)),
            "length_scale": float(inf.get("length_scale", 1.0)),
            "noise_w": float(inf.get("noise_w", 0.8)),
        }


def _not_vits(path: Path, why: str) -> AssistantError:
    return AssistantError(
        f"{path} is not a VITS-shaped Piper voice ({why})",
        hint="pick a Piper voice (.onnx with its .onnx.json) exported by Piper's trainer",
    )


def _module_of(node_name: str) -> str | None:
    """``/dec/ups.0/ConvTranspose`` -> ``dec.ups.0``; None when the node has no scope."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) < 2:
        return None
    return ".".join(parts[:-1])


def read_piper_voice(onnx_path: Path) -> PiperBase:
    """Read a Piper voice's weights and sizes; a one-line :class:`AssistantError` when it
    is not one (unreadable, no config, not VITS-shaped)."""
    import onnx
    from onnx import numpy_helper

    onnx_path = Path(onnx_path)
    config_path = Path(f"{onnx_path}.json")
    if not onnx_path.is_file():
        raise AssistantError(f"voice file {onnx_path} does not exist")
    if not config_path.is_file():
        raise AssistantError(
            f"{onnx_path} has no {config_path.name} beside it",
            hint="a Piper voice is the .onnx and its .onnx.json; copy both",
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssistantError(f"cannot read {config_path}: {exc}") from exc
    if not isinstance(config, dict) or "phoneme_id_map" not in config:
        raise _not_vits(config_path, "no phoneme_id_map: not a Piper voice config")
    try:
        graph = onnx.load(str(onnx_path)).graph
    except Exception as exc:  # protobuf raises several kinds
        raise AssistantError(f"cannot read {onnx_path} as ONNX: {exc}") from exc

    inits = {t.name: t for t in graph.initializer}
    weights: dict[str, np.ndarray] = {}
    strides: dict[str, int] = {}
    dilations: dict[str, int] = {}
    for node in graph.node:
        module = _module_of(node.name)
        if node.op_type in ("Conv", "ConvTranspose") and module:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "ConvTranspose":
                strides[module] = int(next(iter(attrs.get("strides", [1]))))
            dilations[module] = int(next(iter(attrs.get("dilations", [1]))))
            for slot, suffix in ((1, "weight"), (2, "bias")):
                if len(node.input) > slot and node.input[slot] in inits:
                    name = node.input[slot]
                    key = name if name.startswith(_PARTS) else f"{module}.{suffix}"
                    weights[key] = numpy_helper.to_array(inits[name])
        elif node.op_type == "Gather" and module and node.input[0] in inits:
            # An embedding table (the exporter may give it any name, even "sid").
            weights[f"{module}.weight"] = numpy_helper.to_array(inits[node.input[0]])
    for name, tensor in inits.items():
        if name.startswith(_PARTS) and name not in weights:
            weights[name] = numpy_helper.to_array(tensor)
    for name, tensor in inits.items():
        # The affine flow's scale is folded as exp(-logs) (inference runs it reversed).
        m = re.match(r"^/(dp/flows\.\d+)/Exp_output_0$", name)
        if m:
            key = m.group(1).replace("/", ".") + ".logs"
            weights[key] = -np.log(numpy_helper.to_array(tensor).astype(np.float64)).astype(
                np.float32
            )
    return describe_voice(onnx_path, config, weights, strides, dilations)


def _count(weights: dict[str, np.ndarray], pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for k in weights if (m := rx.match(k))})


def describe_voice(
    path: Path,
    config: dict[str, Any],
    weights: dict[str, np.ndarray],
    strides: dict[str, int],
    dilations: dict[str, int],
) -> PiperBase:
    need = ("enc_p.emb.weight", "enc_p.proj.weight", "dec.conv_pre.weight", "dec.conv_post.weight")
    missing = [k for k in need if k not in weights]
    if missing:
        raise _not_vits(path, f"no {', '.join(missing)}")
    num_chars, hidden = weights["enc_p.emb.weight"].shape
    layers = _count(weights, r"enc_p\.encoder\.attn_layers\.(\d+)\.")
    ffn = weights["enc_p.encoder.ffn_layers.0.conv_1.weight"]
    rel_k = weights["enc_p.encoder.attn_layers.0.emb_rel_k"]
    heads = hidden // rel_k.shape[-1]
    window = (rel_k.shape[-2] - 1) // 2
    if window != 4:
        raise _not_vits(path, f"relative attention window {window}, the trainer uses 4")
    flows = _count(weights, r"flow\.flows\.(\d+)\.pre\.")
    if flows != 4:
        raise _not_vits(path, f"{flows} coupling flows, the trainer uses 4")
    flow_layers = _count(weights, r"flow\.flows\.0\.enc\.in_layers\.(\d+)\.")
    flow_kernel = int(weights["flow.flows.0.enc.in_layers.0.weight"].shape[-1])
    ups = _count(weights, r"dec\.ups\.(\d+)\.")
    rates = [strides.get(f"dec.ups.{i}", 0) for i in range(ups)]
    kernels = [int(weights[f"dec.ups.{i}.weight"].shape[-1]) for i in range(ups)]
    resblocks = _count(weights, r"dec\.resblocks\.(\d+)\.")
    if not ups or resblocks % ups or 0 in rates:
        raise _not_vits(path, "decoder upsampling layers not found")
    per_up = resblocks // ups
    kind = "1" if any(k.startswith("dec.resblocks.0.convs1.") for k in weights) else "2"
    res_kernels, res_dilations = [], []
    for j in range(per_up):
        first = "convs1" if kind == "1" else "convs"
        n = _count(weights, rf"dec\.resblocks\.{j}\.{first}\.(\d+)\.")
        res_kernels.append(int(weights[f"dec.resblocks.{j}.{first}.0.weight"].shape[-1]))
        res_dilations.append([dilations.get(f"dec.resblocks.{j}.{first}.{i}", 1) for i in range(n)])
    hop = int(np.prod(rates))
    use_sdp = any(k.startswith("dp.flows.") for k in weights)
    num_speakers = int(config.get("num_speakers", 1))
    gin = int(weights["emb_g.weight"].shape[1]) if "emb_g.weight" in weights else 0
    if num_speakers > 1 and not gin:
        raise _not_vits(path, f"the config names {num_speakers} speakers, the graph has no table")
    args: dict[str, Any] = {
        "num_chars": int(num_chars),
        "hidden_channels": int(hidden),
        "hidden_channels_ffn_text_encoder": int(ffn.shape[0]),
        "num_heads_text_encoder": int(heads),
        "num_layers_text_encoder": int(layers),
        "kernel_size_text_encoder": int(ffn.shape[-1]),
        "num_layers_flow": int(flow_layers),
        "kernel_size_flow": flow_kernel,
        "resblock_type_decoder": kind,
        "resblock_kernel_sizes_decoder": res_kernels,
        "resblock_dilation_sizes_decoder": res_dilations,
        "upsample_rates_decoder": rates,
        "upsample_kernel_sizes_decoder": kernels,
        "upsample_initial_channel_decoder": int(weights["dec.conv_pre.weight"].shape[0]),
        "use_sdp": use_sdp,
        # Piper's posterior encoder: 16 WaveNet layers of kernel 5.
        "num_layers_posterior_encoder": 16,
        "kernel_size_posterior_encoder": 5,
    }
    if num_speakers > 1:
        args.update(
            use_speaker_embedding=True,
            num_speakers=num_speakers,
            speaker_embedding_channels=gin,
        )
    sample_rate = int(config.get("audio", {}).get("sample_rate", 22050))
    if hop != 256:
        raise _not_vits(path, f"decoder hop {hop}, the trainer's spectrogram hop is 256")
    sdp = int(weights["dp.pre.weight"].shape[0]) if use_sdp else None
    log.info(
        "%s: %d symbols, hidden %d, %d text layers, decoder %s %s, %d Hz, %d speaker(s)",
        path.name,
        num_chars,
        hidden,
        layers,
        kind,
        rates,
        sample_rate,
        num_speakers,
    )
    return PiperBase(
        onnx=path,
        config=config,
        weights=weights,
        model_args=args,
        sdp_channels=sdp,
        sample_rate=sample_rate,
        num_speakers=num_speakers,
        speaker_id_map={str(k): int(v) for k, v in config.get("speaker_id_map", {}).items()},
    )


def coqui_name(name: str) -> str:
    """Piper's training name of a generator weight -> Coqui ``Vits``'s."""
    rules = (
        (r"^enc_p\.", "text_encoder."),
        (r"^enc_q\.", "posterior_encoder."),
        (r"^dec\.cond\.", "waveform_decoder.cond_layer."),
        (r"^dec\.", "waveform_decoder."),
        (r"^dp\.", "duration_predictor."),
    )
    for pattern, repl in rules:
        name = re.sub(pattern, repl, name)
    # Piper keeps Flip modules between flows (odd indices); Coqui flips inline.
    name = re.sub(r"^flow\.flows\.(\d+)\.", lambda m: f"flow.flows.{int(m.group(1)) // 2}.", name)
    name = re.sub(
        r"^duration_predictor\.(post_)?flows\.(\d+)\.",
        lambda m: f"duration_predictor.{m.group(1) or ''}flows.{(int(m.group(2)) + 1) // 2}.",
        name,
    )
    # The elementwise affine flow: Piper's m/logs are Coqui's translation/log_scale.
    name = re.sub(r"(flows\.0)\.m$", r"\1.translation", name)
    return re.sub(r"(flows\.0)\.logs$", r"\1.log_scale", name)


def imported_names(base: PiperBase) -> set[str]:
    """Coqui parameter names (before weight norm) that come from the base."""
    return {coqui_name(k) for k in base.weights}


def load_into(model: Any, base: PiperBase) -> tuple[list[str], list[str]]:
    """Copy the base's weights into a Coqui ``Vits`` built from its args; returns (the
    model's parameter names that were set, those left fresh). Weight-normalised layers
    get direction = the folded weight and gain = its norm, so they compute the same."""
    import torch

    own = dict(model.named_parameters())
    set_names: list[str] = []
    problems: list[str] = []
    with torch.no_grad():
        for name, array in base.weights.items():
            target = coqui_name(name)
            value = torch.from_numpy(np.array(array, dtype=np.float32))
            stem = target.rsplit(".", 1)[0]
            gain = own.get(f"{stem}.parametrizations.weight.original0")
            direction = own.get(f"{stem}.parametrizations.weight.original1")
            if target.endswith(".weight") and direction is not None and gain is not None:
                pairs = [(direction, value), (gain, torch.norm_except_dim(value, 2, 0))]
                names = [
                    f"{stem}.parametrizations.weight.original1",
                    f"{stem}.parametrizations.weight.original0",
                ]
            elif target in own:
                pairs = [(own[target], value)]
                names = [target]
            else:
                problems.append(f"{name} (no {target})")
                continue
            for (param, new), pname in zip(pairs, names, strict=True):
                if tuple(param.shape) != tuple(new.shape):
                    problems.append(f"{name} {tuple(new.shape)} vs {pname} {tuple(param.shape)}")
                    break
                param.copy_(new)
                set_names.append(pname)
    if problems:
        raise _not_vits(base.onnx, f"{len(problems)} weight(s) do not fit: {problems[0]}")
    fresh = sorted(set(own) - set(set_names))
    return set_names, fresh


def quality_name(base: PiperBase) -> str:
    """A preset name for the base: ``piper-<quality>`` from its config, else its width."""
    quality = base.config.get("audio", {}).get("quality")
    return f"piper-{quality}" if quality else f"piper-h{base.model_args['hidden_channels']}"


def model_from_piper(
    base: PiperBase, run_dir: Path, *, recipe: str = "cpu", discriminator: bool = True
) -> tuple[Any, Any, Any]:
    """(config, preset, model): a Coqui ``Vits`` of the base's shape holding its weights,
    in train mode; the parts a voice lacks are freshly initialised. Without
    ``discriminator`` (synthesis only) none is built."""
    from .model import build_config, new_model
    from .presets import preset_for_base

    preset = preset_for_base(
        quality_name(base), base.model_args, base.sample_rate, base.sdp_channels, recipe
    )
    config = build_config(preset, run_dir, language=base.language, piper_symbols=True)
    inf = base.inference
    config.model_args.inference_noise_scale = inf["noise_scale"]
    config.model_args.length_scale = inf["length_scale"]
    config.model_args.inference_noise_scale_dp = inf["noise_w"]
    config.model_args.init_discriminator = discriminator
    model = new_model(config, preset)
    set_names, fresh = load_into(model, base)
    log.info("imported %d tensors from %s; %d fresh", len(set_names), base.onnx.name, len(fresh))
    return config, preset, model
