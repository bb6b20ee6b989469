"""``serve``: the assistant's models for other programs, over the OpenAI HTTP API and
the Wyoming protocol (Home Assistant)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_model_options, apply_model_options
from .context import CliContext

__all__ = ["register"]


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the models over an OpenAI-compatible API and Wyoming",
        description="Loads the language model, speech recognition and voices once and "
        "serves them: GET /v1/models, POST /v1/chat/completions, /v1/audio/transcriptions, "
        "/v1/audio/speech (and /v1/embeddings once an embedding model exists), plus "
        "Wyoming speech-to-text, text-to-speech, handle and wake-word services for Home "
        "Assistant "
        "with --wyoming-port. Listens on 127.0.0.1 unless told otherwise; any other "
        "address needs an API key ([serve] api_key or $ASSISTANT_SERVE_API_KEY), which "
        "every request must then send as 'Authorization: Bearer KEY'. Stops on Ctrl-C.",
    )
    serve.add_argument("--host", metavar="ADDR", help="address to bind (default [serve] host)")
    serve.add_argument("--port", type=_port, metavar="N", help="HTTP port (default [serve] port)")
    serve.add_argument(
        "--wyoming-port",
        type=_port,
        metavar="N",
        help="also serve Wyoming on this TCP port (0 = off; default [serve] wyoming_port)",
    )
    serve.add_argument("--no-http", action="store_true", help="serve Wyoming only")
    add_model_options(serve, "asr", "llm", "voice")
    serve.set_defaults(func=_serve)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value


def _serve(args: argparse.Namespace, ctx: CliContext) -> int:
    from ..errors import AssistantError
    from ..serve import ServeEngines, ServerOptions, serve_api_key, serve_forever
    from ..serve.security import check_bind

    config = apply_model_options(ctx.config, args)
    host = args.host or config.serve.host
    wyoming = args.wyoming_port if args.wyoming_port is not None else config.serve.wyoming_port
    if args.no_http and not wyoming:
        raise AssistantError("--no-http leaves nothing to serve", hint="add --wyoming-port N")
    options = ServerOptions(
        host=host,
        port=args.port if args.port is not None else config.serve.port,
        api_key=serve_api_key(config.serve),
        wyoming_port=wyoming or None,
        http=not args.no_http,
    )
    check_bind(options.host, options.api_key)  # before minutes of model loading
    engines = ServeEngines.load(config, ctx.store)

    def ready(http_port: int | None, wyoming_port: int | None) -> None:
        if http_port is not None:
            print(f"OpenAI-compatible API on http://{host}:{http_port}/v1", flush=True)
        if wyoming_port is not None:
            print(f"Wyoming on tcp://{host}:{wyoming_port}", flush=True)
        print("Ctrl-C stops the server.", file=sys.stderr, flush=True)

    serve_forever(engines, options, ready=ready)
    return 0
