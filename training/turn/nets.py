"""The end-of-turn networks ``assistant train turn`` fits (torch; never imported at run time).

- ``gru`` (the default, features version 2): each token of the transcript
  (:func:`assistant.turnmodel.features.encode`) gets an embedding; a GRU reads them in
  order and its last state goes to P(finished). It sees what follows "of" or "to", so
  a whole question whose last words it has never seen ("... the capital of Australia?")
  scores as finished, where a bag of last words only knows the words themselves.
- ``bag`` (version 1, the model before it): the hashed features of
  :func:`assistant.turnmodel.features.featurize` each get an embedding; their sum goes
  through one hidden layer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, cast

import torch
from torch import nn

from assistant.turnmodel.features import PAD, SPECIALS, UNK, tokens

__all__ = [
    "ARCHITECTURES",
    "BagNet",
    "Ensemble",
    "SeqNet",
    "build_vocab",
    "make_net",
    "word_dropout",
]

ARCHITECTURES = {"gru": 2, "bag": 1}
"""Each network and the features version its input is encoded with."""


class BagNet(nn.Module):
    """Summed embeddings of hashed features, one hidden layer."""

    def __init__(self, buckets: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(buckets, dim, padding_idx=PAD)
        self.hidden = nn.Linear(dim, hidden)
        self.out = nn.Linear(hidden, 1)
        nn.init.normal_(self.embed.weight, std=0.05)
        with torch.no_grad():
            self.embed.weight[PAD].zero_()

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        pooled = self.embed(ids).sum(dim=1)
        return self.out(torch.relu(self.hidden(pooled))).squeeze(-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(ids))


class SeqNet(nn.Module):
    """Token embeddings read by a one-layer GRU; its last state -> P(finished)."""

    def __init__(self, vocab_size: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        _, last = self.gru(self.embed(ids))
        return self.out(last[-1]).squeeze(-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(ids))


class Ensemble(nn.Module):
    """A few networks trained from different seeds, in one graph: P(finished) from the
    mean of their logits. Steadier than any one of them, whose calls on the same sentence
    vary with the seed."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits = [cast(Any, member).logits(ids) for member in self.members]
        return torch.sigmoid(torch.stack(logits).mean(dim=0))


def build_vocab(texts: Iterable[str], min_count: int, size: int) -> list[str]:
    """:data:`SPECIALS`, then the tokens of ``texts`` seen at least ``min_count`` times,
    most frequent first (ties by the token), at most ``size`` in all. Numbers are left
    out: they are all ``<num>``."""
    counts = Counter(t for text in texts for t in tokens(text) if not t[0].isdigit())
    ranked = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    return [*SPECIALS, *ranked[: max(0, size - len(SPECIALS))]]


def word_dropout(ids: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """``ids`` with a share ``rate`` of its words (not the specials) made ``<unk>``: the
    model learns to read a sentence whose nouns it has never seen."""
    hit = (torch.rand(ids.shape, generator=generator) < rate) & (ids >= len(SPECIALS))
    return torch.where(hit, torch.full_like(ids, UNK), ids)


def make_net(architecture: str, options: Any, vocab_size: int) -> nn.Module:
    """The untrained network ``architecture`` for ``options`` (``TurnTrainOptions``)."""
    if architecture == "bag":
        return BagNet(options.buckets, options.dim, options.hidden)
    return SeqNet(vocab_size, options.seq_dim, options.seq_hidden)
