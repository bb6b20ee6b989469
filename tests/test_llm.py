"""The llama.cpp chat model on the embedded SmolLM2 GGUF."""

from __future__ import annotations

import threading

import pytest

from assistant.errors import EngineError, ModelLoadError
from assistant.llm import GenerationOptions, LlamaCppChatModel, Message, complete, fit_to_context

GREEDY = GenerationOptions(max_tokens=40, temperature=0.0)
QUESTION = [
    Message("system", "You are a helpful assistant. Answer in one short sentence."),
    Message("user", "What is the capital of France?"),
]


@pytest.fixture(scope="module")
def model(gguf_path) -> LlamaCppChatModel:
    return LlamaCppChatModel(gguf_path, device="cpu", context_size=512)


def test_answers_a_simple_question(model):
    assert "paris" in complete(model, QUESTION, GREEDY).lower()


def test_reply_streams_in_several_deltas_that_join_to_the_whole(model):
    deltas = list(model.stream(QUESTION, GREEDY))
    assert len(deltas) > 3
    assert "".join(deltas) == complete(model, QUESTION, GREEDY)


def test_greedy_and_seeded_sampling_are_repeatable(model):
    assert complete(model, QUESTION, GREEDY) == complete(model, QUESTION, GREEDY)
    story = [Message("user", "Write a sentence about a cat.")]
    seeded = GenerationOptions(max_tokens=24, temperature=1.0, seed=1234)
    assert complete(model, story, seeded) == complete(model, story, seeded)


def test_cancel_stops_generation_mid_reply(model):
    long = [Message("user", "Count from one to fifty in words.")]
    options = GenerationOptions(max_tokens=200, temperature=0.0)
    full = list(model.stream(long, options))
    cancel = threading.Event()
    got = []
    for delta in model.stream(long, options, cancel):
        got.append(delta)
        if len(got) == 3:
            cancel.set()
    assert len(got) == 3 < len(full)


def test_chat_template_comes_from_the_gguf_metadata(model):
    prompt = model.render_prompt([Message("user", "hi")])
    # SmolLM2's template is ChatML and adds a default system prompt of its own.
    assert "<|im_start|>user\nhi<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_history_is_trimmed_oldest_first_to_fit_the_context(model):
    system = Message("system", "Be brief.")
    history = []
    for i in range(30):
        history += [
            Message("user", f"Tell me fact number {i} about the sea."),
            Message("assistant", f"Fact {i}: the sea is large and salty and deep."),
        ]
    messages = [system, *history, Message("user", "And the last one?")]
    fitted = fit_to_context(model, messages, reply_tokens=100)
    assert model.count_tokens(messages) + 100 > model.context_size  # trimming was needed
    assert model.count_tokens(fitted) + 100 <= model.context_size
    assert fitted[0] == system and fitted[-1] == messages[-1]
    assert fitted[1].role == "user"  # whole exchanges were dropped
    assert fitted[1:] == messages[len(messages) - len(fitted) + 1 :]


def test_a_message_longer_than_the_context_is_a_clear_error(model):
    huge = [Message("user", "word " * 2000)]
    with pytest.raises(EngineError, match="too long for the model's context"):
        fit_to_context(model, huge, reply_tokens=50)


def test_truncated_and_foreign_files_are_refused_with_the_file_name(tmp_path, gguf_path):
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(gguf_path.read_bytes()[:5_000_000])
    with pytest.raises(ModelLoadError, match=r"cut\.gguf.*truncated or corrupt"):
        LlamaCppChatModel(truncated, device="cpu")
    foreign = tmp_path / "model.gguf"
    foreign.write_bytes(b"\x00" * 4096)
    with pytest.raises(ModelLoadError, match=r"model\.gguf.*not a GGUF file"):
        LlamaCppChatModel(foreign, device="cpu")
    with pytest.raises(ModelLoadError, match="does not exist"):
        LlamaCppChatModel(tmp_path / "absent.gguf", device="cpu")
