"""PulsarDS's own command table agrees with the client's (redis-server 7.0's COMMAND INFO):
the same arity, the same flags where both speak of the same thing, the same keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import store.server.core  # noqa: F401  (registers every command family)
from store.command_table import COMMANDS as REDIS
from store.command_table import CommandInfo
from store.server.commands import COMMANDS as PULSAR
from store.server.commands import Command

# PulsarDS flag -> the Redis flag that means the same
SAME_FLAGS = {
    "write": "write",
    "blocking": "blocking",
    "noscript": "noscript",
    "no-auth": "no_auth",
    "admin": "admin",
}


def _pulsar_commands() -> list[Command]:
    return sorted({id(c): c for c in PULSAR.values()}.values(), key=lambda c: c.name)


def _redis(command: Command) -> CommandInfo:
    info = REDIS.get(command.name)
    assert info is not None, f"PulsarDS has {command.name!r}, which Redis 7.0 has not"
    return info


@pytest.mark.parametrize("command", _pulsar_commands(), ids=lambda c: c.name)
def test_arity_and_flags_match_redis(command: Command) -> None:
    info = _redis(command)
    assert command.arity == info.arity
    if info.subcommands:
        return  # Redis flags a container's subcommands, not the container
    for ours, theirs in SAME_FLAGS.items():
        assert (ours in command.flags) == (theirs in info.flags), (ours, theirs)


def _shapes(name: str, arity: int) -> Iterator[list[bytes]]:
    least = abs(arity)
    for count in [least] if arity > 0 else range(least, least + 6):
        yield [name.encode()] + [str(i).encode() for i in range(1, count)]


@pytest.mark.parametrize("command", _pulsar_commands(), ids=lambda c: c.name)
def test_keys_match_redis(command: Command) -> None:
    info = _redis(command)
    if info.subcommands:
        return
    checked = 0
    for args in _shapes(command.name, info.arity):
        expected = info.keys(args, channels=True)
        if not expected:
            continue  # arguments that do not fit the command: the server refuses them
        assert command.keys(args) == expected, args
        checked += 1
    # numbered arguments never hold MIGRATE's KEYS or XREAD's STREAMS keyword: those key
    # finders are checked against COMMAND GETKEYS in their own modules
    assert checked or not info.key_specs or info.name in ("migrate", "xread", "xreadgroup")
