"""The Coqui VITS model of a voice: its config, its token vocabulary, and loading it from
one of our checkpoints.

Coqui is told to read the transcripts as characters with no cleaner, and we hand it
espeak-ng phonemes already made by :func:`assistant.tts.vits.phonemize`, so the exported
voice can be driven by the runtime without Coqui (see :mod:`assistant.tts.vits`). The
vocabulary is Coqui's own VITS one (Latin letters, IPA, punctuation), the one its
published English VITS checkpoints use.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assistant.tts.vits import VitsTokenizer

from .presets import Preset, get_preset, preset_from_dict

__all__ = [
    "build_config",
    "config_from_dict",
    "load_model",
    "new_model",
    "preset_of",
    "tokenizer_of",
]

log = logging.getLogger(__name__)


def build_config(
    preset: Preset, output_dir: Path, *, language: str, piper_symbols: bool = False
) -> Any:
    """A ``VitsConfig`` for ``preset``; ``language`` is the espeak-ng voice (``en-us``).
    With ``piper_symbols`` the ids are a Piper voice's ``phoneme_id_map`` (the preset's
    ``num_chars``) and Coqui's tokenizer is not used."""
    from TTS.tts.configs.shared_configs import BaseAudioConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import VitsCharacters

    # Coqui's VITS vocabulary (pad, punctuation, letters + IPA, blank) in its order, so
    # the ids mean what they mean in Coqui's published VITS checkpoints.
    characters = None
    if not piper_symbols:
        characters = VitsCharacters().to_config()
        characters.characters_class = "TTS.tts.models.vits.VitsCharacters"
    args = VitsArgs(**preset.model_args)
    return VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(
            sample_rate=preset.sample_rate,
            fft_size=1024,
            win_length=1024,
            hop_length=256,
            num_mels=80,
            mel_fmin=0,
            mel_fmax=None,
        ),
        run_name="voice",
        output_path=str(output_dir),
        batch_size=preset.batch_size,
        eval_batch_size=preset.batch_size,
        lr_gen=preset.lr,
        lr_disc=preset.lr,
        text_cleaner=None,
        use_phonemes=False,
        phoneme_language=language,
        add_blank=True,
        characters=characters,
        min_audio_len=1,
        max_audio_len=float("inf"),
        min_text_len=1,
        max_text_len=float("inf"),
        num_loader_workers=0,
        num_eval_loader_workers=0,
        mixed_precision=False,
        test_sentences=[],
    )


def config_from_dict(data: dict[str, Any]) -> Any:
    """A ``VitsConfig`` back from its ``to_dict()`` form (as stored in a checkpoint)."""
    from TTS.tts.configs.vits_config import VitsConfig

    config = VitsConfig()
    config.from_dict(data)
    return config


def new_model(config: Any, preset: Preset) -> Any:
    """A freshly initialised Coqui ``Vits`` for ``config`` (with its tokenizer); with the
    narrow discriminator when ``preset`` asks for it."""
    from TTS.tts.models.vits import Vits

    model = Vits(config)
    wanted = preset.model_args.get("num_chars")
    if wanted and config.characters is None and model.args.num_chars != wanted:
        # A Piper voice's symbol table (its phoneme_id_map): Coqui sized the embedding
        # for its own default characters, which this model never reads.
        import torch

        model.text_encoder.emb = torch.nn.Embedding(wanted, config.model_args.hidden_channels)
        torch.nn.init.normal_(
            model.text_encoder.emb.weight, 0.0, config.model_args.hidden_channels**-0.5
        )
        model.args.num_chars = config.model_args.num_chars = wanted
        model.tokenizer = None
    if preset.sdp_channels and preset.sdp_channels != 192 and config.model_args.use_sdp:
        # Piper's stochastic duration predictor is as wide as the text encoder; Coqui's
        # is fixed at 192: rebuild it at the base's width.
        from TTS.tts.layers.vits.stochastic_duration_predictor import (
            StochasticDurationPredictor,
        )

        a = config.model_args
        model.duration_predictor = StochasticDurationPredictor(
            a.hidden_channels,
            preset.sdp_channels,
            3,
            a.dropout_p_duration_predictor,
            4,
            cond_channels=model.embedded_speaker_dim if a.condition_dp_on_speaker else 0,
            language_emb_dim=model.embedded_language_dim,
        )
    if preset.small_discriminator and config.model_args.init_discriminator:
        from .discriminator import small_discriminator

        model.disc = small_discriminator(list(config.model_args.periods_multi_period_discriminator))
    return model


def tokenizer_of(model: Any) -> VitsTokenizer:
    """The runtime tokenizer equivalent to the model's Coqui tokenizer."""
    tok = model.tokenizer
    chars = tok.characters
    if tok.use_phonemes or tok.text_cleaner is not None:
        raise ValueError("the model reads raw text; expected pre-phonemized input")
    return VitsTokenizer(
        symbols=tuple(chars.vocab),
        add_blank=bool(tok.add_blank),
        blank_id=chars.blank_id if tok.add_blank else None,
        bos_id=chars.bos_id if tok.use_eos_bos else None,
        eos_id=chars.eos_id if tok.use_eos_bos else None,
    )


def preset_of(state: dict[str, Any]) -> Preset:
    """The preset a checkpoint was trained with (stored whole since fine-tunes from a
    voice have presets built from that voice)."""
    if isinstance(state.get("preset_data"), dict):
        return preset_from_dict(state["preset_data"])
    return get_preset(state["preset"])


def load_model(checkpoint: Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """A ``Vits`` with the weights of one of our checkpoints, in eval mode; and the
    checkpoint's dict (step, language, losses...)."""
    import torch

    state = torch.load(str(checkpoint), map_location="cpu", weights_only=False)
    config = config_from_dict(state["config"])
    model = new_model(config, preset_of(state))
    model.load_state_dict(state["model"])
    model.to(device)
    model.eval()
    return model, state
