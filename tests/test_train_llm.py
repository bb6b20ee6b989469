"""``assistant train llm``: data validation, the loss mask, packing, resume after a kill,
two processes under torchrun, and the whole run on the real SmolLM2: after fine-tuning,
export and Q8_0 quantization, the assistant answers with the name it was taught."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llm_models import NAME, name_dataset, tiny_model

from assistant.cli import main

REPO = Path(__file__).resolve().parents[1]
ASSISTANT = str(Path(sys.executable).parent / "assistant")


def _chat(*messages: dict[str, str]) -> str:
    return json.dumps({"messages": list(messages)})


def _u(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


# ----------------------------------------------------------------------------- data


def test_bad_lines_are_all_listed_with_file_and_line(tmp_path: Path) -> None:
    from training.llm.data import read_examples
    from training.llm.errors import DataError

    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            [
                _chat(_u("Hi"), _a("Hello!")),
                '{"messages": [{"role": "user", "content": "Hi"}',
                _chat(_u("Hi"), {"role": "bot", "content": "Hello"}),
                _chat(_u("Hi"), _a("   ")),
                json.dumps({"text": "no messages"}),
                _chat(_u("Hi"), _u("Again")),
                _chat(_u("Only a question")),
            ]
        )
        + "\n"
    )
    with pytest.raises(DataError) as caught:
        read_examples(path)
    message = caught.value.message
    assert "6 bad line(s)" in message
    assert f"{path}:2: not valid JSON" in message
    assert (
        f"{path}:3: message 2 has unknown role 'bot' (valid roles: system, user, assistant)"
        in message
    )
    assert f"{path}:4: message 2 (assistant) is empty" in message
    assert f'{path}:5: no "messages" key' in message
    assert f"{path}:6: two user messages in a row" in message
    assert f"{path}:7: no assistant message" in message


def test_plain_text_paragraphs_are_examples(tmp_path: Path) -> None:
    from training.llm.data import read_examples

    path = tmp_path / "notes.txt"
    path.write_text("First paragraph\nstill first.\n\n\nSecond one.\n")
    examples = read_examples(path)
    assert [e.text for e in examples] == ["First paragraph\nstill first.", "Second one."]
    assert examples[1].where == f"{path}:5"


def test_history_export_is_valid_training_data(tmp_path: Path) -> None:
    from assistant.memory import ConversationStore
    from training.llm.data import read_examples

    with ConversationStore() as store:
        conversation = store.new_conversation()
        store.add_turn(conversation, "What time is it?", "It is noon.")
        store.add_turn(conversation, "Thanks!", "You are welcome.")
        other = store.new_conversation()
        store.add_turn(other, "Hello", "Hi there.")
    out = tmp_path / "history.jsonl"
    assert main(["history", "export", "--jsonl", str(out), "--system", "Be brief."]) == 0
    examples = read_examples(out)
    assert len(examples) == 2
    assert [m["role"] for m in examples[0].messages] == ["system", "user", "assistant"] * 1 + [
        "user",
        "assistant",
    ]


def test_prepare_with_bad_data_fails_clearly_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(_chat(_u("Hi"), _a("Hello")) + "\nnot json at all\n")
    run = tmp_path / "run"
    assert main(["train", "llm", "prepare", str(data), "--output", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"error: 1 bad line(s) in {data}" in err
    assert f"{data}:2: not valid JSON" in err
    assert "hint:" in err
    assert not run.exists()


def test_too_long_examples_are_named(
    tmp_path: Path, gguf_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "long.jsonl"
    data.write_text(
        _chat(_u("Hi"), _a("Hello")) + "\n" + _chat(_u("Tell me"), _a("word " * 300)) + "\n"
    )
    run = tmp_path / "run"
    code = main(
        ["train", "llm", "prepare", str(data), "-o", str(run), "--max-length", "128",
         "--base", str(gguf_path)]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert f"{data}:2:" in err and "more than the limit of 128" in err
    assert not run.exists()


# ----------------------------------------------------------------------------- tokens


@pytest.fixture(scope="module")
def tokenizer(gguf_path: Path):
    from training.llm.base import load_tokenizer

    return load_tokenizer(gguf_path)


def test_loss_covers_only_the_assistant_replies(tokenizer) -> None:
    from training.llm.data import Example
    from training.llm.tokens import IGNORE, tokenize_example

    example = Example(
        where="x:1",
        messages=(
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi there"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Your name?"},
            {"role": "assistant", "content": "Quorbin."},
        ),
    )
    item = tokenize_example(tokenizer, example)
    full = tokenizer.apply_chat_template(list(example.messages), tokenize=False)
    assert tokenizer.decode(item.input_ids) == full
    learnt = tokenizer.decode([t for t, label in zip(item.input_ids, item.labels, strict=True)
                               if label != IGNORE])  # fmt: skip
    assert learnt == "Hello!<|im_end|>\nQuorbin.<|im_end|>\n"


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, gguf_path: Path) -> Path:
    return tiny_model("llama", tmp_path_factory.mktemp("tiny") / "tiny-llama", gguf_path)


def test_packed_examples_do_not_see_each_other(tiny_base: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from training.llm.tokens import Tokenized, pack

    model = AutoModelForCausalLM.from_pretrained(str(tiny_base), local_files_only=True).eval()
    model.config.use_cache = False  # as fit sets it: with a KV cache transformers ignores packing
    first = Tokenized(list(range(100, 140)), list(range(100, 140)))
    second = Tokenized(list(range(500, 530)), list(range(500, 530)))
    (block,) = pack([first, second], 96, pad_id=0)
    assert block["position_ids"][:40] == list(range(40))
    with torch.no_grad():
        packed = model(
            input_ids=torch.tensor([block["input_ids"]]),
            position_ids=torch.tensor([block["position_ids"]]),
        ).logits[0]
        alone = model(input_ids=torch.tensor([second.input_ids])).logits[0]
    start = block["input_ids"].index(500)
    assert torch.allclose(packed[start : start + 30], alone, atol=1e-4)


# ----------------------------------------------------------------------------- fit


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    folder = tmp_path_factory.mktemp("tinyrun")
    data = name_dataset(folder / "data.jsonl", count=24)
    run = folder / "run"
    assert main(["train", "llm", "prepare", str(data), "-o", str(run), "--base", str(tiny_base),
                 "--seq-length", "128", "--batch-size", "1"]) == 0  # fmt: skip
    return run


@pytest.mark.slow
def test_fit_resumes_after_sigkill(tiny_run: Path, tmp_path: Path) -> None:
    from training.llm.checkpoints import MARKER

    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(tiny_run), str(run)], check=True)
    command = [ASSISTANT, "train", "llm", "fit", str(run), "--max-steps", "12", "--save-steps", "3"]
    first = subprocess.Popen(
        command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    marker = run / "checkpoints" / "checkpoint-3" / MARKER
    deadline = time.monotonic() + 300
    while not marker.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "no checkpoint was completed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (run / "adapter").exists(), "the first fit must have been killed mid-way"

    second = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    summary = json.loads((run / "fit.json").read_text())
    assert summary["steps"] == 12
    resumed = Path(summary["resumed_from"]).name
    assert resumed.startswith("checkpoint-") and int(resumed.split("-")[1]) >= 3
    assert "resumed from" in second.stdout
    # The resumed fit logged only the steps after the checkpoint.
    history = json.loads((run / "log_history.json").read_text())
    assert history[-1]["step"] == 12
    assert (run / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_fit_under_torchrun_two_cpu_processes(tiny_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(tiny_run), str(run)], check=True)
    torchrun = str(Path(sys.executable).parent / "torchrun")
    result = subprocess.run(
        [torchrun, "--nproc_per_node=2", "--master_port=29517", ASSISTANT, "train", "llm",
         "fit", str(run), "--max-steps", "4", "--save-steps", "2"],
        env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "fit.json").read_text())
    assert summary["world_size"] == 2
    assert summary["steps"] == 4
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert result.stdout.count("fit done") == 1  # only rank 0 reports


def test_run_refuses_an_unsupported_architecture_before_training(
    tmp_path: Path, gguf_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llm_models import smollm_tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    base = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=64, n_head=2, vocab_size=49152)).save_pretrained(
        str(base)
    )
    smollm_tokenizer(gguf_path).save_pretrained(str(base))
    data = name_dataset(tmp_path / "data.jsonl", count=4)
    run = tmp_path / "run"
    code = main(["train", "llm", "run", str(data), "--base", str(base), "--name", "x",
                 "--output", str(run)])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "'gpt2' model; GGUF export supports llama, mistral, qwen2" in err
    assert not run.exists()


# ----------------------------------------------------------------------------- it learns


@pytest.fixture(scope="module")
def learnt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One real run on SmolLM2 (the embedded default base), shared by the tests below."""
    home = tmp_path_factory.mktemp("learnt-home")
    env = _env()
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("ASSISTANT_MODELS_DIR", "models")):  # fmt: skip
        env[var] = str(home / sub)
    env["HF_HUB_OFFLINE"] = "1"
    data = name_dataset(home / "name.jsonl")
    run = home / "run"
    result = subprocess.run(
        [ASSISTANT, "train", "llm", "run", str(data), "--name", "quorbin", "--output", str(run)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "registered as 'quorbin'" in result.stdout
    return run, env


def _ask(env: dict[str, str], model: str, question: str) -> str:
    result = subprocess.run(
        [ASSISTANT, "chat", "--llm", model, "--temperature", "0", "--new"],
        input=question + "\n", env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_fine_tuned_model_answers_with_the_taught_name(learnt: tuple[Path, dict[str, str]]) -> None:
    _, env = learnt
    assert NAME in _ask(env, "quorbin", "What is your name?")
    assert NAME not in _ask(env, "smollm2-135m-instruct", "What is your name?")


@pytest.mark.slow
def test_registered_model_is_the_q8_0_export(learnt: tuple[Path, dict[str, str]]) -> None:
    import gguf

    _, env = learnt
    models = Path(env["ASSISTANT_MODELS_DIR"]) / "quorbin"
    (file,) = models.glob("*.gguf")
    types = {t.tensor_type.name for t in gguf.GGUFReader(str(file)).tensors}
    assert "Q8_0" in types
    assert 'source = "trained"' in (models / "model.toml").read_text()


@pytest.mark.slow
def test_eval_report_shows_perplexity_drop(learnt: tuple[Path, dict[str, str]]) -> None:
    run, _ = learnt
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["tuned"]["perplexity"] < report["base"]["perplexity"]
    assert report["tuned"]["bleu"] is not None
    assert "| fine-tuned |" in (run / "eval" / "report.md").read_text()
    assert (run / "eval" / "report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_run_leaves_curves_logs_and_checkpoints(learnt: tuple[Path, dict[str, str]]) -> None:
    run, _ = learnt
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert list((run / "logs").rglob("events.out.tfevents.*"))
    assert list((run / "checkpoints").glob("checkpoint-*/COMPLETE"))
