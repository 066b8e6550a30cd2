"""HyperLogLog commands: PFADD, PFCOUNT (one key with the cached cardinality, or the
union of several), PFMERGE, PFDEBUG and PFSELFTEST, as Redis 7.0's ``hyperloglog.c`` on
its string format (``hll.py``). An HLL is a plain string value: TYPE says string."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from .. import hll
from ..notify import STRING, notify
from ..protocol import OK, SimpleString
from . import ADMIN, WRITE, WRONGTYPE, CommandError, command

if TYPE_CHECKING:
    from ..client import Client

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPT = "INVALIDOBJ Corrupted HLL object detected"


def _signed(card: int) -> int:
    """hllCount's uint64_t replied as Redis's long long."""
    return card - (1 << 64) if card >= 1 << 63 else card


def _max_bytes(client: Client) -> int:
    return int(client.server.config.others.get("hll-sparse-max-bytes", "3000"))


def _hll(client: Client, key: bytes) -> bytes | None:
    """isHLLObjectOrReply: the value at ``key`` (None if missing), checked."""
    value = client.db.get(key)
    if value is None:
        return None
    if type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    if not hll.is_hll(value):
        raise CommandError(NOT_HLL)
    return value


@command("pfadd", -2, WRITE, keys=(1, 1, 1))
def pfadd(client: Client, args: list[bytes]) -> Any:
    key = args[1]
    db = client.db
    value = _hll(client, key)
    updated = 0
    if value is None:
        value = hll.empty()
        updated = 1
    elif len(args) == 2:
        return 0
    state = hll.load(value, _max_bytes(client))
    try:
        updated += state.add_many(args[2:])
    except hll.Corrupt:
        db.set(key, state.value(), keep_ttl=True)  # Redis changed the value in place
        raise CommandError(CORRUPT) from None
    if not updated:
        hll.remember(value, state)  # unchanged
        client.propagate = []
        return 0
    state.invalidate()
    db.set(key, hll.store(state), keep_ttl=True)
    notify(client, STRING, b"pfadd", key)
    return 1


@command("pfcount", -2, keys=(1, -1, 1))
def pfcount(client: Client, args: list[bytes]) -> Any:
    if len(args) > 2:
        maximum: bytes | None = None
        for key in args[1:]:
            value = _hll(client, key)
            if value is None:
                continue
            try:
                maximum = hll.merge_into(maximum, value)
            except hll.Corrupt:
                raise CommandError(CORRUPT) from None
        return 0 if maximum is None else _signed(hll.count_raw(maximum))
    key = args[1]
    value = _hll(client, key)
    if value is None:
        return 0
    card = hll.cached(value)
    if card is not None:
        return card
    try:
        card = hll.cardinality(value)
    except hll.Corrupt:
        raise CommandError(CORRUPT) from None
    # Redis writes the cache into the string: a change WATCH sees
    new = hll.with_cache(value, card)
    hll.recached(value, new)
    client.db.set(key, new, keep_ttl=True)
    client.db.touch(key)
    return _signed(card)


@command("pfmerge", -2, WRITE, keys=(1, -1, 1), writes=(1,))
def pfmerge(client: Client, args: list[bytes]) -> Any:
    maximum: bytes | None = None
    use_dense = False
    for key in args[1:]:
        value = _hll(client, key)
        if value is None:
            continue
        if value[4] == hll.DENSE:
            use_dense = True
        try:
            maximum = hll.merge_into(maximum, value)
        except hll.Corrupt:
            raise CommandError(CORRUPT) from None
    dest = args[1]
    db = client.db
    current = db.get(dest)
    state = hll.load(current if current is not None else hll.empty(), _max_bytes(client))
    if use_dense:
        try:
            state.to_dense()
        except hll.Corrupt:
            raise CommandError(CORRUPT) from None
    if maximum is not None:
        if state.dense:
            state.set_registers(hll.max_raw(state.registers(), maximum))
        else:
            for index, count in enumerate(maximum):
                if count:
                    try:
                        state.set_register(index, count)
                    except hll.Corrupt:
                        pass  # Redis ignores hllSparseSet's failure here
    state.invalidate()
    db.set(dest, hll.store(state), keep_ttl=True)
    notify(client, STRING, b"pfadd", dest)
    return OK


_PFDEBUG = (b"getreg", b"decode", b"encoding", b"todense")


@command("pfdebug", 3, WRITE, ADMIN, keys=(2, 2, 1))
def pfdebug(client: Client, args: list[bytes]) -> Any:
    sub = args[1].lower()
    key = args[2]
    db = client.db
    value = db.get(key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    value = _hll(client, key)
    assert value is not None
    if sub in (b"getreg", b"todense"):
        converted = value[4] == hll.SPARSE
        if converted:
            state = hll.HyperLogLog(value, _max_bytes(client))
            try:
                state.to_dense()
            except hll.Corrupt:
                raise CommandError(CORRUPT) from None
            value = state.value()
            db.set(key, value, keep_ttl=True)
        else:
            client.propagate = []
        if sub == b"todense":
            return 1 if converted else 0
        return list(hll.unpack_dense(value[hll.HEADER :]))
    client.propagate = []
    if sub == b"decode":
        if value[4] != hll.SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        return hll.decode_text(value)
    if sub == b"encoding":
        return SimpleString(b"dense" if value[4] == hll.DENSE else b"sparse")
    name = args[1].decode("utf-8", "replace")
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{name}'")


@command("pfselftest", 1, ADMIN)
def pfselftest(client: Client, args: list[bytes]) -> Any:
    """Redis's two checks, smaller: the packed registers keep what is set in them, and
    dense and sparse counts agree and stay within the expected error."""
    for _ in range(4):
        wanted = bytes(random.getrandbits(6) for _ in range(hll.REGISTERS))
        got = hll.unpack_dense(hll.pack_dense(wanted))
        if got != wanted:
            at = next(i for i in range(hll.REGISTERS) if got[i] != wanted[i])
            raise CommandError(f"TESTFAILED Register {at} should be {wanted[at]} but is {got[at]}")
    max_bytes = _max_bytes(client)
    sparse = hll.HyperLogLog(hll.empty(), max_bytes)
    dense = hll.HyperLogLog(hll.empty(), max_bytes)
    dense.to_dense()
    relerr = 1.04 / math.sqrt(hll.REGISTERS)
    seed = random.getrandbits(64)
    checkpoint = 1
    for j in range(1, 100_001):
        element = ((j ^ seed) & ((1 << 64) - 1)).to_bytes(8, "little")
        dense.add_many((element,))
        sparse.add_many((element,))
        if j != checkpoint:
            continue
        if j < max_bytes // 2 and sparse.dense:
            raise CommandError("TESTFAILED sparse encoding not used")
        dense_count = hll.cardinality(dense.value())
        if dense_count != hll.cardinality(sparse.value()):
            raise CommandError("TESTFAILED dense/sparse disagree")
        abserr = abs(checkpoint - dense_count)
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abserr > maxerr:
            raise CommandError(f"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}")
        checkpoint *= 10
    return OK
