"""LLM training on the device it is asked for, honest token counts, the speed options'
code paths, the memory estimate and QLoRA, on the CPU with a tiny random Llama.

Where a GPU is needed the test checks placement: a device-recording hook on the model's
input embedding sees every parameter and every batch tensor when the first batch goes
in, and stops the run there. ``meta`` stands in for ``cuda``: it is a device torch has on
every machine, so code that never moves the model or the batches is caught on the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llm_models import name_dataset, tiny_model

from assistant.cli import main


class _Stop(Exception):
    """Raised by the recording hook once it has seen the first batch."""


def _recording(load: Any, seen: dict[str, set[str]]) -> Any:
    """``load`` (a ``load_base``) whose model records, at its first input, the device of
    each parameter and of the input ids, then stops."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        model = load(*args, **kwargs)

        def hook(module: Any, inputs: tuple[Any, ...]) -> None:
            seen["parameters"] = {p.device.type for p in model.parameters()}
            seen["inputs"] = {t.device.type for t in inputs if hasattr(t, "device")}
            raise _Stop

        model.get_input_embeddings().register_forward_pre_hook(hook)
        return model

    return wrapped


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, gguf_path: Path) -> Path:
    return tiny_model("llama", tmp_path_factory.mktemp("tiny") / "tiny-llama", gguf_path)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    from training.llm.data import read_examples

    return read_examples(name_dataset(tmp_path_factory.mktemp("d") / "data.jsonl", count=12))


# ----------------------------------------------------------------------------- devices


