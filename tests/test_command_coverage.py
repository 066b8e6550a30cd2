"""Every command and subcommand of the test redis-server (7.0) has a method on
``store.client()``'s class, or a line with its reason in ``store._command_coverage``.

The command -> method mapping is ``_command_coverage.method_for``: a naming rule and a
table of exceptions, nothing guessed. Both variants' client classes are checked.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator

import pytest

from store import _command_coverage as coverage
from store import aio, sync
from store._async.commands_bits import AsyncBitFieldOperation
from store._sync.commands_bits import SyncBitFieldOperation
from store.command_table import COMMANDS, REFUSED

# pipelines have the same methods (they are Commands too); they add their own multi(),
# watch()... which are not the refused commands' methods
CLIENT_CLASSES = (aio.RedisClient, sync.RedisClient)
assert issubclass(aio.Pipeline, aio.Commands) and issubclass(sync.Pipeline, sync.Commands)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture(scope="module")
def server_commands(redis_url: str) -> dict[str, int]:
    """Every command and subcommand of the running server (``container|sub``), with its
    arity, from COMMAND (each row's subcommands are its tenth element)."""
    with sync.create_store(redis_url, protocol=2) as store:
        rows = store.execute("COMMAND")
        docs = store.execute("COMMAND", "DOCS")
    found: dict[str, int] = {}
    for row in rows:
        found[_text(row[0]).lower()] = int(row[1])
        for sub in row[9] if len(row) > 9 else ():
            found[_text(sub[0]).lower()] = int(sub[1])
    # COMMAND DOCS names the same commands and subcommands: nothing hides from COMMAND
    it = iter(docs)
    documented = {_text(name).lower(): doc for name, doc in zip(it, it, strict=True)}
    assert set(documented) <= set(found)
    return found


def _containers(commands: dict[str, int]) -> set[str]:
    return {name.partition("|")[0] for name in commands if "|" in name}


def _needs_method(commands: dict[str, int]) -> Iterator[str]:
    """The commands a client method should send: every subcommand; every command but a
    container that cannot run without a subcommand (arity -2: ``client``, ``xinfo``)."""
    containers = _containers(commands)
    for name, arity in sorted(commands.items()):
        if name in containers and arity != -1:
            continue
        yield name


def _has_method(cls: type, name: str) -> bool:
    return callable(getattr(cls, name, None)) and not name.startswith("_")


def test_every_command_has_a_method_or_a_reason(server_commands: dict[str, int]) -> None:
    uncovered = []
    both = []
    missing_listed = []
    for name in _needs_method(server_commands):
        method = coverage.method_for(name)
        provided = all(_has_method(cls, method) for cls in CLIENT_CLASSES)
        partly = any(_has_method(cls, method) for cls in CLIENT_CLASSES)
        if partly and not provided:
            pytest.fail(f"{name}: {method}() is on some of {CLIENT_CLASSES} but not all")
        listed = name in coverage.NOT_PROVIDED
        if provided and listed:
            both.append(f"{name} ({method})")
        elif not provided and not listed:
            if name in coverage.MISSING:
                missing_listed.append(name)
            else:
                uncovered.append(f"{name} (no {method}())")
        elif name in coverage.MISSING:
            pytest.fail(f"{name} is in the temporary MISSING list but is covered: remove it")
    assert not both, f"a method and a 'not provided' line: {both}"
    assert not uncovered, f"neither a method nor a 'not provided' line: {uncovered}"
    if missing_listed:
        warnings.warn(
            f"{len(missing_listed)} commands still MISSING: {' '.join(missing_listed)}",
            stacklevel=1,
        )


def test_nothing_is_missing() -> None:
    """The temporary MISSING list is empty: every command is covered."""
    assert not coverage.MISSING, f"still missing: {sorted(coverage.MISSING)}"


def test_the_tables_name_real_commands(server_commands: dict[str, int]) -> None:
    for table in (coverage.METHODS, coverage.NOT_PROVIDED, coverage.MISSING):
        unknown = sorted(set(table) - set(server_commands))
        assert not unknown, f"not commands of redis-server {unknown}"
    for name, method in coverage.METHODS.items():
        if name in coverage.MISSING:
            continue
        assert all(_has_method(cls, method) for cls in CLIENT_CLASSES), (name, method)
    for name, reason in coverage.NOT_PROVIDED.items():
        assert reason.strip(), f"{name}: no reason given"


def test_refused_commands_have_no_method() -> None:
    """A command the command table refuses could never work as a method: it has none, and
    its 'not provided' line says so."""
    for name, info in COMMANDS.items():
        if info.route != REFUSED:
            continue
        method = coverage.method_for(name)
        assert not any(_has_method(cls, method) for cls in CLIENT_CLASSES), name
        assert coverage.NOT_PROVIDED.get(name, "").startswith("refused"), name
    for name, reason in coverage.NOT_PROVIDED.items():
        if reason.startswith("refused"):
            assert COMMANDS[name].route == REFUSED, name


def test_methods_send_their_command(server_commands: dict[str, int]) -> None:
    """Each method's source names its command (``"XADD"``; ``"CLIENT"`` and ``"LIST"`` for
    a subcommand) as string literals, or what SENDS_INSTEAD says it names instead: the
    mapping is checked against the code, not only against the method names."""
    wrong = []
    for name in _needs_method(server_commands):
        if name in coverage.NOT_PROVIDED or name in coverage.MISSING:
            continue
        for cls in CLIENT_CLASSES:
            source = inspect.getsource(getattr(cls, coverage.method_for(name)))
            if name in coverage.SENDS_INSTEAD:
                found = coverage.SENDS_INSTEAD[name] in source
            else:
                head, _, sub = name.partition("|")
                found = all(f'"{word.upper()}"' in source for word in (head, sub) if word)
            if not found:
                wrong.append(f"{cls.__name__}.{coverage.method_for(name)} ({name})")
    assert not wrong, f"methods that do not name their command: {wrong}"
    for builder in (AsyncBitFieldOperation, SyncBitFieldOperation):
        assert '"BITFIELD"' in inspect.getsource(builder)


def test_the_rule() -> None:
    assert coverage.method_for("get") == "get"
    assert coverage.method_for("client|list") == "client_list"
    assert coverage.method_for("client|no-evict") == "client_no_evict"
    assert coverage.method_for("del") == "delete"
    assert coverage.method_for("cluster|getkeysinslot") == "cluster_get_keys_in_slot"
