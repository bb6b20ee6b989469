"""Running the HTTP API (uvicorn) and the Wyoming services in one event loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

from ..errors import AssistantError
from .app import build_app
from .engines import ServeEngines
from .security import check_bind, is_loopback

__all__ = ["ServerOptions", "ServerThread", "serve_forever"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    """Where to listen and with which key (from ``[serve]`` and the command line)."""

    host: str = "127.0.0.1"
    port: int = 8080
    """0 picks a free port (tests, benchmarks)."""
    api_key: str = ""
    wyoming_port: int | None = None
    """None: no Wyoming; 0: a free port."""
    http: bool = True
    """False serves Wyoming alone."""


class _Running:
    """The started servers, with the ports they really got."""

    def __init__(self) -> None:
        self.http_port: int | None = None
        self.wyoming_port: int | None = None
        self.uvicorn: Any = None
        self.wyoming: Any = None


async def _start(
    engines: ServeEngines, options: ServerOptions, running: _Running
) -> list[asyncio.Task[Any]]:
    import uvicorn

    check_bind(options.host, options.api_key)
    tasks: list[asyncio.Task[Any]] = []
    if options.http:
        config = uvicorn.Config(
            build_app(engines, options.api_key),
            host=options.host,
            port=options.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_keep_alive=5,
            timeout_graceful_shutdown=3,
            limit_concurrency=512,
            server_header=False,
        )
        server = uvicorn.Server(config)
        # The socket is ours: uvicorn's own bind exits the process when the port is taken.
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        try:
            sock = _listen(options.host, options.port, family)
        except OSError as exc:
            raise AssistantError(
                f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}",
                hint="is another server using the port? pick another with --port",
            ) from exc
        # What uvicorn's Server.serve() does, without taking over the process's signal
        # handlers (serve_forever has its own, and tests run this on a thread).
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        running.http_port = sock.getsockname()[1]
        running.uvicorn = server
        tasks.append(asyncio.create_task(server.main_loop(), name="uvicorn"))
    if options.wyoming_port is not None:
        if not is_loopback(options.host):
            log.warning(
                "Wyoming on %s has no authentication of its own: keep the port "
                "behind a firewall that lets only Home Assistant in",
                options.host,
            )
        try:
            wyoming = await asyncio.start_server(
                lambda r, w: _wyoming_connection(r, w, engines),
                host=options.host,
                port=options.wyoming_port,
            )
        except OSError as exc:
            raise AssistantError(
                f"cannot listen for Wyoming on {options.host}:{options.wyoming_port}: {exc}",
                hint="pick another port with --wyoming-port",
            ) from exc
        running.wyoming = wyoming
        running.wyoming_port = wyoming.sockets[0].getsockname()[1]
    return tasks


def _listen(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """A listening TCP socket whose connections send small writes at once.

    asyncio switches Nagle's algorithm off only on sockets whose protocol number says
    TCP; ``socket.create_server`` leaves it 0, and then every answer written in two
    parts (headers, body) waited for the client's delayed ACK: 40 ms a request.
    """
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


async def _wyoming_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    engines: ServeEngines,
) -> None:
    from .wyoming_services import AssistantEventHandler

    handler = AssistantEventHandler(reader, writer, engines)
    try:
        await handler.run()
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        log.debug("Wyoming client went away: %s", exc)
    except Exception:  # one bad client must not stop the server
        log.exception("Wyoming connection failed")


async def _stop(running: _Running, tasks: list[asyncio.Task[Any]]) -> None:
    if running.wyoming is not None:
        running.wyoming.close()
    if running.uvicorn is not None:
        running.uvicorn.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        await running.uvicorn.shutdown()


def serve_forever(
    engines: ServeEngines,
    options: ServerOptions,
    ready: Any = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM; ``ready(http_port, wyoming_port)`` is called once
    listening."""
    import signal

    async def main() -> None:
        running = _Running()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks = await _start(engines, options, running)
        if ready is not None:
            ready(running.http_port, running.wyoming_port)
        try:
            await stop.wait()
        finally:
            await _stop(running, tasks)

    asyncio.run(main())


class ServerThread:
    """The server on a background thread (tests, benchmarks, the desktop app)."""

    def __init__(self, engines: ServeEngines, options: ServerOptions) -> None:
        self.engines = engines
        self.options = options
        self.http_port: int | None = None
        self.wyoming_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:8080/v1``."""
        host = self.options.host if ":" not in self.options.host else f"[{self.options.host}]"
        return f"http://{host}:{self.http_port}/v1"

    def start(self, timeout_s: float = 30.0) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name="assistant-serve", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise AssistantError("the server did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        async def main() -> None:
            running = _Running()
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                tasks = await _start(self.engines, self.options, running)
            except BaseException as exc:
                self._error = exc
                self._started.set()
                return
            self.http_port, self.wyoming_port = running.http_port, running.wyoming_port
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                await _stop(running, tasks)

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
