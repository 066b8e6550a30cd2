# mypy: disable-error-code="no-any-return"
"""Scripting: EVAL/EVALSHA (and their _RO forms), SCRIPT EXISTS/FLUSH/KILL/LOAD, FUNCTION
LOAD/LIST/DELETE/DUMP/RESTORE/FLUSH/KILL/STATS, FCALL/FCALL_RO; redis-py's names,
signatures and replies. ``store.register_script()`` wraps EVALSHA with its fallback.
"""

from __future__ import annotations

from typing import Any

from store import replies
from store.errors import DataError

from .commands_base import AsyncCommandsBase, EncodableT, Reply, StrT


class AsyncScriptingCommands(AsyncCommandsBase[StrT]):
    """EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT *, FUNCTION *, FCALL, FCALL_RO."""

    async def eval(self, script: EncodableT, numkeys: int, *keys_and_args: EncodableT) -> Reply:
        """EVAL: the script's reply (Lua's values as Redis converts them)."""
        return await self.execute("EVAL", script, numkeys, *keys_and_args)

    async def eval_ro(self, script: EncodableT, numkeys: int, *keys_and_args: EncodableT) -> Reply:
        """EVAL_RO: eval() of a script that only reads (a write fails)."""
        return await self.execute("EVAL_RO", script, numkeys, *keys_and_args)

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: EncodableT) -> Reply:
        """EVALSHA: NoScriptError when the server does not have the script."""
        return await self.execute("EVALSHA", sha, numkeys, *keys_and_args)

    async def evalsha_ro(self, sha: str, numkeys: int, *keys_and_args: EncodableT) -> Reply:
        return await self.execute("EVALSHA_RO", sha, numkeys, *keys_and_args)

    async def script_exists(self, *args: str) -> list[bool]:
        """SCRIPT EXISTS: whether the server has each sha."""
        return await self.execute("SCRIPT", "EXISTS", *args, callback=replies.bool_list)

    async def script_flush(self, sync_type: str | None = None) -> bool:
        """SCRIPT FLUSH [SYNC|ASYNC]: True."""
        if sync_type is None:
            return await self.execute("SCRIPT", "FLUSH", callback=replies.ok)
        if str(sync_type).upper() not in ("SYNC", "ASYNC"):
            raise DataError("script_flush: sync_type can be SYNC or ASYNC")
        return await self.execute("SCRIPT", "FLUSH", sync_type, callback=replies.ok)

    async def script_kill(self) -> bool:
        """SCRIPT KILL the running script: True (NOTBUSY error when none runs)."""
        return await self.execute("SCRIPT", "KILL", callback=replies.ok)

    async def script_load(self, script: EncodableT) -> str:
        """SCRIPT LOAD: the script's sha1 (str)."""
        return await self.execute("SCRIPT", "LOAD", script, callback=replies.str_if_bytes)

    # ---------------------------------------------------------------------- functions

    async def function_load(self, code: EncodableT, replace: bool = False) -> StrT:
        """FUNCTION LOAD a library (``#!lua name=...``): its name."""
        if replace:
            return await self.execute("FUNCTION", "LOAD", "REPLACE", code)
        return await self.execute("FUNCTION", "LOAD", code)

    async def function_delete(self, library: EncodableT) -> bool:
        """FUNCTION DELETE: True."""
        return await self.execute("FUNCTION", "DELETE", library, callback=replies.ok)

    async def function_flush(self, mode: str = "SYNC") -> bool:
        """FUNCTION FLUSH [SYNC|ASYNC]: True."""
        return await self.execute("FUNCTION", "FLUSH", mode, callback=replies.ok)

    async def function_list(
        self, library: EncodableT | None = "*", withcode: bool = False
    ) -> list[dict[str, Any]]:
        """FUNCTION LIST: one dict per library (``library_name``, ``engine``,
        ``functions``: dicts of ``name``, ``description``, ``flags``; ``library_code`` with
        ``withcode``), str keys, RESP2 and RESP3 alike."""
        args: list[Any] = ["FUNCTION", "LIST"]
        if library is not None and library != "*":
            args += ("LIBRARYNAME", library)
        if withcode:
            args.append("WITHCODE")
        return await self.execute(*args, callback=replies.function_list)

    async def function_dump(self) -> StrT | None:
        """FUNCTION DUMP: the libraries serialized (bytes, for function_restore(); a store
        with decode_responses decodes it too: dump on a store without it)."""
        return await self.execute("FUNCTION", "DUMP")

    async def function_restore(self, payload: EncodableT, policy: str | None = "APPEND") -> bool:
        """FUNCTION RESTORE with ``policy`` APPEND, FLUSH or REPLACE: True."""
        if policy is None:
            return await self.execute("FUNCTION", "RESTORE", payload, callback=replies.ok)
        return await self.execute("FUNCTION", "RESTORE", payload, policy, callback=replies.ok)

    async def function_kill(self) -> bool:
        """FUNCTION KILL the running function: True (NOTBUSY error when none runs)."""
        return await self.execute("FUNCTION", "KILL", callback=replies.ok)

    async def function_stats(self) -> dict[str, Any]:
        """FUNCTION STATS: ``{"running_script": None or {...}, "engines": {"LUA":
        {"libraries_count": n, "functions_count": n}}}``."""
        return await self.execute("FUNCTION", "STATS", callback=replies.function_stats)

    async def fcall(self, function: EncodableT, numkeys: int, *keys_and_args: EncodableT) -> Reply:
        """FCALL: the function's reply."""
        return await self.execute("FCALL", function, numkeys, *keys_and_args)

    async def fcall_ro(
        self, function: EncodableT, numkeys: int, *keys_and_args: EncodableT
    ) -> Reply:
        """FCALL_RO: fcall() of a function flagged no-writes."""
        return await self.execute("FCALL_RO", function, numkeys, *keys_and_args)
