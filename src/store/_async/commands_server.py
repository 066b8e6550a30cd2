# mypy: disable-error-code="no-any-return"
"""Server and connection administration: ACL, CLIENT, CONFIG, COMMAND, MEMORY, SLOWLOG,
LATENCY, MODULE, persistence (SAVE, BGSAVE...), replication (REPLICAOF, ROLE, FAILOVER),
SHUTDOWN, HELLO, LOLWUT; redis-py's names, signatures and reply shapes ("OK" replies are
True; map-shaped replies are dicts with str keys under RESP2 and RESP3 alike).

Not here (the command table refuses them, see ``store._command_coverage``): CLIENT REPLY,
CLIENT TRACKING, CLIENT CACHING, MONITOR, and the other commands that change their
connection's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from store import replies
from store.errors import ConnectionError, DataError

from .commands_base import AsyncCommandsBase, EncodableT, KeyT, Reply, StrT


def _word(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return str(value)


def _one_or_many(values: str | Iterable[str]) -> list[str]:
    if isinstance(values, str | bytes):
        return [_word(values)]
    return [_word(v) for v in values]


def _setuser_rules(
    enabled: bool,
    nopass: bool,
    passwords: str | Iterable[str] | None,
    hashed_passwords: str | Iterable[str] | None,
    categories: Iterable[str] | None,
    commands: Iterable[str] | None,
    keys: Iterable[KeyT] | None,
    channels: Iterable[KeyT] | None,
    selectors: Iterable[tuple[str, KeyT]] | None,
    reset: bool,
    reset_keys: bool,
    reset_channels: bool,
    reset_passwords: bool,
) -> list[str]:
    rules = [
        rule
        for rule, on in (
            ("reset", reset),
            ("resetkeys", reset_keys),
            ("resetchannels", reset_channels),
            ("resetpass", reset_passwords),
        )
        if on
    ]
    rules.append("on" if enabled else "off")
    if (passwords or hashed_passwords) and nopass:
        raise DataError("acl_setuser: nopass cannot be combined with passwords")
    for index, password in enumerate(_one_or_many(passwords or [])):
        if password[:1] not in ("+", "-"):
            raise DataError(f"acl_setuser: password {index} must start with + (add) or - (remove)")
        rules.append((">" if password[0] == "+" else "<") + password[1:])
    for index, hashed in enumerate(_one_or_many(hashed_passwords or [])):
        if hashed[:1] not in ("+", "-"):
            raise DataError(
                f"acl_setuser: hashed password {index} must start with + (add) or - (remove)"
            )
        rules.append(("#" if hashed[0] == "+" else "!") + hashed[1:])
    if nopass:
        rules.append("nopass")
    for category in map(_word, categories or ()):
        if category.startswith(("+@", "-@")):
            rules.append(category)
        elif category[:1] in ("+", "-"):
            rules.append(category[0] + "@" + category[1:])
        else:
            raise DataError(f"acl_setuser: category {category!r} must start with + or -")
    for command in map(_word, commands or ()):
        if command[:1] not in ("+", "-"):
            raise DataError(f"acl_setuser: command {command!r} must start with + or -")
        rules.append(command)
    for key in map(_word, keys or ()):
        rules.append(key if key[:1] in ("%", "~") else "~" + key)
    for channel in map(_word, channels or ()):
        rules.append("&" + channel)
    for selector_command, selector_key in selectors or ():
        rule, pattern = _word(selector_command), _word(selector_key)
        if rule[:1] not in ("+", "-"):
            raise DataError(f"acl_setuser: selector command {rule!r} must start with + or -")
        rules.append(f"({rule} {pattern if pattern[:1] in ('%', '~') else '~' + pattern})")
    return rules


class AsyncServerCommands(AsyncCommandsBase[StrT]):
    """ACL, CLIENT, CONFIG, COMMAND, MEMORY, SLOWLOG, LATENCY, MODULE, SAVE, SHUTDOWN..."""

    # -------------------------------------------------------------------------- ACL

    async def acl_cat(self, category: str | None = None) -> list[str]:
        """ACL CAT: the ACL categories, or the commands of ``category`` (str)."""
        if category is None:
            return await self.execute("ACL", "CAT", callback=replies.str_list)
        return await self.execute("ACL", "CAT", category, callback=replies.str_list)

    async def acl_deluser(self, *username: str) -> int:
        """ACL DELUSER: the number of users deleted."""
        return await self.execute("ACL", "DELUSER", *username)

    async def acl_dryrun(self, username: str, *args: EncodableT) -> StrT:
        """ACL DRYRUN: OK when ``username`` may run ``args``, else the reason (as redis-py,
        the reply as is)."""
        return await self.execute("ACL", "DRYRUN", username, *args)

    async def acl_genpass(self, bits: int | None = None) -> str:
        """ACL GENPASS: a random password (str), of ``bits`` bits (256 by default)."""
        if bits is None:
            return await self.execute("ACL", "GENPASS", callback=replies.str_if_bytes)
        if not isinstance(bits, int) or not 0 < bits <= 4096:
            raise DataError("acl_genpass: bits must be an integer between 1 and 4096")
        return await self.execute("ACL", "GENPASS", bits, callback=replies.str_if_bytes)

    async def acl_getuser(self, username: str) -> dict[str, Any] | None:
        """ACL GETUSER: redis-py's dict (``flags``, ``passwords``, ``commands``,
        ``categories``, ``keys``, ``channels``, ``selectors``, ``enabled``), None when the
        user does not exist."""
        return await self.execute("ACL", "GETUSER", username, callback=replies.acl_getuser)

    async def acl_list(self) -> list[str]:
        """ACL LIST: the users' rules, one str each."""
        return await self.execute("ACL", "LIST", callback=replies.str_list)

    async def acl_load(self) -> bool:
        """ACL LOAD from the server's aclfile: True."""
        return await self.execute("ACL", "LOAD", callback=replies.ok)

    async def acl_log(self, count: int | None = None) -> list[dict[str, Any]]:
        """ACL LOG: the latest denials, newest first: one dict each (str keys and values,
        ``age-seconds`` a float, ``client-info`` a dict)."""
        if count is None:
            return await self.execute("ACL", "LOG", callback=replies.acl_log)
        if not isinstance(count, int):
            raise DataError("acl_log: count must be an integer")
        return await self.execute("ACL", "LOG", count, callback=replies.acl_log)

    async def acl_log_reset(self) -> bool:
        """ACL LOG RESET: True."""
        return await self.execute("ACL", "LOG", "RESET", callback=replies.ok)

    async def acl_save(self) -> bool:
        """ACL SAVE to the server's aclfile: True."""
        return await self.execute("ACL", "SAVE", callback=replies.ok)

    async def acl_setuser(
        self,
        username: str,
        enabled: bool = False,
        nopass: bool = False,
        passwords: str | Iterable[str] | None = None,
        hashed_passwords: str | Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        commands: Iterable[str] | None = None,
        keys: Iterable[KeyT] | None = None,
        channels: Iterable[KeyT] | None = None,
        selectors: Iterable[tuple[str, KeyT]] | None = None,
        reset: bool = False,
        reset_keys: bool = False,
        reset_channels: bool = False,
        reset_passwords: bool = False,
    ) -> bool:
        """ACL SETUSER, redis-py's way: passwords ``+pw`` (add) / ``-pw`` (remove),
        categories ``+@cat``/``-cat``, commands ``+get``/``-set``, key patterns (``~``
        added when missing), channel patterns (``&`` added). True."""
        rules = _setuser_rules(
            enabled,
            nopass,
            passwords,
            hashed_passwords,
            categories,
            commands,
            keys,
            channels,
            selectors,
            reset,
            reset_keys,
            reset_channels,
            reset_passwords,
        )
        return await self.execute("ACL", "SETUSER", username, *rules, callback=replies.ok)

    async def acl_users(self) -> list[str]:
        """ACL USERS: the user names (str)."""
        return await self.execute("ACL", "USERS", callback=replies.str_list)

    async def acl_whoami(self) -> str:
        """ACL WHOAMI: the user of the connection that ran it (str)."""
        return await self.execute("ACL", "WHOAMI", callback=replies.str_if_bytes)

    # ----------------------------------------------------------------------- CLIENT

    async def client_getredir(self) -> int:
        """CLIENT GETREDIR: the client tracking redirects to (-1: none, 0: no tracking)."""
        return await self.execute("CLIENT", "GETREDIR")

    async def client_info(self) -> dict[str, str]:
        """CLIENT INFO: the connection that ran it, as one client_list() dict."""
        return await self.execute("CLIENT", "INFO", callback=replies.client_info)

    async def client_kill(self, address: str) -> bool:
        """CLIENT KILL ``ip:port``: True (error when no such client)."""
        return await self.execute("CLIENT", "KILL", address, callback=replies.ok)

    async def client_kill_filter(
        self,
        _id: int | str | None = None,
        _type: str | None = None,
        addr: str | None = None,
        skipme: bool | None = None,
        laddr: str | None = None,
        user: str | None = None,
    ) -> int:
        """CLIENT KILL with filters (ID, TYPE, ADDR, LADDR, USER, SKIPME): the number of
        clients killed."""
        args: list[Any] = []
        if _type is not None:
            if str(_type).lower() not in ("normal", "master", "slave", "replica", "pubsub"):
                raise DataError(
                    "client_kill_filter: _type must be normal, master, replica or pubsub"
                )
            args += ("TYPE", _type)
        if skipme is not None:
            if not isinstance(skipme, bool):
                raise DataError("client_kill_filter: skipme must be a bool")
            args += ("SKIPME", "YES" if skipme else "NO")
        if _id is not None:
            args += ("ID", _id)
        if addr is not None:
            args += ("ADDR", addr)
        if laddr is not None:
            args += ("LADDR", laddr)
        if user is not None:
            args += ("USER", user)
        if not args:
            raise DataError("client_kill_filter: give at least one filter")
        return await self.execute("CLIENT", "KILL", *args)

    async def client_no_evict(self, mode: str) -> bool:
        """CLIENT NO-EVICT ON|OFF: True."""
        return await self.execute("CLIENT", "NO-EVICT", mode, callback=replies.ok)

    async def client_pause(self, timeout: int, all: bool = True) -> bool:
        """CLIENT PAUSE every client (``all``) or only their writes, ``timeout`` ms: True."""
        if not isinstance(timeout, int):
            raise DataError("client_pause: timeout must be an integer (milliseconds)")
        if all:
            return await self.execute("CLIENT", "PAUSE", timeout, callback=replies.ok)
        return await self.execute("CLIENT", "PAUSE", timeout, "WRITE", callback=replies.ok)

    async def client_unpause(self) -> bool:
        """CLIENT UNPAUSE: True."""
        return await self.execute("CLIENT", "UNPAUSE", callback=replies.ok)

    async def client_unblock(self, client_id: int, error: bool = False) -> bool:
        """CLIENT UNBLOCK: whether the client was blocked (and is no longer)."""
        if error:
            return await self.execute("CLIENT", "UNBLOCK", client_id, "ERROR", callback=bool)
        return await self.execute("CLIENT", "UNBLOCK", client_id, callback=bool)

    async def client_trackinginfo(self) -> dict[str, Any]:
        """CLIENT TRACKINGINFO: ``{"flags": [str], "redirect": int, "prefixes": [...]}``."""
        return await self.execute("CLIENT", "TRACKINGINFO", callback=replies.trackinginfo)

    # ----------------------------------------------------------------------- CONFIG

    async def config_resetstat(self) -> bool:
        """CONFIG RESETSTAT: True."""
        return await self.execute("CONFIG", "RESETSTAT", callback=replies.ok)

    async def config_rewrite(self) -> bool:
        """CONFIG REWRITE of the server's config file: True (an error without one)."""
        return await self.execute("CONFIG", "REWRITE", callback=replies.ok)

    # ---------------------------------------------------------------------- COMMAND

    async def command(self) -> dict[str, dict[str, Any]]:
        """COMMAND: ``{name: {"name", "arity", "flags", "first_key_pos", "last_key_pos",
        "step_count", "acl_categories", "tips", "key_specifications", "subcommands"}}``."""
        return await self.execute("COMMAND", callback=replies.command_info)

    async def command_info(self, *command_names: str) -> dict[str, dict[str, Any]]:
        """COMMAND INFO: command() for the commands named (unknown ones left out)."""
        return await self.execute("COMMAND", "INFO", *command_names, callback=replies.command_info)

    async def command_docs(self, *args: str) -> dict[str, dict[str, Any]]:
        """COMMAND DOCS: ``{name: {"summary", "since", "group", "complexity", "arguments":
        [{...}], "subcommands": {name: {...}}, ...}}``, str keys everywhere."""
        return await self.execute("COMMAND", "DOCS", *args, callback=replies.command_docs)

    async def command_getkeys(self, *args: EncodableT) -> list[StrT]:
        """COMMAND GETKEYS: the keys of the command ``args``."""
        return await self.execute("COMMAND", "GETKEYS", *args)

    async def command_getkeysandflags(self, *args: EncodableT) -> list[list[StrT | list[str]]]:
        """COMMAND GETKEYSANDFLAGS: ``[[key, [flag, ...]], ...]``."""
        return await self.execute(
            "COMMAND", "GETKEYSANDFLAGS", *args, callback=replies.keys_and_flags
        )

    async def command_list(
        self,
        module: str | None = None,
        category: str | None = None,
        pattern: str | None = None,
    ) -> list[StrT]:
        """COMMAND LIST: the command names, filtered by one of ``module``, ``category``
        (ACL category) or ``pattern``."""
        filters: list[Any] = []
        if module is not None:
            filters += ("MODULE", module)
        if category is not None:
            filters += ("ACLCAT", category)
        if pattern is not None:
            filters += ("PATTERN", pattern)
        if len(filters) > 2:
            raise DataError("command_list: give one of module, category and pattern")
        if filters:
            return await self.execute("COMMAND", "LIST", "FILTERBY", *filters)
        return await self.execute("COMMAND", "LIST")

    # ----------------------------------------------------------------------- MEMORY

    async def memory_doctor(self) -> str:
        """MEMORY DOCTOR: the server's advice (str)."""
        return await self.execute("MEMORY", "DOCTOR", callback=replies.str_if_bytes)

    async def memory_malloc_stats(self) -> str:
        """MEMORY MALLOC-STATS: the allocator's report (str)."""
        return await self.execute("MEMORY", "MALLOC-STATS", callback=replies.str_if_bytes)

    async def memory_purge(self) -> bool:
        """MEMORY PURGE: True."""
        return await self.execute("MEMORY", "PURGE", callback=replies.ok)

    async def memory_stats(self) -> dict[str, Any]:
        """MEMORY STATS: a dict with str keys (str values for text; ``db.N`` a dict)."""
        return await self.execute("MEMORY", "STATS", callback=replies.memory_stats)

    async def memory_usage(self, key: KeyT, samples: int | None = None) -> int | None:
        """MEMORY USAGE: the bytes ``key`` takes, None when missing."""
        if samples is None:
            return await self.execute("MEMORY", "USAGE", key)
        return await self.execute("MEMORY", "USAGE", key, "SAMPLES", samples)

    # ---------------------------------------------------------------------- SLOWLOG

    async def slowlog_get(self, num: int | None = None) -> list[dict[str, Any]]:
        """SLOWLOG GET: ``[{"id", "start_time", "duration", "command", "client_address",
        "client_name"}, ...]`` (``command`` its arguments joined by spaces)."""
        if num is None:
            return await self.execute("SLOWLOG", "GET", callback=replies.slowlog)
        return await self.execute("SLOWLOG", "GET", num, callback=replies.slowlog)

    async def slowlog_len(self) -> int:
        return await self.execute("SLOWLOG", "LEN")

    async def slowlog_reset(self) -> bool:
        """SLOWLOG RESET: True."""
        return await self.execute("SLOWLOG", "RESET", callback=replies.ok)

    # ---------------------------------------------------------------------- LATENCY

    async def latency_doctor(self) -> str:
        """LATENCY DOCTOR: the server's report (str)."""
        return await self.execute("LATENCY", "DOCTOR", callback=replies.str_if_bytes)

    async def latency_graph(self, event: str) -> str:
        """LATENCY GRAPH: an ASCII-art graph of ``event``'s latency (str)."""
        return await self.execute("LATENCY", "GRAPH", event, callback=replies.str_if_bytes)

    async def latency_histogram(self, *commands: str) -> dict[str, dict[str, Any]]:
        """LATENCY HISTOGRAM: ``{command: {"calls": n, "histogram_usec": {bucket: n}}}``."""
        return await self.execute(
            "LATENCY", "HISTOGRAM", *commands, callback=replies.latency_histogram
        )

    async def latency_history(self, event: str) -> list[list[int]]:
        """LATENCY HISTORY: ``[[timestamp, latency_ms], ...]``."""
        return await self.execute("LATENCY", "HISTORY", event)

    async def latency_latest(self) -> list[list[StrT | int]]:
        """LATENCY LATEST: ``[[event, timestamp, latest_ms, max_ms], ...]``."""
        return await self.execute("LATENCY", "LATEST")

    async def latency_reset(self, *events: str) -> int:
        """LATENCY RESET: the number of event series reset."""
        return await self.execute("LATENCY", "RESET", *events)

    # ----------------------------------------------------------------------- MODULE

    async def module_list(self) -> list[dict[str, Any]]:
        """MODULE LIST: one dict (str keys) per module."""
        return await self.execute("MODULE", "LIST", callback=replies.list_of_str_dicts)

    async def module_load(self, path: str, *args: EncodableT) -> bool:
        """MODULE LOAD: True."""
        return await self.execute("MODULE", "LOAD", path, *args, callback=replies.ok)

    async def module_loadex(
        self,
        path: str,
        options: Sequence[EncodableT] | None = None,
        args: Sequence[EncodableT] | None = None,
    ) -> bool:
        """MODULE LOADEX with CONFIG ``options`` (name, value, ...) and ARGS: True."""
        command: list[Any] = ["MODULE", "LOADEX", path]
        if options:
            command.append("CONFIG")
            command += options
        if args:
            command.append("ARGS")
            command += args
        return await self.execute(*command, callback=replies.ok)

    async def module_unload(self, name: str) -> bool:
        """MODULE UNLOAD: True."""
        return await self.execute("MODULE", "UNLOAD", name, callback=replies.ok)

    # -------------------------------------------------------- persistence, replication

    async def save(self) -> bool:
        """SAVE (blocks the server while it writes the snapshot): True."""
        return await self.execute("SAVE", callback=replies.ok)

    async def bgsave(self, schedule: bool = True) -> bool:
        """BGSAVE (SCHEDULE: after a rewrite in progress): True once started or scheduled."""
        if schedule:
            return await self.execute("BGSAVE", "SCHEDULE", callback=replies.true)
        return await self.execute("BGSAVE", callback=replies.true)

    async def bgrewriteaof(self) -> bool:
        """BGREWRITEAOF: True once started or scheduled."""
        return await self.execute("BGREWRITEAOF", callback=replies.true)

    async def shutdown(
        self,
        save: bool = False,
        nosave: bool = False,
        now: bool = False,
        force: bool = False,
        abort: bool = False,
    ) -> bool | None:
        """SHUTDOWN: None once the server closed the connection (as redis-py); with
        ``abort``, True when a shutdown in progress was cancelled."""
        if save and nosave:
            raise DataError("shutdown: save and nosave are mutually exclusive")
        args = ["SHUTDOWN"]
        args += [
            word
            for word, on in (("SAVE", save), ("NOSAVE", nosave), ("NOW", now), ("FORCE", force))
            if on
        ]
        if abort:
            args.append("ABORT")
            return await self.execute(*args, callback=replies.ok)
        try:
            return await self.execute(*args)
        except ConnectionError:
            return None  # what a shutdown looks like from here

    async def replicaof(self, *args: EncodableT) -> bool:
        """REPLICAOF ``host port``, or ``"NO", "ONE"`` to stop replicating: True."""
        return await self.execute("REPLICAOF", *args, callback=replies.ok)

    async def slaveof(self, host: str | None = None, port: int | None = None) -> bool:
        """SLAVEOF (REPLICAOF's old name); no arguments: SLAVEOF NO ONE. True."""
        if host is None and port is None:
            return await self.execute("SLAVEOF", "NO", "ONE", callback=replies.ok)
        return await self.execute("SLAVEOF", host, port, callback=replies.ok)

    async def role(self) -> list[Reply]:
        """ROLE: ``[b"master", offset, [[ip, port, offset], ...]]`` or a replica's
        ``[b"slave", ip, port, state, offset]`` (the reply as is)."""
        return await self.execute("ROLE")

    async def failover(
        self,
        to: tuple[str, int] | None = None,
        force: bool = False,
        abort: bool = False,
        timeout: int | None = None,
    ) -> bool:
        """FAILOVER to a replica (``to=(host, port)``, with ``force``), or ABORT one in
        progress; ``timeout`` in ms. True once started."""
        args: list[Any] = ["FAILOVER"]
        if to is not None:
            args += ("TO", to[0], to[1])
            if force:
                args.append("FORCE")
        elif force:
            raise DataError("failover: force needs to and timeout")
        if abort:
            args.append("ABORT")
        if timeout is not None:
            args += ("TIMEOUT", timeout)
        return await self.execute(*args, callback=replies.ok)

    async def hello(self) -> dict[str, Any]:
        """HELLO (no arguments: the store's protocol stays): the server's description,
        ``{"server", "version", "proto", "id", "mode", "role", "modules"}``."""
        return await self.execute("HELLO", callback=replies.str_keys)

    async def lolwut(self, *version_numbers: EncodableT) -> str:
        """LOLWUT: the server's art and version (str)."""
        if version_numbers:
            args = ("LOLWUT", "VERSION", *version_numbers)
            return await self.execute(*args, callback=replies.str_if_bytes)
        return await self.execute("LOLWUT", callback=replies.str_if_bytes)
