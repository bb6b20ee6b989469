"""``assistant serve``: the assistant's engines for other programs.

An OpenAI-compatible HTTP API (Starlette on uvicorn) and Wyoming services for Home
Assistant, over engines loaded once and shared with bounded concurrency each.
Modules: :mod:`.app` (routes and layers), :mod:`.routes_chat` with :mod:`.chat_tools`,
:mod:`.routes_audio`, :mod:`.routes_misc`, :mod:`.security`, :mod:`.queueing`,
:mod:`.engines`, :mod:`.wyoming_services` and :mod:`.wyoming_info` with the wake words of
:mod:`.wake`, :mod:`.server`.
"""

from .app import API_KEY_ENV, build_app, serve_api_key
from .engines import Embedder, ServeEngines
from .server import ServerOptions, ServerThread, serve_forever

__all__ = [
    "API_KEY_ENV",
    "Embedder",
    "ServeEngines",
    "ServerOptions",
    "ServerThread",
    "build_app",
    "serve_api_key",
    "serve_forever",
]
