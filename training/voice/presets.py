"""Training presets: model size and training settings of a VITS voice, as plain data.

``tiny`` exists for tests and smoke runs on a CPU (seconds per step, unintelligible
speech); ``standard`` is Coqui's VITS as published (the LJSpeech recipe's sizes), for
real voices on a GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PRESETS", "Preset", "get_preset", "preset_for_base", "preset_from_dict"]


@dataclass(frozen=True)
class Preset:
    """Everything a preset fixes; the rest of the config comes from the dataset."""

    name: str
    """``tiny`` or ``standard``."""
    model_args: dict[str, Any] = field(default_factory=dict)
    """Overrides of Coqui's ``VitsArgs`` (layer sizes, discriminator periods)."""
    batch_size: int = 16
    """Utterances per step (per GPU)."""
    lr: float = 2e-4
    """Learning rate of both generator and discriminator (AdamW)."""
    steps: int = 20000
    """Steps of a run when ``--steps`` is not given."""
    checkpoint_every: int = 1000
    """Steps between checkpoints when ``--checkpoint-every`` is not given."""
    sample_rate: int = 22050
    """Rate of the dataset and of the voice."""
    small_discriminator: bool = False
    """Train against a narrow discriminator (see :mod:`.discriminator`) instead of
    Coqui's full-size one."""
    sdp_channels: int | None = None
    """Width of the stochastic duration predictor when it is not Coqui's 192 (Piper's
    equals the hidden size)."""
    bring_up_steps: int = 0
    """Steps at the start of a fine-tune from a Piper voice during which the weights that
    came from the base are frozen (see :mod:`.fit`)."""
    frozen_after_bring_up: tuple[str, ...] = ()
    """Parameter-name prefixes of imported parts that stay frozen after the bring-up
    (see :mod:`.fit`)."""
    max_clip_s: float | None = None
    """Recordings longer than this are left out of training (``None``: all train)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for the run's record)."""
        return asdict(self)


# Hop length 256 = product of the decoder's upsample rates (8*8*2*2); both presets keep it.
_TINY_ARGS: dict[str, Any] = {
    "hidden_channels": 32,
    "hidden_channels_ffn_text_encoder": 64,
    "num_heads_text_encoder": 2,
    "num_layers_text_encoder": 1,
    "num_layers_posterior_encoder": 2,
    "num_layers_flow": 1,
    "resblock_kernel_sizes_decoder": [3],
    "resblock_dilation_sizes_decoder": [[1, 3, 5]],
    "upsample_initial_channel_decoder": 32,
    "spec_segment_size": 16,
    # The full multi-period discriminator (periods 2, 3, 5, 7, 11 plus the scale one)
    # dominates a tiny model's step time: two periods, and narrow (small_discriminator).
    "periods_multi_period_discriminator": [2, 3],
    # The deterministic duration predictor is far smaller than the stochastic one.
    "use_sdp": False,
}

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        _TINY_ARGS,
        batch_size=4,
        lr=2e-4,
        steps=20,
        checkpoint_every=5,
        small_discriminator=True,
    ),
    "standard": Preset("standard", {}, batch_size=16, lr=2e-4, steps=20000, checkpoint_every=1000),
}


def preset_from_dict(data: dict[str, Any]) -> Preset:
    """A preset back from :meth:`Preset.to_dict` (as a checkpoint stores it)."""
    known = set(Preset.__dataclass_fields__)
    fields = {k: v for k, v in data.items() if k in known}
    if "frozen_after_bring_up" in fields:
        fields["frozen_after_bring_up"] = tuple(fields["frozen_after_bring_up"])
    return Preset(**fields)


RECIPES: dict[str, dict[str, Any]] = {
    # What a CPU does in an evening: small batches against the narrow discriminator; of
    # the voice's parts only the decoder (the timbre) moves after the bring-up, and long
    # recordings are left out (see :mod:`.fit` for why).
    "cpu": {
        "batch_size": 4,
        "steps": 2000,
        "checkpoint_every": 250,
        "small": True,
        "lr": 1e-4,
        "bring_up": 50,
        "frozen": ("text_encoder.", "duration_predictor.", "flow."),
        "max_clip_s": 8.0,
    },
    # Piper's own fine-tuning scale on a GPU: batch 16, full discriminator, all parts.
    "gpu": {
        "batch_size": 16,
        "steps": 20000,
        "checkpoint_every": 1000,
        "small": False,
        "lr": 1e-4,
        "bring_up": 2000,
        "frozen": (),
        "max_clip_s": None,
    },
}
"""Training recipes of a fine-tune from a voice: the model's sizes come from the voice."""


def preset_for_base(
    name: str,
    model_args: dict[str, Any],
    sample_rate: int,
    sdp_channels: int | None,
    recipe: str = "cpu",
) -> Preset:
    """The preset of a fine-tune from a Piper voice: its own sizes, a recipe's schedule."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; valid: {', '.join(RECIPES)}")
    r = RECIPES[recipe]
    return Preset(
        name,
        dict(model_args),
        batch_size=r["batch_size"],
        lr=r["lr"],
        steps=r["steps"],
        checkpoint_every=r["checkpoint_every"],
        sample_rate=sample_rate,
        small_discriminator=r["small"],
        sdp_channels=sdp_channels,
        bring_up_steps=r["bring_up"],
        frozen_after_bring_up=tuple(r["frozen"]),
        max_clip_s=r["max_clip_s"],
    )


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ``ValueError`` lists the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}") from None
