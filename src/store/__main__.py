"""``python -m store [URL] COMMAND [ARG...]``: run one command and print the reply like
redis-cli does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .errors import ResponseError, StoreError

DEFAULT_URL = "redis://127.0.0.1:6379"
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m store",
        description="Run one command against a Redis-protocol store and print the reply.",
    )
    parser.add_argument("words", nargs="+", metavar="[URL] COMMAND [ARG ...]")
    args = parser.parse_args(argv)
    words: list[str] = args.words
    url = DEFAULT_URL
    if "://" in words[0]:
        url, words = words[0], words[1:]
    if not words:
        parser.error("no command given")
    from .sync import create_store

    try:
        with create_store(url, retries=0) as store:
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


if __name__ == "__main__":
    sys.exit(main())
