"""Lua scripts run by EVALSHA, loaded again on NOSCRIPT."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import NoScriptError
from .pipeline import AsyncPipeline

if TYPE_CHECKING:
    from .protocols import AsyncCommandTarget


class AsyncScript:
    """A registered Lua script, called as ``script(keys=[...], args=[...])``.

    The SHA1 is computed locally, so the first call is a plain EVALSHA; when the server
    does not know the script (NOSCRIPT: never loaded, restarted, SCRIPT FLUSH) it is
    loaded with SCRIPT LOAD and EVALSHA is sent again. ``client=`` runs it elsewhere:
    a pipeline queues the EVALSHA and loads the script (if missing) when it commits.
    A Lua error raises ResponseError with the server's message.
    """

    def __init__(self, store: AsyncCommandTarget, script: str | bytes) -> None:
        if not isinstance(script, (str, bytes)):
            raise TypeError(f"a script is str or bytes, not {type(script).__name__}")
        self.store = store
        self.script = script
        body = script.encode(store.encoding) if isinstance(script, str) else script
        self.sha = hashlib.sha1(body, usedforsecurity=False).hexdigest()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} sha={self.sha}>"

    async def __call__(
        self,
        keys: Sequence[Any] | None = None,
        args: Sequence[Any] | None = None,
        client: Any = None,
    ) -> Any:
        """Run the script with ``keys`` (KEYS) and ``args`` (ARGV) and return its reply.

        ``client`` is anything with this package's ``execute``: the store (default), a
        store's ``client()``, or a pipeline (then the EVALSHA is queued and the pipeline
        is returned, as for every queued command).
        """
        keys = () if keys is None else keys
        args = () if args is None else args
        if client is None:
            client = self.store
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        if isinstance(client, AsyncPipeline) and client.queueing:
            client.add_script(self)
            return await client.execute(*command)
        try:
            return await client.execute(*command)
        except NoScriptError:
            await client.execute("SCRIPT", "LOAD", self.script)
            return await client.execute(*command)

    async def load(self, client: Any = None) -> str:
        """SCRIPT LOAD the script now; returns its SHA1."""
        await (client or self.store).execute("SCRIPT", "LOAD", self.script)
        return self.sha

    async def exists(self, client: Any = None) -> bool:
        """Whether the server has the script in its cache."""
        reply = await (client or self.store).execute("SCRIPT", "EXISTS", self.sha)
        return bool(reply[0])
