"""``python -m store [OPTIONS] [URL] [COMMAND [ARG...]]``: the command line, like
redis-cli (one command, a prompt, or commands piped in: ``store.cli``). Without a URL it
uses the embedded default: PulsarDS on 127.0.0.1:6410, started if none is running, keeping
its data in a snapshot under ``$XDG_DATA_HOME/pulsards``.

``python -m store serve [--port 6410] [--dir D] [--requirepass P] [--<setting> V ...]``
runs PulsarDS in the foreground until SIGINT/SIGTERM or SHUTDOWN."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("store.server")


def serve(argv: Sequence[str]) -> int:
    from .server import PulsarDS, ServerConfig

    parser = argparse.ArgumentParser(
        prog="python -m store serve",
        description="Run PulsarDS, the Redis-compatible server, in the foreground. Every "
        "setting of redis.conf that PulsarDS knows is an option: --save '' disables snapshots.",
    )
    defaults = ServerConfig()
    for name in ServerConfig.names():
        parser.add_argument(
            f"--{name}", metavar="VALUE", help=f"default: {defaults.get_text(name)!r}"
        )
    options = parser.parse_args(argv)
    config = ServerConfig()
    for name in ServerConfig.names():
        value = getattr(options, name.replace("-", "_"))
        if value is not None:
            try:
                config.set_text(name, value)
            except ValueError as exc:
                parser.error(f"--{name}: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s pulsards %(levelname)s %(message)s")
    from .server.persistence import PersistenceError

    async def run() -> None:
        server = PulsarDS(config)
        await server.start()
        stopper = SignalShutdown(server, asyncio.get_running_loop())
        stopper.install()
        try:
            await server.serve_forever()
            await server.close()
        finally:
            stopper.uninstall()

    try:
        asyncio.run(run())
    except PersistenceError as exc:
        print(f"pulsards: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pulsards: cannot listen on {config.bind}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0


class SignalShutdown:
    """SIGINT and SIGTERM stop the server cleanly within ``GRACE`` seconds, whatever it
    is running. The handlers are Python-level (``signal.signal``), not the loop's: the
    loop's only run once the current command returns, Python's run between bytecodes
    of the main thread, even inside a long command or a Lua script's hook. The first
    signal asks the loop to shut down; if the loop has not started that within
    ``GRACE`` seconds, a command is hogging it, and SIGALRM finishes the job there."""

    GRACE = 1.0

    def __init__(self, server: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.requested = False
        self.stopping = False  # the loop runs the clean shutdown: never cut it short
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
            handler = self._forced if signum == signal.SIGALRM else self._received
            self._previous[signum] = signal.signal(signum, handler)

    def uninstall(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _received(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            if not self.stopping:
                log.warning("Received %s again: shutting down now", name)
                self._forced(signum, frame)
            return
        self.requested = True
        log.warning("Received %s scheduling shutdown...", name)
        # thread-safe, so safe between any two bytecodes of the loop's own code too
        self.loop.call_soon_threadsafe(self._stop)
        signal.setitimer(signal.ITIMER_REAL, self.GRACE)

    def _stop(self) -> None:
        self.stopping = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.server.shutdown()

    def _forced(self, signum: int, frame: Any) -> None:
        """Save and flush what a shutdown would, in the middle of whatever runs, and exit."""
        if self.stopping or not self.requested:
            return
        server = self.server
        log.warning("a command still runs after %.1f s: shutting down without it", self.GRACE)
        engine = server.script_engine
        run = engine.current if engine is not None else None
        if run is not None and run.aof_open and server.aof is not None:
            # as when busy-reply-threshold kills a script: the writes it made stay
            server.aof.append(run.aof_db, [b"EXEC"])
        saved = True
        if server.config.save and server.dirty > 0:
            try:
                server.snapshots.save()
            except Exception as exc:
                log.error("the final snapshot failed: %s", exc)
                saved = False
        try:
            if server.aof is not None:
                server.aof.close()
            unixsocket = server.config.unixsocket
            if unixsocket and os.path.exists(unixsocket):
                os.unlink(unixsocket)
        except OSError as exc:
            log.error("closing the append-only file failed: %s", exc)
            saved = False
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0 if saved else 1)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["serve"]:
        return serve(arguments[1:])
    from .cli import main as cli

    return cli(arguments)


if __name__ == "__main__":
    sys.exit(main())
