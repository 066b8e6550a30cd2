"""``python -m store [URL] COMMAND [ARG...]``: run one command and print the reply like
redis-cli does. Without a URL it uses the embedded default: PulsarDS on 127.0.0.1:6410,
started for the command if none is running, keeping its data in a snapshot under
``$XDG_DATA_HOME/pulsards``.

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

from .errors import ResponseError, StoreError

log = logging.getLogger("store.server")

DEFAULT_URL = "pulsar://127.0.0.1:6410"
# Replies do not tell a status (+OK) from a bulk string; redis-cli prints these statuses bare.
STATUS_WORDS = frozenset({b"OK", b"PONG", b"QUEUED"})


def format_reply(reply: Any, indent: int = 0) -> str:
    """redis-cli's human format: (nil), (integer) 1, "text", numbered lists."""
    if reply is None:
        return "(nil)"
    if isinstance(reply, ResponseError):
        return f"(error) {reply.message}"
    if isinstance(reply, bool):
        return f"({'true' if reply else 'false'})"
    if isinstance(reply, int):
        return f"(integer) {reply}"
    if isinstance(reply, float):
        return f"(double) {reply!r}"
    if isinstance(reply, bytes):
        return '"' + reply.decode("utf-8", "backslashreplace").replace('"', '\\"') + '"'
    if isinstance(reply, str):
        return reply
    if isinstance(reply, dict):
        reply = [item for pair in reply.items() for item in pair]
    if isinstance(reply, (list, tuple, set)):
        items = list(reply)
        if not items:
            return "(empty array)"
        width = len(str(len(items)))
        pad = " " * indent
        lines = []
        for number, item in enumerate(items, 1):
            prefix = f"{number:>{width}}) "
            text = format_reply(item, indent + len(prefix))
            lines.append((pad if number > 1 else "") + prefix + text)
        return "\n".join(lines)
    return repr(reply)


def data_directory() -> str:
    """Where the embedded default keeps its snapshot between commands."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "pulsards")


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
    parser = argparse.ArgumentParser(
        prog="python -m store",
        description="Run one command against a Redis-protocol store and print the reply.",
    )
    parser.add_argument("words", nargs="+", metavar="[URL] COMMAND [ARG ...]")
    args = parser.parse_args(arguments)
    words: list[str] = args.words
    url = os.environ.get("STORE_URL") or DEFAULT_URL
    if "://" in words[0]:
        url, words = words[0], words[1:]
    if not words:
        parser.error("no command given")
    from .sync import start_store

    # The embedded default keeps its data between commands, like a small database file.
    server_options = {"dir": _ensure(data_directory()), "save": [(3600, 1)]}
    try:
        with start_store(url, server_options, retries=0) as store:
            reply = store.execute(*words)
    except ResponseError as exc:
        print(format_reply(exc))
        return 1
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = isinstance(reply, bytes) and reply in STATUS_WORDS
    print(reply.decode() if status else format_reply(reply))
    return 0


def _ensure(directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    return directory


if __name__ == "__main__":
    sys.exit(main())
