"""llama.cpp (through llama-cpp-python) on a local GGUF file."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..compute import resolve_device
from ..config import LlmConfig
from ..errors import EngineError, ModelLoadError
from .base import GenerationOptions, Message

__all__ = ["LlamaCppChatModel"]

log = logging.getLogger(__name__)

_GGUF_MAGIC = b"GGUF"


def _default_threads() -> tuple[int, int]:
    """Threads for generating and for reading the prompt (llama.cpp's batch)."""
    # llama.cpp runs best with one thread per physical core; hyper-threads slow it down.
    # Its threads also wait for each other every token, so one core kept busy by the
    # voice or the recogniser can cut 150 tokens/s to 2 (measured on 2 cores): on small
    # machines one core is left free for them while generating. The prompt is read in
    # one go right after the recogniser has finished and before the voice has anything
    # to say, so there it gets every core: on 2 cores, a question after the cached
    # system prompt took 107 -> 65 ms p50 (SmolLM2-135M); with one core kept busy by
    # another process 125 ms with one thread, 129 ms with two.
    count = os.cpu_count() or 1
    if count > 4:
        return max(1, count // 2), max(1, count // 2)
    return max(1, count - 1), count


class LlamaCppChatModel:
    """A chat model on a GGUF file; the chat template comes from the GGUF's metadata.

    Args:
        model_path: the ``.gguf`` file.
        device: ``auto``, ``cpu`` or ``cuda`` (``cuda`` offloads every layer).
        context_size: context window in tokens.
        threads: CPU threads, 0 = one per physical core (on small machines one core is
            left free while generating, and every core reads the prompt).
        seed: sampling seed used when a call gives none (-1 = random).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "auto",
        context_size: int = 2048,
        threads: int = 0,
        seed: int = -1,
    ) -> None:
        model_path = Path(model_path)
        _check_gguf(model_path)
        self.device = resolve_device("llm", device)
        self.model_path = model_path
        self.context_size = context_size
        self._seed = seed
        threads, batch_threads = (threads, threads) if threads else _default_threads()

        import llama_cpp

        try:
            self._llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=context_size,
                n_threads=threads,
                n_threads_batch=batch_threads,
                n_gpu_layers=-1 if self.device == "cuda" else 0,
                seed=seed if seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            # llama.cpp only says "Failed to load model from file"; a GGUF with a valid
            # header that fails here is almost always truncated or corrupt.
            raise ModelLoadError(
                model_path, "llama.cpp cannot read it: the GGUF is truncated or corrupt"
            ) from exc
        self._formatter = self._make_formatter()
        log.info(
            "GGUF model %s loaded on %s, %d threads (%d for the prompt)",
            model_path,
            self.device,
            threads,
            batch_threads,
        )

    @classmethod
    def from_config(cls, model_path: Path, config: LlmConfig) -> LlamaCppChatModel:
        """Build from the ``[llm]`` config section and the resolved GGUF path."""
        return cls(
            model_path,
            device=config.device,
            context_size=config.context_size,
            threads=config.threads,
            seed=config.seed,
        )

    def _make_formatter(self) -> Any:
        from llama_cpp import llama_chat_format

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            log.warning("%s has no chat template; using ChatML", self.model_path)
            # Generation must use the same format render_prompt() counts with.
            self._llm.chat_format = "chatml"
            return None
        return llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=self._token_text("tokenizer.ggml.eos_token_id"),
            bos_token=self._token_text("tokenizer.ggml.bos_token_id"),
        )

    def _token_text(self, key: str) -> str:
        token_id = self._llm.metadata.get(key)
        if token_id is None:
            return ""
        return self._llm.detokenize([int(token_id)], special=True).decode("utf-8", "replace")

    @property
    def name(self) -> str:
        """The model's name from its metadata, or its file name."""
        return str(self._llm.metadata.get("general.name") or self.model_path.stem)

    @property
    def offers_tools(self) -> bool:
        """Whether the GGUF's chat template renders tools (the model can call them)."""
        from .toolcalls import template_offers_tools

        return self._formatter is not None and template_offers_tools(
            self._llm.metadata.get("tokenizer.chat_template")
        )

    def stream_with_tools(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
        json_schema: dict[str, Any] | None = None,
    ) -> Iterator[str]:
        """Like :meth:`stream`, with ``tools`` (OpenAI function specifications) rendered
        into the prompt by the model's own template, and ``messages`` as dictionaries (an
        assistant message may carry ``tool_calls``; ``tool`` messages carry results). The
        raw text is yielded, tool calls included: :class:`~.toolcalls.ToolCallStream`
        reads them (llama-cpp-python 0.3 parses calls only when one is forced).
        ``json_schema``: the reply is forced (by a llama.cpp grammar) to be JSON that
        matches it, e.g. a call of a named function."""
        if self._formatter is None:
            raise EngineError(f"{self.model_path.name} has no chat template for tools")
        options = options or GenerationOptions()
        rendered = self._formatter(messages=list(messages), tools=list(tools or []) or None)
        stop = [*(rendered.stop if isinstance(rendered.stop, list) else [rendered.stop]),
                *options.stop]  # fmt: skip
        seed = options.seed if options.seed is not None else self._seed
        grammar = None
        if json_schema is not None:
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
        try:
            chunks = self._llm.create_completion(
                str(rendered.prompt),
                grammar=grammar,
                stream=True,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                stop=[s for s in stop if s] or None,
                seed=seed if seed >= 0 else secrets.randbelow(2**31),
            )
        except ValueError as exc:
            raise EngineError(f"the language model refused the prompt: {exc}") from exc
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    return
                text = chunk["choices"][0]["text"]  # type: ignore[index]
                if text:
                    yield str(text)
        finally:
            chunks.close()  # type: ignore[union-attr]

    def render_prompt(self, messages: Sequence[Message]) -> str:
        """The prompt text llama.cpp sees: the GGUF's chat template applied."""
        dicts = [m.to_dict() for m in messages]
        if self._formatter is not None:
            return str(self._formatter(messages=dicts).prompt)
        return (
            "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in dicts)
            + "<|im_start|>assistant\n"
        )

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Exact prompt length: the chat template applied, then tokenized."""
        prompt = self.render_prompt(messages).encode("utf-8")
        return len(self._llm.tokenize(prompt, add_bos=False, special=True))

    def stream(
        self,
        messages: Sequence[Message],
        options: GenerationOptions | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text deltas of the reply; closing the iterator or setting ``cancel``
        stops llama.cpp at the next token."""
        options = options or GenerationOptions()
        kwargs: dict[str, Any] = {
            "messages": [m.to_dict() for m in messages],
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "stop": list(options.stop) or None,
        }
        # llama-cpp-python reuses the seed given at load for every call when a call has
        # none, so "random" (-1) replies repeat: draw a fresh one per reply instead.
        seed = options.seed if options.seed is not None else self._seed
        kwargs["seed"] = seed if seed >= 0 else secrets.randbelow(2**31)
        try:
            chunks = self._llm.create_chat_completion(**kwargs)
        except ValueError as exc:  # e.g. the prompt exceeds the context window
            raise EngineError(f"the language model refused the prompt: {exc}") from exc
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    log.debug("generation cancelled")
                    return
                delta: dict[str, Any] = chunk["choices"][0]["delta"]  # type: ignore[index,assignment]
                content = delta.get("content")
                if content:
                    yield str(content)
        finally:
            chunks.close()  # type: ignore[union-attr]


def _check_gguf(path: Path) -> None:
    # llama.cpp's own error for a bad file is a bare "Failed to load model": check the
    # obvious cases first so the message says what is wrong.
    if not path.is_file():
        raise ModelLoadError(path, "the GGUF file does not exist")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != _GGUF_MAGIC:
        raise ModelLoadError(path, "not a GGUF file (wrong magic bytes)")
