"""Train the end-of-turn model, export it to ONNX and measure it on held-out text.

The model is small on purpose (:mod:`.nets`): by default a GRU reading the transcript's
tokens (:func:`assistant.turnmodel.features.encode`), or (``architecture="bag"``) the
summed embeddings of hashed features. Either trains in a minute or less on a CPU and
scores a transcript in about a millisecond on onnxruntime, with no torch at run time.
"""

from __future__ import annotations

import json
import logging
import random
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.fsutil import atomic_write_bytes, atomic_write_text
from assistant.turnmodel.features import encode, featurize, words

from .data import Example, build_examples, corpus_turns, split, template_turns

__all__ = [
    "TurnTrainOptions",
    "TurnTrainResult",
    "bench_questions",
    "bench_sentences",
    "train_turn_model",
    "training_turns",
]

log = logging.getLogger(__name__)

# Short, frequent English words: how the runtime tells a transcript in another language.
FUNCTION_WORDS = sorted(
    set(
        "a an the of to in on at for with and or but if is are was were be been am i you he "  # noqa: SIM905
        "she it we they me my your his her its our their this that these those what who where "
        "when why how which do does did can could would should will shall may might must not no "
        "yes please thanks hello hi there here from by about as than so just like have has had "
        "tell me set play turn".split()
    )
)


@dataclass(frozen=True)
class TurnTrainOptions:
    """What ``assistant train turn`` takes."""

    output: Path
    name: str = "turn-en"
    architecture: str = "gru"
    """``gru`` (features version 2) or ``bag`` (version 1): :mod:`.nets`."""
    seq_dim: int = 32
    seq_hidden: int = 48
    seq_epochs: int = 8
    seq_batch_size: int = 256
    ensemble: int = 3
    """``gru``: networks from seeds ``seed``, ``seed + 1``, ..., averaged in one graph."""
    seq_learning_rate: float = 0.008
    word_dropout: float = 0.2
    vocab_min_count: int = 2
    vocab_size: int = 6000
    buckets: int = 1 << 14
    dim: int = 12
    hidden: int = 16
    epochs: int = 4
    """Epochs of the ``bag`` network (``seq_epochs``: the ``gru``)."""
    weight_decay: float = 1e-5
    feature_dropout: float = 0.25
    positive_weight: float = 0.6
    """Finished lines' weight in the loss, relative to balancing the two classes."""
    batch_size: int = 128
    learning_rate: float = 0.01
    templates: int = 3000
    held_out: float = 0.15
    seed: int = 17
    exclude: tuple[str, ...] = ()
    heard: Path | None = None
    """Transcripts of spoken training turns (:mod:`.heard`; ``None``: text only)."""
    whole_cuts: bool = False
    """Keep a cut whose words are those of a finished turn of the data as a negative
    ("Could you play the next song." from "... song with a bit more detail?", beside the
    request "Could you play the next song?"). The ``bag`` model was trained with them:
    with a few cuts of every turn they outnumber the turn itself and teach that a plain
    request is unfinished."""


@dataclass
class TurnTrainResult:
    """Files written and held-out figures."""

    onnx: Path
    companion: Path
    train_examples: int
    held_out_examples: int
    metrics: dict[str, Any] = field(default_factory=dict)


def bench_questions() -> list[str]:
    """The latency bench's questions (never trained on), when the source tree is here."""
    path = Path(__file__).resolve().parents[2] / "tests" / "bench_questions" / "questions.txt"
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def bench_sentences() -> list[str]:
    """Every bench's sentences: :func:`bench_questions`, the espeak-ng question set and
    ``bench turns``' utterances (both sets). None of them is ever spoken for
    :mod:`.heard`. (The text examples leave out only :func:`bench_questions`, so that the
    embedded model rebuilds bit for bit; the templates make one ``bench turns`` sentence,
    "Set a timer for ten minutes.")"""
    from assistant.bench.turn_set import HELD_OUT, UTTERANCES

    spoken = (*UTTERANCES, *HELD_OUT)
    lines = [*bench_questions(), *(" ".join(u.replace("|", " ").split()) for u in spoken)]
    path = Path(__file__).resolve().parents[2] / "tests" / "bench_questions_espeak"
    if (path / "questions.txt").is_file():
        text = (path / "questions.txt").read_text(encoding="utf-8")
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    return lines


