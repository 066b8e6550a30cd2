"""String commands: SET and friends, counters, ranges and bits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..keyspace import now_ms
from ..longdouble import add_long_double, parse_increment, parse_long_double
from ..notify import EXPIRED, GENERIC, STRING, notify
from ..protocol import OK
from . import WRITE, CommandError, command, parse_int, syntax_error

if TYPE_CHECKING:
    from ..client import Client

MAX_STRING = 512 << 20


def get_string(client: Client, key: bytes) -> bytes | None:
    return client.db.get_typed(key, bytes)  # type: ignore[no-any-return]


def _check_length(client: Client, size: int, added: int) -> None:
    """Redis's checkStringLength: a string may not grow past proto-max-bulk-len."""
    if size + added > client.server.config.proto_max_bulk_len:
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def _expire_deadline(value: bytes, unit_ms: int, absolute: bool, name: str) -> int:
    number = parse_int(value)
    if number <= 0 or number > (1 << 63) // unit_ms // 2:
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    deadline = number * unit_ms
    return deadline if absolute else now_ms() + deadline


@command("set", -3, WRITE, keys=(1, 1, 1))
def set_(client: Client, args: list[bytes]) -> Any:
    key, value = args[1], args[2]
    condition = b""
    deadline: int | None = None
    keep_ttl = want_old = False
    index = 3
    while index < len(args):
        option = args[index].upper()
        has_next = index + 1 < len(args)
        if option in (b"NX", b"XX") and not condition:
            condition = option
        elif option == b"KEEPTTL" and deadline is None:
            keep_ttl = True
        elif option == b"GET":
            want_old = True
        elif option in (b"EX", b"PX", b"EXAT", b"PXAT") and has_next and not keep_ttl:
            if deadline is not None:
                raise syntax_error()
            unit = 1000 if option in (b"EX", b"EXAT") else 1
            deadline = _expire_deadline(args[index + 1], unit, option.endswith(b"AT"), "set")
            index += 1
        else:
            raise syntax_error()
        index += 1
    db = client.db
    old = db.get(key)
    if want_old and old is not None and type(old) is not bytes:
        raise CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    if (condition == b"NX" and old is not None) or (condition == b"XX" and old is None):
        client.propagate = []
        return old if want_old else None
    db.set(key, value, keep_ttl=keep_ttl)
    if client.server.notify_flags:
        notify(client, STRING, b"set", key)
    if deadline is not None:
        db.set_deadline(key, deadline)
        if client.server.notify_flags:
            notify(client, GENERIC, b"expire", key)
            if key not in db.data:  # a past EXAT/PXAT: Redis expires it on the next look
                notify(client, EXPIRED, b"expired", key)
        client.propagate = [[b"SET", key, value, b"PXAT", b"%d" % deadline]]
    elif want_old or condition:
        client.propagate = [[b"SET", key, value, b"KEEPTTL"] if keep_ttl else [b"SET", key, value]]
    return old if want_old else OK


@command("setnx", 3, WRITE, keys=(1, 1, 1))
def setnx(client: Client, args: list[bytes]) -> Any:
    if client.db.get(args[1]) is not None:
        client.propagate = []
        return 0
    client.db.set(args[1], args[2])
    notify(client, STRING, b"set", args[1])
    return 1


def _setex(client: Client, args: list[bytes], unit: int) -> Any:
    name = args[0].decode("utf-8", "replace").lower()
    deadline = _expire_deadline(args[2], unit, False, name)
    client.db.set(args[1], args[3])
    notify(client, STRING, b"set", args[1])
    client.db.set_deadline(args[1], deadline)
    notify(client, GENERIC, b"expire", args[1])
    client.propagate = [[b"SET", args[1], args[3], b"PXAT", b"%d" % deadline]]
    return OK


@command("setex", 4, WRITE, keys=(1, 1, 1))
def setex(client: Client, args: list[bytes]) -> Any:
    return _setex(client, args, 1000)


@command("psetex", 4, WRITE, keys=(1, 1, 1))
def psetex(client: Client, args: list[bytes]) -> Any:
    return _setex(client, args, 1)


@command("get", 2, keys=(1, 1, 1))
def get(client: Client, args: list[bytes]) -> Any:
    return client.db.get_typed(args[1], bytes)


