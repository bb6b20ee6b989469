"""A narrow VITS discriminator for the ``tiny`` preset.

Coqui's discriminator (a scale discriminator plus period discriminators, up to 1024
channels) is sized for real voices; next to a tiny generator it takes most of the step
time and ~100 MB per checkpoint. This one has the same structure and the same interface
(``forward(x, x_hat) -> (scores_x, feats_x, scores_x_hat, feats_x_hat)``) with at most
64 channels. Only training uses it: the exported voice has no discriminator.
"""

from __future__ import annotations

from typing import Any

__all__ = ["small_discriminator"]


def small_discriminator(periods: list[int]) -> Any:
    """A ``torch.nn.Module`` standing in for Coqui's ``VitsDiscriminator``."""
    import torch
    from torch import nn
    from torch.nn.utils.parametrizations import weight_norm

    slope = 0.1

    def _through(
        convs: nn.ModuleList, post: nn.Module, x: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """A sub-discriminator's pass: its scores and every layer's features."""
        feats = []
        for conv in convs:
            x = nn.functional.leaky_relu(conv(x), slope)
            feats.append(x)
        x = post(x)
        feats.append(x)
        return torch.flatten(x, 1, -1), feats

    class _Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList(
                [
                    weight_norm(nn.Conv1d(1, 16, 15, 1, padding=7)),
                    weight_norm(nn.Conv1d(16, 32, 41, 4, groups=4, padding=20)),
                    weight_norm(nn.Conv1d(32, 64, 41, 4, groups=8, padding=20)),
                    weight_norm(nn.Conv1d(64, 64, 5, 1, padding=2)),
                ]
            )
            self.post = weight_norm(nn.Conv1d(64, 1, 3, 1, padding=1))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
            return _through(self.convs, self.post, x)  # x: (B, 1, T)

    class _Period(nn.Module):
        def __init__(self, period: int) -> None:
            super().__init__()
            self.period = period
            self.convs = nn.ModuleList(
                [
                    weight_norm(nn.Conv2d(1, 16, (5, 1), (3, 1), padding=(2, 0))),
                    weight_norm(nn.Conv2d(16, 32, (5, 1), (3, 1), padding=(2, 0))),
                    weight_norm(nn.Conv2d(32, 64, (5, 1), 1, padding=(2, 0))),
                ]
            )
            self.post = weight_norm(nn.Conv2d(64, 1, (3, 1), 1, padding=(1, 0)))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
            b, c, t = x.shape  # (B, 1, T) -> (B, 1, T / period, period)
            if t % self.period:
                pad = self.period - t % self.period
                x = nn.functional.pad(x, (0, pad), "reflect")
                t += pad
            x = x.view(b, c, t // self.period, self.period)
            return _through(self.convs, self.post, x)

    class _Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.nets = nn.ModuleList([_Scale(), *(_Period(p) for p in periods)])

        def forward(self, x: torch.Tensor, x_hat: torch.Tensor | None = None) -> Any:
            scores, feats = [], []
            hat_scores: list[Any] | None = [] if x_hat is not None else None
            hat_feats: list[Any] | None = [] if x_hat is not None else None
            for net in self.nets:
                score, feat = net(x)
                scores.append(score)
                feats.append(feat)
                if x_hat is not None:
                    assert hat_scores is not None and hat_feats is not None
                    score, feat = net(x_hat)
                    hat_scores.append(score)
                    hat_feats.append(feat)
            return scores, feats, hat_scores, hat_feats

    return _Discriminator()