def training_turns(options: TurnTrainOptions) -> list[str]:
    """The finished turns the examples are made from (bench questions left out)."""
    exclude = [*options.exclude, *bench_questions()]
    rng = random.Random(options.seed)
    return list(
        dict.fromkeys(corpus_turns(exclude) + template_turns(rng, options.templates, exclude))
    )


def _dataset(options: TurnTrainOptions) -> tuple[list[Example], list[Example]]:
    from .heard import heard_examples, read_heard

    turns = training_turns(options)
    examples = build_examples(turns, options.seed)
    if not options.whole_cuts:
        whole = {" ".join(words(t)) for t in turns}
        examples = [ex for ex in examples if ex.finished or " ".join(words(ex.text)) not in whole]
    if options.heard is not None:
        banned = {" ".join(words(t)) for t in (*options.exclude, *bench_sentences())}
        examples += heard_examples(read_heard(options.heard), banned)
    return split(examples, options.held_out)


def _pr(scores: list[float], labels: list[bool], threshold: float) -> dict[str, float]:
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and not y)
    fn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y)
    return {
        "threshold": threshold,
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "unfinished_called_finished": round(fp / max(1, labels.count(False)), 4),
    }


FULL_SILENCE = 0.7
"""The endpointer's default full silence (``vad.min_silence_ms``), in seconds."""


def _wait(p: float, waits: Any, text: str) -> float:
    from assistant.turnmodel.features import hangs

    wait = waits.wait(p, hangs(text))
    return FULL_SILENCE if wait is None else float(wait)


