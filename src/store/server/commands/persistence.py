"""Persistence commands: SAVE BGSAVE LASTSAVE BGREWRITEAOF. Replies and errors are
Redis 7.0's; the files are written by ``server.snapshot`` and ``server.aof``, the background
jobs scheduled by ``server.persistence``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..persistence import PersistenceError
from ..protocol import OK, SimpleString
from . import ADMIN, NO_QUEUE, NOSCRIPT, CommandError, command, syntax_error

if TYPE_CHECKING:
    from ..client import Client

log = logging.getLogger("store.server")

_OTHER_JOB = (
    "ERR Another child process is active (AOF?): can't BGSAVE right now. "
    "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
)


# NO_QUEUE so that SAVE inside MULTI is refused at once and the transaction aborted, as
# Redis does for its no-multi commands, instead of blocking inside EXEC.
@command("save", 1, ADMIN, NOSCRIPT, NO_QUEUE)
def save(client: Client, args: list[bytes]) -> Any:
    if client.multi is not None:
        client.multi_failed = True
        raise CommandError("ERR Command not allowed inside a transaction")
    snapshots = client.server.snapshots
    if snapshots.saving:
        raise CommandError("ERR Background save already in progress")
    try:
        snapshots.save()
    except PersistenceError as exc:
        log.warning("SAVE failed: %s", exc)
        raise CommandError("ERR") from None  # Redis's bare error; the log says why
    return OK


@command("bgsave", -1, ADMIN, NOSCRIPT)
def bgsave(client: Client, args: list[bytes]) -> Any:
    schedule = False
    if len(args) > 1:
        if len(args) == 2 and args[1].lower() == b"schedule":
            schedule = True
        else:
            raise syntax_error()
    snapshots = client.server.snapshots
    if snapshots.saving:
        raise CommandError("ERR Background save already in progress")
    if snapshots.rewriting or client.in_exec:
        if not (schedule or client.in_exec):
            raise CommandError(_OTHER_JOB)
        # Saving inside EXEC would pause the transaction: the server tick starts it.
        snapshots.bgsave_scheduled = True
        return SimpleString(b"Background saving scheduled")
    try:
        snapshots.background_save()
    except PersistenceError as exc:
        log.warning("BGSAVE failed: %s", exc)
        raise CommandError("ERR") from None
    return SimpleString(b"Background saving started")


@command("lastsave", 1)
def lastsave(client: Client, args: list[bytes]) -> Any:
    return client.server.lastsave


@command("bgrewriteaof", 1, ADMIN, NOSCRIPT)
def bgrewriteaof(client: Client, args: list[bytes]) -> Any:
    snapshots = client.server.snapshots
    if snapshots.rewriting:
        raise CommandError("ERR Background append only file rewriting already in progress")
    if snapshots.saving or client.in_exec:
        snapshots.rewrite_scheduled = True
        return SimpleString(b"Background append only file rewriting scheduled")
    try:
        snapshots.background_rewrite()
    except PersistenceError as exc:
        log.warning("BGREWRITEAOF failed: %s", exc)
        raise CommandError(
            "ERR Can't execute an AOF background rewriting. "
            "Please check the server logs for more information."
        ) from None
    return SimpleString(b"Background append only file rewriting started")
