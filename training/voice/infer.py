"""Speaking with the training model the way a Piper voice speaks: phoneme ids in, audio
out, with the three scales (noise, length, noise_w) as inputs rather than attributes.

Coqui's ``Vits.inference`` reads its scales from attributes (its own ONNX export sets
different attributes than the ones inference reads, so the exported scales are constants);
Piper's graph takes them as the ``scales`` input. This module is the one inference path
used by the step-0 parity check and by the Piper export, so both see what Piper runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PiperGraph", "synthesize_ids"]


def synthesize_ids(
    model: Any,
    ids: Any,
    lengths: Any,
    scales: Any,
    sid: Any = None,
) -> Any:
    """Audio ``[B, 1, T]`` for phoneme ids ``[B, N]``; ``scales`` = (noise, length,
    noise_w) as a float tensor of 3; ``sid`` speaker ids ``[B]`` for several speakers."""
    import torch
    from TTS.tts.utils.helpers import generate_path, sequence_mask

    noise_scale, length_scale, noise_w = scales[0], scales[1], scales[2]
    x, m_p, logs_p, x_mask = model.text_encoder(ids, lengths)
    g = None
    if getattr(model, "emb_g", None) is not None and sid is not None:
        g = model.emb_g(sid).unsqueeze(-1)
    if model.args.use_sdp:
        logw = model.duration_predictor(
            x,
            x_mask,
            g=g if model.args.condition_dp_on_speaker else None,
            reverse=True,
            noise_scale=noise_w,
        )
    else:
        logw = model.duration_predictor(x, x_mask, g=g)
    w = torch.exp(logw) * x_mask * length_scale
    w_ceil = torch.ceil(w)
    y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
    y_mask = sequence_mask(y_lengths, None).to(x_mask.dtype).unsqueeze(1)
    attn_mask = x_mask * y_mask.transpose(1, 2)
    attn = generate_path(w_ceil.squeeze(1), attn_mask.squeeze(1).transpose(1, 2))
    m_p = torch.matmul(attn.transpose(1, 2), m_p.transpose(1, 2)).transpose(1, 2)
    logs_p = torch.matmul(attn.transpose(1, 2), logs_p.transpose(1, 2)).transpose(1, 2)
    z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
    z = model.flow(z_p, y_mask, g=g, reverse=True)
    return model.waveform_decoder(z * y_mask, g=g)


def PiperGraph(model: Any) -> Any:
    """An ``nn.Module`` whose forward is Piper's graph signature: ``(input,
    input_lengths, scales[, sid]) -> output [B, 1, T]``."""
    import torch

    class _PiperGraph(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, text: Any, text_lengths: Any, scales: Any, sid: Any = None) -> Any:
            return synthesize_ids(self.inner, text, text_lengths, scales, sid)

    return _PiperGraph(model)
