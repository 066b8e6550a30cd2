"""Running PulsarDS inside another program: on the caller's event loop, or in a thread
with a loop of its own for blocking code (``store.sync.start_store``, tests).

``AsyncEmbeddedServer`` and ``SyncEmbeddedServer`` are the launchers ``start_store`` uses,
one per client variant with the same method names (``utils/gen_sync.py`` renames the one
into the other in the generated store module)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .config import ServerConfig
from .core import PulsarDS

__all__ = ["AsyncEmbeddedServer", "ServerThread", "SyncEmbeddedServer", "start_server"]


async def start_server(config: ServerConfig | None = None, **settings: Any) -> PulsarDS:
    """A PulsarDS listening on the running loop."""
    server = PulsarDS(config, **settings)
    await server.start()
    return server


class ServerThread:
    """A PulsarDS on a daemon thread. ``start()`` returns once it listens (or raises
    what stopped it); ``stop()`` closes it and joins the thread."""

    def __init__(self, config: ServerConfig | None = None, **settings: Any) -> None:
        self.server = PulsarDS(config, **settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pulsards", daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.server.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_until_complete(self.server.serve_forever())
        finally:
            loop.run_until_complete(self.server.close())
            loop.close()

    def stop(self, save: bool | None = None) -> None:
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(self.server.shutdown, save)
            self._thread.join()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AsyncEmbeddedServer:
    """A PulsarDS on the running event loop (``store.aio.start_store``)."""

    def __init__(self, server: PulsarDS) -> None:
        self._server = server
        self.port: int = server.port

    @classmethod
    async def start(cls, settings: dict[str, Any]) -> AsyncEmbeddedServer:
        return cls(await start_server(**settings))

    async def stop(self) -> None:
        await self._server.close()


class SyncEmbeddedServer:
    """A PulsarDS on a thread with its own loop (``store.sync.start_store``)."""

    def __init__(self, server: ServerThread) -> None:
        self._server = server
        self.port: int = server.port

    @classmethod
    def start(cls, settings: dict[str, Any]) -> SyncEmbeddedServer:
        return cls(ServerThread(**settings).start())

    def stop(self) -> None:
        self._server.stop()
