"""The workloads: each is one function from a client object to a zero-argument operation.

The same function serves every client: store's ``client()``, redis-py's ``Redis`` and
coredis all spell these commands the same way (``get``, ``set``, ``lrange``, ``hgetall``),
and for an async client the operation simply returns an awaitable. Adding a workload is
adding one decorated function here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = ["WORKLOADS", "Op", "Workload", "workload"]

Op = Callable[[], Any]
"""One operation: returns the reply (sync clients) or an awaitable of it (async clients)."""

MakeOp = Callable[[Any], Op]
"""Builds the operation for one client; called once per measurement, outside the timing."""

Command = tuple[str | bytes | int, ...]


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    ops: int  # operations timed per measurement at scale 1.0
    make_op: MakeOp
    check: Callable[[Any], bool]  # is this the expected reply? guards against timing errors
    setup: tuple[Command, ...] = ()  # run once per benchmark run, before any measurement
    # 0: one operation at a time. N > 0: N tasks share one client object (async clients only)
    concurrency: int = 0
    # the command one operation sends, so redis-benchmark can time exactly the same thing
    command: Command | None = None
    # make_op gets the client's pipeline builder (Opened.batch) instead of its command api
    batched: bool = False
    # ops are messages a subscriber receives (Opened.receive) while redis-benchmark publishes
    pubsub: bool = False


WORKLOADS: dict[str, Workload] = {}
"""Every workload, in the order the table shows them."""


def workload(
    name: str,
    description: str,
    *,
    ops: int,
    check: Callable[[Any], bool],
    setup: tuple[Command, ...] = (),
    concurrency: int = 0,
    command: Command | None = None,
    batched: bool = False,
    pubsub: bool = False,
) -> Callable[[MakeOp], MakeOp]:
    """Register the decorated function as workload ``name``; it may be registered again
    under another name (e.g. with a concurrency) by calling ``workload(...)(function)``."""

    def register(make_op: MakeOp) -> MakeOp:
        if name in WORKLOADS:
            raise ValueError(f"workload {name!r} is defined twice")
        WORKLOADS[name] = Workload(
            name, description, ops, make_op, check, setup, concurrency, command, batched, pubsub
        )
        return make_op

    return register


# ------------------------------------------------------------------------------- data

SMALL_KEY = "bench:small"
SMALL = b"0123456789"  # 10 bytes
SET_KEY = "bench:set"
BIG_KEY = "bench:32k"
BIG = bytes(range(256)) * 128  # 32 KiB: larger than one socket read of most clients
LIST_KEY = "bench:list"
LIST_ITEMS = [b"item-%05d" % i for i in range(1000)]
HASH_KEY = "bench:hash"
HASH = {b"field-%04d" % i: b"value-%04d" % i for i in range(1000)}


def _is_ok(reply: Any) -> bool:
    # redis-py and store turn +OK into True; a raw client would return b"OK"
    return reply is True or reply in (b"OK", "OK")


# -------------------------------------------------------------------------- workloads


@workload(
    "get",
    "GET of a 10-byte value",
    ops=20_000,
    check=lambda reply: reply == SMALL,
    setup=(("SET", SMALL_KEY, SMALL),),
    command=("GET", SMALL_KEY),
)
def get_small(client: Any) -> Op:
    return partial(client.get, SMALL_KEY)


@workload(
    "set",
    "SET of a 10-byte value",
    ops=20_000,
    check=_is_ok,
    command=("SET", SET_KEY, SMALL),
)
def set_small(client: Any) -> Op:
    return partial(client.set, SET_KEY, SMALL)


@workload(
    "get-32k",
    "GET of a 32 KiB value",
    ops=10_000,
    check=lambda reply: reply == BIG,
    setup=(("SET", BIG_KEY, BIG),),
    command=("GET", BIG_KEY),
)
def get_big(client: Any) -> Op:
    return partial(client.get, BIG_KEY)


@workload(
    "lrange-1000",
    "LRANGE 0 -1 of a 1,000-item list (10-byte items)",
    ops=2_000,
    check=lambda reply: reply == LIST_ITEMS,
    setup=(("DEL", LIST_KEY), ("RPUSH", LIST_KEY, *LIST_ITEMS)),
    command=("LRANGE", LIST_KEY, 0, -1),
)
def lrange_list(client: Any) -> Op:
    return partial(client.lrange, LIST_KEY, 0, -1)


@workload(
    "hgetall-1000",
    "HGETALL of a 1,000-field hash, as a dict",
    ops=1_000,  # pure-Python parsers manage ~150/s here: keep their measurements short
    check=lambda reply: reply == HASH,
    setup=(("DEL", HASH_KEY), ("HSET", HASH_KEY, *(x for kv in HASH.items() for x in kv))),
    command=("HGETALL", HASH_KEY),
)
def hgetall_hash(client: Any) -> Op:
    return partial(client.hgetall, HASH_KEY)


# Concurrency: the same GET, issued by many tasks sharing one client object.
workload(
    "get-c50",
    "GET of a 10-byte value, 50 concurrent tasks on one client",
    ops=20_000,
    check=lambda reply: reply == SMALL,
    setup=(("SET", SMALL_KEY, SMALL),),
    concurrency=50,
)(get_small)
workload(
    "get-c1000",
    "GET of a 10-byte value, 1,000 concurrent tasks on one client",
    ops=20_000,
    check=lambda reply: reply == SMALL,
    setup=(("SET", SMALL_KEY, SMALL),),
    concurrency=1000,
)(get_small)


PIPELINE_GETS: list[Command] = [("GET", SMALL_KEY)] * 100


@workload(
    "pipeline-100",
    "a pipeline of 100 GETs of a 10-byte value (ops/s counts pipelines)",
    ops=1_000,
    check=lambda replies: list(replies) == [SMALL] * 100,
    setup=(("SET", SMALL_KEY, SMALL),),
    batched=True,
)
def pipeline_gets(batch: Any) -> Op:
    op: Op = batch(PIPELINE_GETS)
    return op


PUBSUB_CHANNEL = "bench:pubsub"


@workload(
    "pubsub",
    "messages received per second on one channel, published by redis-benchmark -P 100",
    ops=20_000,
    check=lambda reply: reply is None,
    command=("PUBLISH", PUBSUB_CHANNEL, SMALL),
    pubsub=True,
)
def pubsub_messages(receive: Any) -> Op:
    op: Op = receive
    return op