@command("getset", 3, WRITE, keys=(1, 1, 1))
def getset(client: Client, args: list[bytes]) -> Any:
    old = get_string(client, args[1])
    client.db.set(args[1], args[2])
    notify(client, STRING, b"set", args[1])
    return old


@command("getdel", 2, WRITE, keys=(1, 1, 1))
def getdel(client: Client, args: list[bytes]) -> Any:
    old = get_string(client, args[1])
    if old is None:
        client.propagate = []
    else:
        client.db.delete(args[1])
        notify(client, GENERIC, b"del", args[1])
        client.propagate = [[b"DEL", args[1]]]
    return old


@command("getex", -2, WRITE, keys=(1, 1, 1))
def getex(client: Client, args: list[bytes]) -> Any:
    key = args[1]
    deadline: int | None = None
    persist = False
    index = 2
    while index < len(args):
        option = args[index].upper()
        if option in (b"EX", b"PX", b"EXAT", b"PXAT") and index + 1 < len(args):
            if deadline is not None or persist:
                raise syntax_error()
            unit = 1000 if option in (b"EX", b"EXAT") else 1
            deadline = _expire_deadline(args[index + 1], unit, option.endswith(b"AT"), "getex")
            index += 2
        elif option == b"PERSIST" and deadline is None and not persist:
            persist = True
            index += 1
        else:
            raise syntax_error()
    value = get_string(client, key)
    client.propagate = []
    if value is None:
        return None
    if deadline is not None:
        client.db.set_deadline(key, deadline)
        expired = client.db.data.get(key) is None
        notify(client, GENERIC, b"del" if expired else b"expire", key)
        client.propagate = [[b"PEXPIREAT", key, b"%d" % deadline]]
    elif persist and client.db.persist(key):
        notify(client, GENERIC, b"persist", key)
        client.propagate = [[b"PERSIST", key]]
    return value


@command("mget", -2, keys=(1, -1, 1))
def mget(client: Client, args: list[bytes]) -> Any:
    get_value = client.db.get
    values = []
    for key in args[1:]:
        value = get_value(key)
        values.append(value if type(value) is bytes else None)
    return values


@command("mset", -3, WRITE, keys=(1, -1, 2))
def mset(client: Client, args: list[bytes]) -> Any:
    if len(args) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'mset' command")
    db = client.db
    for index in range(1, len(args), 2):
        db.set(args[index], args[index + 1])
        notify(client, STRING, b"set", args[index])
    return OK


@command("msetnx", -3, WRITE, keys=(1, -1, 2))
def msetnx(client: Client, args: list[bytes]) -> Any:
    if len(args) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'msetnx' command")
    db = client.db
    if any(db.get(args[index]) is not None for index in range(1, len(args), 2)):
        client.propagate = []
        return 0
    for index in range(1, len(args), 2):
        db.set(args[index], args[index + 1])
        notify(client, STRING, b"set", args[index])
    return 1


@command("append", 3, WRITE, keys=(1, 1, 1))
def append(client: Client, args: list[bytes]) -> Any:
    old = get_string(client, args[1]) or b""
    _check_length(client, len(old), len(args[2]))
    value = old + args[2]
    client.db.set(args[1], value, keep_ttl=True)
    notify(client, STRING, b"append", args[1])
    return len(value)


@command("strlen", 2, keys=(1, 1, 1))
def strlen(client: Client, args: list[bytes]) -> Any:
    value = get_string(client, args[1])
    return 0 if value is None else len(value)


def _incr(client: Client, key: bytes, delta: int) -> int:
    db = client.db
    old = get_string(client, key)
    if old is None:
        current = 0
    else:
        try:
            current = parse_int(old)
        except CommandError:
            raise CommandError("ERR value is not an integer or out of range") from None
    result = current + delta
    if not -(1 << 63) <= result < (1 << 63):
        raise CommandError("ERR increment or decrement would overflow")
    db.set(key, b"%d" % result, keep_ttl=True)
    if client.server.notify_flags:
        notify(client, STRING, b"incrby", key)
    return result


@command("incr", 2, WRITE, keys=(1, 1, 1))
def incr(client: Client, args: list[bytes]) -> Any:
    return _incr(client, args[1], 1)


