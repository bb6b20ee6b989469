"""``GET /v1/models``, ``POST /v1/embeddings`` and ``GET /health``."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .engines import ServeEngines
from .errors import ApiError
from .parsing import json_body, require_str

__all__ = ["embeddings", "health", "list_models"]

_STARTED = int(time.time())


def model_ids(engines: ServeEngines) -> list[str]:
    """What clients can name: the language model, the recogniser (and ``whisper-1``),
    ``tts-1`` for the voices, the embedder when there is one."""
    ids = [engines.chat_id, engines.asr_id, "whisper-1", "tts-1"]
    if engines.embedder is not None:
        ids.append(engines.embedder.name)
    return ids


async def list_models(request: Request) -> Response:
    engines: ServeEngines = request.app.state.engines
    data = [
        {"id": ident, "object": "model", "created": _STARTED, "owned_by": "assistant"}
        for ident in model_ids(engines)
    ]
    return JSONResponse({"object": "list", "data": data})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


_MAX_EMBED_INPUTS = 256
"""Texts one embeddings request may hold (the body size limit applies too)."""


async def embeddings(request: Request) -> Response:
    engines: ServeEngines = request.app.state.engines
    data = await json_body(request)
    model = require_str(data, "model")
    embedder = engines.embedder
    if embedder is None:
        # The seam: the document index's sentence embedder plugs in as engines.embedder.
        raise ApiError(
            501,
            "embeddings are not available yet: no embedding model is installed",
            "embeddings_unavailable",
            "model",
        )
    if model != embedder.name:
        raise ApiError(
            404,
            f"the model {model!r} does not exist here; use {embedder.name!r}",
            "model_not_found",
            "model",
        )
    raw = data.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(
            400, "'input' must be a string or a non-empty list of strings", "invalid_type", "input"
        )
    if len(texts) > _MAX_EMBED_INPUTS:
        raise ApiError(
            400, f"'input' holds {len(texts)} texts; at most {_MAX_EMBED_INPUTS} a request",
            "too_many_inputs", "input",
        )  # fmt: skip
    loop = asyncio.get_running_loop()
    vectors = await loop.run_in_executor(None, embedder.embed, texts)
    count = getattr(embedder, "token_count", None)
    tokens = await loop.run_in_executor(None, count, texts) if count else 0
    return JSONResponse(
        {
            "object": "list",
            "model": embedder.name,
            "data": [
                {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
