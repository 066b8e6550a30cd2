"""Which method of ``store.client()`` sends each Redis 7.0 command, and why a few have none.

The rule: command ``name`` is method ``name``, subcommand ``container|sub`` is method
``container_sub``, ``-`` becoming ``_`` (``client|no-evict`` -> ``client_no_evict``);
``METHODS`` lists the exceptions (redis-py's names). A container (``client``, ``xinfo``...)
is covered by its subcommands; one that also runs without a subcommand (``command``) needs
its own method. ``NOT_PROVIDED`` says why a command has no method: each line its reason.
``tests/test_command_coverage.py`` checks this table against a running redis-server's
``COMMAND``: every command and subcommand is either a method of the client class or a line
here, never both, and nothing here names a command the server does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["METHODS", "MISSING", "NOT_PROVIDED", "SENDS_INSTEAD", "method_for"]

# Exceptions to the naming rule: redis-py's names.
METHODS: Final[Mapping[str, str]] = {
    "del": "delete",  # ``del`` is a Python keyword
    "cluster|count-failure-reports": "cluster_count_failure_report",
    "cluster|getkeysinslot": "cluster_get_keys_in_slot",
    "cluster|saveconfig": "cluster_save_config",
}

# The methods whose source does not name their command, and what it names instead (checked
# by the coverage test, which otherwise finds the command's words as string literals in its
# method's source): redis-py's incr/decr send INCRBY/DECRBY; bitfield() returns the builder
# whose execute() sends BITFIELD.
SENDS_INSTEAD: Final[Mapping[str, str]] = {
    "incr": '"INCRBY"',
    "decr": '"DECRBY"',
    "bitfield": "BitFieldOperation(",
}

_OWN = "send it on a connection of your own from store.connect()"
_HELP = "help text for interactive use (redis-cli); the methods' docstrings say the same"

# Commands with no method, and why. The refused ones are the command table's REFUSED rows
# (``command_table.INSTEAD``): a method could never work on a shared connection.
NOT_PROVIDED: Final[Mapping[str, str]] = {
    # refused by the command table: they change the state of their connection
    "select": "refused: put the database in the URL or pass database= to create_store()",
    "auth": "refused: put the user and password in the URL",
    "multi": "refused: use store.pipeline(transaction=True) or store.transaction()",
    "exec": "refused: use store.pipeline(transaction=True) or store.transaction()",
    "discard": "refused: use store.pipeline(transaction=True) or store.transaction()",
    "watch": "refused: use store.transaction(func, *keys), which watches the keys",
    "unwatch": "refused: use store.transaction(func, *keys), which unwatches them",
    "subscribe": "refused: use store.pubsub()",
    "psubscribe": "refused: use store.pubsub()",
    "ssubscribe": "refused: use store.pubsub()",
    "unsubscribe": "refused: use store.pubsub()",
    "punsubscribe": "refused: use store.pubsub()",
    "sunsubscribe": "refused: use store.pubsub()",
    "monitor": "refused: it streams every command the server runs; " + _OWN,
    "client|reply": "refused: replies are how the store matches its commands; " + _OWN,
    "client|tracking": "refused: invalidation messages would reach the wrong reader; " + _OWN,
    "client|caching": "refused: it applies to client tracking; " + _OWN,
    "readonly": "refused: for cluster replicas (ClusterStore sends it itself); " + _OWN,
    "readwrite": "refused: for cluster replicas; " + _OWN,
    "asking": "refused: for cluster redirections (ClusterStore sends it itself); " + _OWN,
    "sync": "refused: it turns the connection into a replication stream; " + _OWN,
    "psync": "refused: it turns the connection into a replication stream; " + _OWN,
    "replconf": "refused: spoken by replicas to their primary; " + _OWN,
    # their effect ends with the connection the store closes after them
    "quit": "the store closes its connections itself: use store.close()",
    "reset": "the store's connections are never handed back changed: nothing to reset",
    # internal or debugging commands
    "restore-asking": "internal to MIGRATE between cluster nodes: use migrate()",
    "debug": "disabled by default (enable-debug-command) and can crash or stall the server: "
    "store.execute('DEBUG', ...) if you must",
    "pfdebug": "internal HyperLogLog debugging: store.execute('PFDEBUG', ...) if you must",
    "pfselftest": "Redis's own HyperLogLog self test: store.execute('PFSELFTEST')",
    "script|debug": "turns the next EVAL into an interactive Lua debugging session on its "
    "connection: use redis-cli --ldb",
    # help subcommands
    "acl|help": _HELP,
    "client|help": _HELP,
    "cluster|help": _HELP,
    "command|help": _HELP,
    "config|help": _HELP,
    "function|help": _HELP,
    "latency|help": _HELP,
    "memory|help": _HELP,
    "module|help": _HELP,
    "object|help": _HELP,
    "pubsub|help": _HELP,
    "script|help": _HELP,
    "slowlog|help": _HELP,
    "xgroup|help": _HELP,
    "xinfo|help": _HELP,
}

# TEMPORARY, while issue 15 is being worked on: commands that should have a method and do
# not have one yet. tests/test_command_coverage.py reports them; it passes only when this
# list is empty.
MISSING: Final[frozenset[str]] = frozenset()


def method_for(command: str) -> str:
    """The name of the client method that sends ``command`` (``"client|list"``)."""
    found = METHODS.get(command)
    if found is not None:
        return found
    return command.replace("|", "_").replace("-", "_")