def _simulate(waits: list[float], examples: list[Example], seed: int) -> dict[str, Any]:
    """Text-level turn taking: every unfinished transcript is a pause of 300-700 ms in the
    middle of a turn (a cut-in when the wait is shorter); every finished one is the end of
    a turn (the wait is what the user waits before the answer starts)."""
    rng = random.Random(seed)
    cut_ins = pauses = 0
    ends: list[float] = []
    for wait, ex in zip(waits, examples, strict=True):
        if ex.finished:
            ends.append(wait)
        else:
            pauses += 1
            cut_ins += wait < rng.uniform(0.3, 0.7)
    ends.sort()
    return {
        "pauses": pauses,
        "cut_in_rate": round(cut_ins / max(1, pauses), 4),
        "end_wait_p50_s": ends[len(ends) // 2] if ends else None,
        "end_wait_mean_s": round(sum(ends) / max(1, len(ends)), 3),
    }


def evaluate(scores: list[float], examples: list[Example]) -> dict[str, Any]:
    """Accuracy at 0.5, precision/recall of "finished" at each mode's thresholds, and the
    punctuation rule that the model replaces, on the same examples; with the text-level
    turn-taking simulation of each (:func:`_simulate`)."""
    from assistant.pipeline.turns import early_end_pause
    from assistant.turnmodel.policy import MODES

    labels = [ex.finished for ex in examples]
    correct = sum(1 for s, y in zip(scores, labels, strict=True) if (s >= 0.5) == y)
    rule_waits = [early_end_pause(ex.text) or FULL_SILENCE for ex in examples]
    rule = [1.0 if w < FULL_SILENCE else 0.0 for w in rule_waits]
    simulation = {
        mode: _simulate(
            [_wait(s, w, ex.text) for s, ex in zip(scores, examples, strict=True)], examples, seed=1
        )
        for mode, w in MODES.items()
    }
    simulation["punctuation_rule"] = _simulate(rule_waits, examples, seed=1)
    return {
        "simulation": simulation,
        "examples": len(examples),
        "finished": labels.count(True),
        "accuracy": round(correct / len(examples), 4),
        "modes": {
            mode: {"sure": _pr(scores, labels, w.sure), "likely": _pr(scores, labels, w.likely)}
            for mode, w in MODES.items()
        },
        "punctuation_rule": _pr(rule, labels, 0.5),
    }


def _fit(net: Any, x: Any, y: Any, options: TurnTrainOptions, seq: bool, seed: int) -> None:
    import torch
    from torch import nn

    from .nets import word_dropout

    lr = options.seq_learning_rate if seq else options.learning_rate
    optimiser = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=options.weight_decay)
    # Cuts outnumber finished lines about 2.5 to 1: weigh the finished ones up so that an
    # unfamiliar but well-closed sentence is not called unfinished by default.
    positives = float(y.sum())
    loss_fn = nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(options.positive_weight * (len(y) - positives) / positives)
    )
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(options.seq_epochs if seq else options.epochs):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        size = options.seq_batch_size if seq else options.batch_size
        for start in range(0, len(x), size):
            batch = order[start : start + size]
            optimiser.zero_grad()
            ids = x[batch]
            if seq:
                ids = word_dropout(ids, options.word_dropout, generator)
            else:
                # Feature dropout: no single feature (a memorised last word) decides alone.
                ids = ids * (torch.rand(ids.shape, generator=generator) >= options.feature_dropout)
            loss = loss_fn(net.logits(ids), y[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        log.info("epoch %d: loss %.4f", epoch + 1, total / len(x))


def train_turn_model(options: TurnTrainOptions) -> TurnTrainResult:
    """Build the data, fit, export ``<output>/<name>.onnx`` (+ ``.onnx.json``), evaluate."""
    import torch

    from .nets import ARCHITECTURES

    if options.architecture not in ARCHITECTURES:
        raise ValueError(
            f"architecture {options.architecture!r} is not one of {', '.join(ARCHITECTURES)}"
        )
    seq = options.architecture == "gru"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same sums in the same order on any machine; and faster
    try:
        return _train(options, seq)
    finally:
        torch.set_num_threads(threads)


def _train(options: TurnTrainOptions, seq: bool) -> TurnTrainResult:
    import numpy as np
    import torch

    from .nets import ARCHITECTURES, Ensemble, build_vocab, make_net

    torch.manual_seed(options.seed)
    torch.use_deterministic_algorithms(True)
    train, test = _dataset(options)
    log.info("turn model: %d training and %d held-out examples", len(train), len(test))
    vocab_list = (
        build_vocab((ex.text for ex in train), options.vocab_min_count, options.vocab_size)
        if seq
        else []  # the bag hashes its features: no vocabulary
    )
    vocab = {t: i for i, t in enumerate(vocab_list)}

    def rows(examples: list[Example]) -> list[list[int]]:
        if seq:
            return [encode(ex.text, vocab) for ex in examples]
        return [featurize(ex.text, options.buckets) for ex in examples]

    x = torch.tensor(rows(train))
    y = torch.tensor([float(ex.finished) for ex in train])
    members = []
    for k in range(options.ensemble if seq else 1):
        if k:
            torch.manual_seed(options.seed + k)
        members.append(make_net(options.architecture, options, len(vocab_list)))
        _fit(members[-1], x, y, options, seq, options.seed + k)
    net = members[0] if len(members) == 1 else Ensemble(members)

    net.eval()
    options.output.mkdir(parents=True, exist_ok=True)
    onnx_path = options.output / f"{options.name}.onnx"
    companion = onnx_path.with_name(onnx_path.name + ".json")
    tmp = onnx_path.with_name(onnx_path.name + ".tmp")
    example = torch.zeros((1, x.shape[1]), dtype=torch.int64)
    with warnings.catch_warnings():
        # The exporter warns about GRUs and batch sizes; the graph starts from a zero
        # state, and every batch size gives the same scores (tests/test_turnmodel.py).
        warnings.filterwarnings("ignore", message=".*GRU.*")
        torch.onnx.export(
            net,
            (example,),
            str(tmp),
            input_names=["ids"],
            output_names=["p_end"],
            dynamic_axes={"ids": {0: "batch"}, "p_end": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    atomic_write_bytes(onnx_path, tmp.read_bytes())
    tmp.unlink()

    # Measured on the exported file, as the runtime will run it.
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    test_ids = np.array(rows(test), dtype=np.int64)
    scores = [float(s) for s in session.run(["p_end"], {"ids": test_ids})[0]]
    metrics = evaluate(scores, test)
    info: dict[str, Any] = {
        "language": "en",
        "feature_version": ARCHITECTURES[options.architecture],
    }
    if seq:
        info["vocab"] = vocab_list
    else:
        info["buckets"] = options.buckets
    info.update(
        {
            "function_words": FUNCTION_WORDS,
            "trained_with": "assistant train turn",
            "training": {
                k: v for k, v in asdict(options).items() if k not in ("output", "exclude", "heard")
            },
            "data": "chatterbot-corpus 1.3.3 (English dialogue, BSD-3-Clause) + request templates"
            + (f" + transcripts of them spoken ({options.heard.name})" if options.heard else ""),
            "metrics": metrics,
        }
    )
    atomic_write_text(companion, json.dumps(info, indent=1) + "\n")
    return TurnTrainResult(onnx_path, companion, len(train), len(test), metrics)