@command("decr", 2, WRITE, keys=(1, 1, 1))
def decr(client: Client, args: list[bytes]) -> Any:
    return _incr(client, args[1], -1)


@command("incrby", 3, WRITE, keys=(1, 1, 1))
def incrby(client: Client, args: list[bytes]) -> Any:
    return _incr(client, args[1], parse_int(args[2]))


@command("decrby", 3, WRITE, keys=(1, 1, 1))
def decrby(client: Client, args: list[bytes]) -> Any:
    delta = parse_int(args[2])
    if delta == -(1 << 63):
        raise CommandError("ERR decrement would overflow")
    return _incr(client, args[1], -delta)


@command("incrbyfloat", 3, WRITE, keys=(1, 1, 1))
def incrbyfloat(client: Client, args: list[bytes]) -> Any:
    old = get_string(client, args[1])
    if old is not None and parse_long_double(old) is None:  # the stored value comes first
        raise CommandError("ERR value is not a valid float")
    delta = parse_increment(args[2], finite=False)
    text = add_long_double(old, delta, "ERR value is not a valid float")
    client.db.set(args[1], text, keep_ttl=True)
    notify(client, STRING, b"incrbyfloat", args[1])
    # Replaying the addition could round differently: log the result instead.
    client.propagate = [[b"SET", args[1], text, b"KEEPTTL"]]
    return text


def _range(length: int, start: int, end: int) -> tuple[int, int]:
    """Redis's inclusive [start, end] with negative indexes, clamped; empty if start > end."""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)  # Redis 7.0 clamps: GETRANGE "abc" 0 -5 is "a"
    end = min(end, length - 1)
    return start, end


@command("getrange", 4, keys=(1, 1, 1))
def getrange(client: Client, args: list[bytes]) -> Any:
    start, end = parse_int(args[2]), parse_int(args[3])
    value = get_string(client, args[1]) or b""
    if start < 0 and end < 0 and start > end:
        return b""
    start, end = _range(len(value), start, end)
    if start > end or not value:
        return b""
    return value[start : end + 1]


@command("substr", 4, keys=(1, 1, 1))
def substr(client: Client, args: list[bytes]) -> Any:
    return getrange(client, args)


@command("setrange", 4, WRITE, keys=(1, 1, 1))
def setrange(client: Client, args: list[bytes]) -> Any:
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    old = get_string(client, args[1])
    patch = args[3]
    if not patch:
        client.propagate = []
        return 0 if old is None else len(old)
    _check_length(client, offset, len(patch))
    value = bytearray(old or b"")
    if len(value) < offset:
        value.extend(bytes(offset - len(value)))
    value[offset : offset + len(patch)] = patch
    client.db.set(args[1], bytes(value), keep_ttl=True)
    notify(client, STRING, b"setrange", args[1])
    return len(value)


def _bit_offset(value: bytes) -> int:
    offset = parse_int(value, "bit offset is not an integer or out of range")
    if not 0 <= offset < MAX_STRING * 8:
        raise CommandError("ERR bit offset is not an integer or out of range")
    return offset


@command("setbit", 4, WRITE, keys=(1, 1, 1))
def setbit(client: Client, args: list[bytes]) -> Any:
    offset = _bit_offset(args[2])
    if args[3] not in (b"0", b"1"):
        raise CommandError("ERR bit is not an integer or out of range")
    value = bytearray(get_string(client, args[1]) or b"")
    byte, bit = divmod(offset, 8)
    if len(value) <= byte:
        value.extend(bytes(byte + 1 - len(value)))
    mask = 0x80 >> bit
    old = 1 if value[byte] & mask else 0
    if args[3] == b"1":
        value[byte] |= mask
    else:
        value[byte] &= ~mask & 0xFF
    client.db.set(args[1], bytes(value), keep_ttl=True)
    notify(client, STRING, b"setbit", args[1])
    return old


@command("getbit", 3, keys=(1, 1, 1))
def getbit(client: Client, args: list[bytes]) -> Any:
    offset = _bit_offset(args[2])
    value = get_string(client, args[1]) or b""
    byte, bit = divmod(offset, 8)
    if byte >= len(value):
        return 0
    return 1 if value[byte] & (0x80 >> bit) else 0