def test_bench_trains_on_the_requested_device(
    tiny_base: Path, examples: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.llm.base as base_module
    from training.llm.bench import train_throughput
    from training.llm.options import LlmFitOptions

    seen: dict[str, set[str]] = {}
    monkeypatch.setattr(base_module, "load_base", _recording(base_module.load_base, seen))
    with pytest.raises(_Stop):
        train_throughput(tiny_base, examples, LlmFitOptions(seq_length=128), ["packed"],
                         device="meta")  # fmt: skip
    assert seen == {"parameters": {"meta"}, "inputs": {"meta"}}


def test_eval_runs_on_the_requested_device(
    tiny_base: Path, examples: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.llm.evaluate as evaluate_module
    from training.llm.base import load_base
    from training.llm.fit import lora_model
    from training.llm.options import LlmFitOptions

    adapter = tmp_path / "adapter"
    lora_model(load_base(tiny_base), LlmFitOptions()).save_pretrained(str(adapter))
    seen: dict[str, set[str]] = {}
    monkeypatch.setattr(evaluate_module, "load_base", _recording(load_base, seen))
    with pytest.raises(_Stop):
        evaluate_module.evaluate(tiny_base, adapter, examples[:2], device="meta")
    assert seen == {"parameters": {"meta"}, "inputs": {"meta"}}


def test_cuda_without_a_gpu_is_a_clear_error(
    tiny_base: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    # The same on a machine with a GPU: torch is told it sees none.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["train", "llm", "bench", "--base", str(tiny_base), "--device", "cuda",
                 "--no-decode"])  # fmt: skip
    assert code != 0
    assert "torch sees no CUDA device" in capsys.readouterr().err


# ----------------------------------------------------------------------------- tokens/s


def test_fit_counts_only_the_tokens_it_trained(tiny_base: Path, tmp_path: Path) -> None:
    # Nine identical paragraphs, one example a row: every row holds the same L real
    # tokens, so 11 steps of batch 1 (one epoch and two steps) trained exactly 11 L.
    data = tmp_path / "data.txt"
    data.write_text("\n\n".join(["The keeper lit the lamp at dusk."] * 10) + "\n")
    run = tmp_path / "run"
    assert main(["train", "llm", "prepare", str(data), "-o", str(run), "--base", str(tiny_base),
                 "--no-packing", "--batch-size", "1"]) == 0  # fmt: skip
    assert main(["train", "llm", "fit", str(run), "--max-steps", "11", "--save-steps", "100"]) == 0
    summary = json.loads((run / "fit.json").read_text())
    assert summary["rows"] == 9 and summary["train_tokens"] % 9 == 0
    per_row = summary["train_tokens"] // 9
    processed = summary["tokens_per_second"] * summary["seconds"]
    assert processed == pytest.approx(11 * per_row, rel=1e-9)


# ----------------------------------------------------------------------------- packing


@pytest.mark.parametrize(
    ("attention", "flatten"), [("sdpa", False), ("eager", False), ("sdpa", True)]
)
def test_packed_loss_equals_the_documents_alone(
    tiny_base: Path, attention: str, flatten: bool
) -> None:
    """The loss of a batch of packed blocks (what fit trains on) is the loss of its
    documents trained one by one: it would differ if a document attended to the one
    before it. ``flatten`` is the padding-free layout flash attention gets (the batch's
    documents in one row), checked here with SDPA."""
    import torch
    from transformers import AutoModelForCausalLM

    from training.llm.fit import collate
    from training.llm.tokens import IGNORE, Tokenized, pack

    model = AutoModelForCausalLM.from_pretrained(
        str(tiny_base), local_files_only=True, attn_implementation=attention
    ).eval()
    model.config.use_cache = False
    docs = [
        Tokenized(list(range(100, 137)), list(range(100, 137))),
        Tokenized(list(range(600, 621)), [IGNORE] * 5 + list(range(605, 621))),
        Tokenized(list(range(900, 930)), list(range(900, 930))),
    ]
    blocks = pack(docs, 64, pad_id=0)  # [37 + 21 + 6 padding], [30 + 34 padding]
    assert len(blocks) == 2
    batch = collate(blocks, flatten=flatten)
    assert batch["input_ids"].shape == ((1, 88) if flatten else (2, 64))
    with torch.no_grad():
        packed = float(model(**batch).loss)
        total, count = 0.0, 0
        for doc in docs:
            labels = torch.tensor([IGNORE, *doc.labels[1:]])
            logits = model(input_ids=torch.tensor([doc.input_ids])).logits[0]
            total += float(torch.nn.functional.cross_entropy(
                logits[:-1], labels[1:], ignore_index=IGNORE, reduction="sum"))  # fmt: skip
            count += int((labels[1:] != IGNORE).sum())
    assert packed == pytest.approx(total / count, rel=1e-4)
    # The same rows with one causal mask each (documents see each other) have another
    # loss: the comparison above can fail.
    with torch.no_grad():
        leaky = float(model(input_ids=batch["input_ids"], labels=batch["labels"]).loss)
    assert abs(leaky - packed) > 1e-3


# ----------------------------------------------------------------------------- bench


@pytest.mark.slow
def test_bench_rows_on_the_cpu(tiny_base: Path, tmp_path: Path, capsys: Any) -> None:
    data = name_dataset(tmp_path / "data.jsonl", count=16)
    out = tmp_path / "bench.json"
    code = main(["train", "llm", "bench", str(data), "--base", str(tiny_base), "--device", "cpu",
                 "--rows", "plain,padded,packed,liger", "--steps", "2", "--batch-size", "2",
                 "--seq-length", "128", "--no-decode", "--json", str(out)])  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    rows = {row["variant"]: row for row in report["train"]}
    assert set(rows) == {"plain", "padded", "packed"}
    for row in rows.values():
        assert row["real_tokens"] > 0 and row["tokens_per_second"] > 0 and row["steps"] == 2
        assert row["mfu"] is None and row["peak_memory_gib"] is None  # CPU: not measured
    assert rows["plain"]["layout"] == "plain" and rows["packed"]["options"] == {}
    assert report["device"] == "cpu" and report["plain_speedup"] > 0
    assert any("liger: not measured" in note and "liger-kernel" in note
               for note in report["notes"])  # fmt: skip
    table = capsys.readouterr().out
    assert "packed / plain HF Trainer" in table and "vs packed" in table


# ----------------------------------------------------------------------------- memory


def _llama_8b() -> Any:
    from training.llm.memory import ModelShape

    # Llama-3-8B's published shape.
    return ModelShape(layers=32, hidden=4096, intermediate=14336, heads=32, kv_heads=8,
                      vocab=128256, tied=False)  # fmt: skip


def test_memory_estimate_of_an_8b_model() -> None:
    from training.llm.memory import GIB, estimate
    from training.llm.options import LlmFitOptions

    shape = _llama_8b()
    assert 7.9e9 < shape.params < 8.1e9  # the 8 B it is named after
    options = LlmFitOptions(batch_size=1, seq_length=1024)
    full = estimate(shape, options, "bf16", checkpointing=True)
    options.quantize = "4bit"
    qlora = estimate(shape, options, "bf16", checkpointing=True)
    assert full.weights > 14.9 * GIB  # 16-bit weights alone
    assert qlora.total < 16 * GIB < full.total  # QLoRA is what fits a 16 GB GPU


def test_checkpointing_and_batch_follow_the_free_memory() -> None:
    from training.llm.memory import GIB, choose_batch_size, estimate, needs_checkpointing
    from training.llm.options import LlmFitOptions

    shape = _llama_8b()
    options = LlmFitOptions(seq_length=1024, quantize="4bit")
    plain = estimate(shape, options, "bf16", batch_size=1, checkpointing=False).total
    assert needs_checkpointing(shape, options, "bf16", int(plain * 0.8), 1)
    assert not needs_checkpointing(shape, options, "bf16", int(plain * 2), 1)
    options.gradient_checkpointing = False  # asked for: never overridden
    assert not needs_checkpointing(shape, options, "bf16", int(plain * 0.8), 1)
    small = choose_batch_size(shape, options, "bf16", 24 * GIB)
    large = choose_batch_size(shape, options, "bf16", 140 * GIB)
    assert 1 <= small < large <= 64
    assert estimate(shape, options, "bf16", batch_size=large).total <= 140 * GIB


@pytest.fixture()
def tiny_run(tiny_base: Path, tmp_path: Path) -> Path:
    data = name_dataset(tmp_path / "data.jsonl", count=12)
    run = tmp_path / "run"
    assert main(["train", "llm", "prepare", str(data), "-o", str(run), "--base", str(tiny_base),
                 "--seq-length", "128", "--batch-size", "2"]) == 0  # fmt: skip
    return run


def test_dry_run_prints_the_estimate_and_loads_nothing(
    tiny_run: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.llm.speed as speed

    def no_loading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dry run must not load the model")

    monkeypatch.setattr(speed, "build_model", no_loading)
    assert main(["train", "llm", "fit", str(tiny_run), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fits on cpu (fp32): this fit needs ~")
    assert "GiB of RAM available" in out and "batch 2 x 128 tokens" in out
    assert not (tiny_run / "adapter").exists()


def test_a_fit_that_cannot_fit_is_refused_before_loading(
    tiny_run: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.llm.memory as memory
    import training.llm.speed as speed

    monkeypatch.setattr(memory, "free_memory", lambda device: (64 * 1024**2, "free on a small GPU"))

    def no_loading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a fit that does not fit must not load the model")

    monkeypatch.setattr(speed, "build_model", no_loading)
    assert main(["train", "llm", "fit", str(tiny_run), "--dry-run"]) == 1
    assert "does NOT fit" in capsys.readouterr().out
    assert main(["train", "llm", "fit", str(tiny_run)]) != 0
    err = capsys.readouterr().err
    assert "this fit needs ~" in err and "you have 0.1 GiB free on a small GPU" in err
    assert "--quantize 4bit" in err
    assert not (tiny_run / "adapter").exists()


def test_liger_without_its_package_is_a_clear_error(tiny_run: Path, capsys: Any) -> None:
    import importlib.util

    assert importlib.util.find_spec("liger_kernel") is None  # an optional GPU extra
    assert main(["train", "llm", "fit", str(tiny_run), "--liger", "--dry-run"]) != 0
    err = capsys.readouterr().err
    assert "--liger needs the liger-kernel package" in err and "gpu-train" in err


# ----------------------------------------------------------------------------- QLoRA


def test_qlora_base_is_nf4_with_trainable_lora_on_the_cpu(tiny_base: Path) -> None:
    import bitsandbytes as bnb
    import torch

    from training.llm.options import LlmFitOptions
    from training.llm.speed import build_model

    model = build_model(tiny_base, LlmFitOptions(quantize="4bit"), "fp32", "cpu")
    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 2 * 7  # every projection of both layers
    assert all(m.weight.quant_type == "nf4" for m in quantized)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    ids = torch.tensor([list(range(100, 140))])
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.slow
def test_qlora_fit_exports_a_full_precision_merge(tiny_run: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from training.llm.export import merge_adapter
    from training.llm.run import read_run

    assert main(["train", "llm", "fit", str(tiny_run), "--quantize", "4bit", "--max-steps", "2",
                 "--save-steps", "100"]) == 0  # fmt: skip
    summary = json.loads((tiny_run / "fit.json").read_text())
    assert summary["quantize"] == "4bit" and summary["steps"] == 2
    base = Path(read_run(tiny_run).base)
    merged = merge_adapter(base, tiny_run / "adapter", tiny_run / "merged")
    config = json.loads((merged / "config.json").read_text())
    assert "quantization_config" not in config
    weights = load_file(str(next(merged.glob("*.safetensors"))))
    base_weights = load_file(str(next(base.glob("*.safetensors"))))
    name = "model.layers.0.self_attn.q_proj.weight"
    assert weights[name].dtype == torch.float32 and weights[name].shape == (256, 256)
    # The adapter's update is added to the full-precision base, not to an NF4 copy of it.
    assert not torch.equal(weights[name], base_weights[name])
    assert (weights[name] - base_weights[name]).abs().max() < 0.05


def test_qlora_needs_a_folder_base(gguf_path: Path) -> None:
    from training.llm.errors import TrainError
    from training.llm.options import LlmFitOptions
    from training.llm.speed import check_speed_options

    with pytest.raises(TrainError, match="needs the base as a Hugging Face folder"):
        check_speed_options(LlmFitOptions(quantize="4bit"), "cpu", gguf_path)


# ----------------------------------------------------------------------------- shared


def test_what_both_trainers_share(tmp_path: Path) -> None:
    import re

    from training.common import (
        TrainError,
        choose_precision,
        from_record,
        numbered,
        options_record,
        plot_losses,
    )
    from training.llm.options import LlmFitOptions
    from training.voice.fit import VoiceFitOptions

    assert choose_precision("auto", "cpu") == choose_precision("no", "cpu") == "fp32"
    with pytest.raises(TrainError, match="needs a GPU"):
        choose_precision("bf16", "cpu")
    for name in ("checkpoint-3", "checkpoint-12", "checkpoint-x", "step-5.pt"):
        (tmp_path / name).mkdir()
    found = numbered(tmp_path, re.compile(r"checkpoint-(\d+)"), files=False)
    assert [step for step, _ in found] == [3, 12]
    llm = LlmFitOptions(max_steps=7)
    llm.lora.rank = 8
    assert from_record(LlmFitOptions, options_record(llm)) == llm
    voice = VoiceFitOptions(data_dir=tmp_path, output_dir=tmp_path / "run")
    record = options_record(voice)
    assert record["output_dir"] == str(tmp_path / "run") and "steps" not in record
    assert options_record(voice, drop_none=False)["steps"] is None  # JSON keeps nulls
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}, {"train_runtime": 3.0}]
    plot_losses(history, tmp_path / "loss.png")
    plot_losses([{"step": 1, "gen": 1.0, "disc": 2.0, "mel": 3.0}], tmp_path / "v.png",
                keys=("gen", "disc", "mel"))  # fmt: skip
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "v.png").stat().st_size > 1000


def test_short_memory_turns_gradient_checkpointing_on(
    tiny_run: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.llm.memory as memory
    from training.llm.base import model_config
    from training.llm.run import read_run

    run = read_run(tiny_run)
    shape = memory.shape_of(model_config(Path(run.base)))
    plain = memory.estimate(shape, run.fit, "fp32", checkpointing=False, on_gpu=False).total
    recomputed = memory.estimate(shape, run.fit, "fp32", checkpointing=True, on_gpu=False).total
    free = int((plain + recomputed) / 2 / 0.9)  # room for the one, not the other
    monkeypatch.setattr(memory, "free_memory", lambda device: (free, "free here"))
    assert main(["train", "llm", "fit", str(tiny_run), "--dry-run"]) == 0
    assert "with gradient checkpointing" in capsys.readouterr().out
    assert main(["train", "llm", "fit", str(tiny_run), "--dry-run",
                 "--no-gradient-checkpointing"]) == 1  # fmt: skip
    assert "does NOT fit" in capsys.readouterr().out
