"""The ASGI application: routes, error bodies, and the security layers around them."""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import ServeConfig
from .engines import ServeEngines
from .errors import ApiError, error_response
from .routes_audio import speech, transcriptions
from .routes_chat import chat_completions
from .routes_misc import embeddings, health, list_models
from .security import AuthMiddleware, BodyLimitMiddleware

__all__ = ["API_KEY_ENV", "build_app", "serve_api_key"]

log = logging.getLogger(__name__)

API_KEY_ENV = "ASSISTANT_SERVE_API_KEY"
"""Environment variable that overrides ``serve.api_key``."""


def serve_api_key(config: ServeConfig) -> str:
    """The key clients must send: ``$ASSISTANT_SERVE_API_KEY``, else ``serve.api_key``."""
    return os.environ.get(API_KEY_ENV) or config.api_key


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = str(exc.detail)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, message, code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return error_response(500, f"internal error: {type(exc).__name__}", "internal_error")


def build_app(engines: ServeEngines, api_key: str = "") -> Starlette:
    """The OpenAI-compatible API over ``engines``; ``api_key`` empty means no key."""
    serve = engines.config.serve
    middleware = []
    origins = [o.strip() for o in serve.cors_origins.split(",") if o.strip()]
    if origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    middleware.append(Middleware(AuthMiddleware, api_key=api_key))
    middleware.append(
        Middleware(
            BodyLimitMiddleware,
            max_bytes=serve.max_body_mb * 1024 * 1024,
            timeout_s=serve.body_timeout_s,
        )
    )
    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.engines = engines
    return app