def _clamp(total: int, start: int, end: int) -> tuple[int, int]:
    """BITCOUNT/BITPOS's reading of a range over ``total`` units: negative indexes from
    the end, then both clamped into the string (an empty range has start > end)."""
    if start < 0:
        start = max(total + start, 0)
    if end < 0:
        end = max(total + end, 0)
    return start, min(end, total - 1)


def _bits(value: bytes, first: int, last: int) -> int:
    """The bits first..last (inclusive, 0 the most significant of byte 0) as an integer."""
    chunk = int.from_bytes(value[first >> 3 : (last >> 3) + 1], "big")
    return (chunk >> (7 - (last & 7))) & ((1 << (last - first + 1)) - 1)


def _bit_unit(word: bytes) -> bool:
    unit = word.lower()
    if unit not in (b"byte", b"bit"):
        raise syntax_error()
    return unit == b"bit"


@command("bitcount", -2, keys=(1, 1, 1))
def bitcount(client: Client, args: list[bytes]) -> Any:
    # Redis's order: the key first (a missing one answers 0 whatever follows), then the
    # range, a range of two negative indexes the wrong way round (0 before the unit).
    value = get_string(client, args[1])
    if value is None:
        return 0
    if len(args) == 2:
        return int.from_bytes(value, "big").bit_count()
    if len(args) not in (4, 5):
        raise syntax_error()
    start, end = parse_int(args[2]), parse_int(args[3])
    if start < 0 and end < 0 and start > end:
        return 0
    by_bit = len(args) == 5 and _bit_unit(args[4])
    start, end = _clamp(len(value) * 8 if by_bit else len(value), start, end)
    if start > end:
        return 0
    if by_bit:
        return _bits(value, start, end).bit_count()
    return int.from_bytes(value[start : end + 1], "big").bit_count()


@command("bitop", -4, WRITE, keys=(2, -1, 1), writes=(2,))
def bitop(client: Client, args: list[bytes]) -> Any:
    operation = args[1].upper()
    sources = [get_string(client, key) or b"" for key in args[3:]]
    if operation == b"NOT":
        if len(sources) != 1:
            raise CommandError("ERR BITOP NOT must be called with a single source key.")
        result = bytes(~byte & 0xFF for byte in sources[0])
    elif operation in (b"AND", b"OR", b"XOR"):
        length = max(len(source) for source in sources)
        numbers = [int.from_bytes(source.ljust(length, b"\0"), "big") for source in sources]
        combined = numbers[0]
        for number in numbers[1:]:
            if operation == b"AND":
                combined &= number
            elif operation == b"OR":
                combined |= number
            else:
                combined ^= number
        result = combined.to_bytes(length, "big") if length else b""
    else:
        raise syntax_error()
    if result:
        client.db.set(args[2], result)
        notify(client, STRING, b"set", args[2])
    elif client.db.delete(args[2]):
        notify(client, GENERIC, b"del", args[2])
    return len(result)


@command("bitpos", -3, keys=(1, 1, 1))
def bitpos(client: Client, args: list[bytes]) -> Any:
    bit = parse_int(args[2])
    if bit not in (0, 1):
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = get_string(client, args[1])
    if value is None:  # an endless run of zeros
        return -1 if bit else 0
    if len(args) > 6:
        raise syntax_error()
    by_bit = False
    end_given = len(args) >= 5
    if len(args) >= 4:
        start = parse_int(args[3])
        if len(args) == 6:
            by_bit = _bit_unit(args[5])
        end = parse_int(args[4]) if end_given else (len(value) * 8 if by_bit else len(value))
    else:
        start, end = 0, len(value)
    start, end = _clamp(len(value) * 8 if by_bit else len(value), start, end)
    if start > end:
        return -1
    first, last = (start, end) if by_bit else (start * 8, end * 8 + 7)
    width = last - first + 1
    bits = _bits(value, first, last)
    if bit:
        return first + width - bits.bit_length() if bits else -1
    zeros = bits ^ ((1 << width) - 1)
    if zeros:
        return first + width - zeros.bit_length()
    # No 0 in the range: with no end given, the string goes on with zeros on its right.
    return -1 if end_given else last + 1
