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


# -- BITFIELD and BITFIELD_RO (Redis's bitfieldGeneric) -----------------------------------

_U64 = (1 << 64) - 1
_BITFIELD_TYPE_ERROR = (
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported "
    "but i64 is."
)
_BIT_OFFSET_ERROR = "ERR bit offset is not an integer or out of range"
_WRAP, _SAT, _FAIL = 0, 1, 2


def _int64(value: int) -> int:
    """``value`` as C's int64_t after unsigned arithmetic: wrapped into 64 bits."""
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


def _strict_int(text: bytes) -> int | None:
    """Redis's string2ll: a 64-bit integer with no sign but '-', no spaces or leading zeros."""
    try:
        return parse_int(text)
    except CommandError:
        return None


def _bitfield_type(text: bytes) -> tuple[bool, int]:
    """(signed, width) of ``i1``..``i64`` or ``u1``..``u63``."""
    signed = text[:1] == b"i"
    if not signed and text[:1] != b"u":
        raise CommandError(_BITFIELD_TYPE_ERROR)
    bits = _strict_int(text[1:].split(b"\0", 1)[0])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise CommandError(_BITFIELD_TYPE_ERROR)
    return signed, bits


def _bitfield_offset(client: Client, text: bytes, bits: int) -> int:
    """A bit offset, ``#n`` meaning n times the type's width (getBitOffsetFromArgument)."""
    by_width = text[:1] == b"#"
    offset = _strict_int(text[1:] if by_width else text)
    if offset is None:
        raise CommandError(_BIT_OFFSET_ERROR)
    if by_width:
        offset = _int64(offset * bits)  # C's multiplication, wrapping as gcc's does
    if offset < 0 or offset >> 3 >= client.server.config.proto_max_bulk_len:
        raise CommandError(_BIT_OFFSET_ERROR)
    return offset


def _get_field(value: bytes | bytearray, offset: int, bits: int, signed: bool) -> int:
    last = offset + bits - 1
    chunk = bytes(value[offset >> 3 : (last >> 3) + 1]).ljust(
        (last >> 3) - (offset >> 3) + 1, b"\0"
    )
    number = (int.from_bytes(chunk, "big") >> (7 - (last & 7))) & ((1 << bits) - 1)
    if signed and number >> (bits - 1):
        number -= 1 << bits
    return number


def _set_field(value: bytearray, offset: int, bits: int, number: int) -> None:
    """Writes the low ``bits`` bits of ``number`` at ``offset`` (the string is long enough)."""
    first, last = offset >> 3, (offset + bits - 1) >> 3
    shift = 7 - ((offset + bits - 1) & 7)
    mask = ((1 << bits) - 1) << shift
    chunk = int.from_bytes(value[first : last + 1], "big")
    chunk = (chunk & ~mask) | (((number & ((1 << bits) - 1)) << shift) & mask)
    value[first : last + 1] = chunk.to_bytes(last - first + 1, "big")


def _unsigned_overflow(value: int, incr: int, bits: int, mode: int) -> tuple[bool, int]:
    """checkUnsignedBitfieldOverflow: ``value`` a uint64, ``incr`` an int64; (overflowed,
    the value WRAP or SAT make of it)."""
    top = (1 << bits) - 1
    max_incr = _int64(top - value)
    min_incr = _int64(-value)
    if value > top or (incr > 0 and incr > max_incr):
        limit = top
    elif incr < 0 and incr < min_incr:
        limit = 0
    else:
        return False, 0
    if mode == _WRAP:
        limit = (value + incr) & top
    return True, limit


def _signed_overflow(value: int, incr: int, bits: int, mode: int) -> tuple[bool, int]:
    """checkSignedBitfieldOverflow, with C's wrapping where Redis's arithmetic wraps."""
    top = (1 << (bits - 1)) - 1
    bottom = -top - 1
    max_incr = _int64(top - value)
    min_incr = _int64(bottom - value)
    if (
        value > top
        or (bits != 64 and incr > max_incr)
        or (value >= 0 and incr > 0 and incr > max_incr)
    ):
        limit = top
    elif (
        value < bottom
        or (bits != 64 and incr < min_incr)
        or (value < 0 and incr < 0 and incr < min_incr)
    ):
        limit = bottom
    else:
        return False, 0
    if mode == _WRAP:
        total = (value + incr) & _U64
        if bits < 64:
            total &= (1 << bits) - 1
            if total >> (bits - 1):
                total -= 1 << bits
            limit = total
        else:
            limit = _int64(total)
    return True, limit


_BITFIELD_OPS = {b"get": 2, b"set": 3, b"incrby": 3}


def _bitfield(client: Client, args: list[bytes], readonly_command: bool) -> Any:
    ops: list[tuple[bytes, bool, int, int, int, int]] = []  # op, signed, bits, offset, n, mode
    mode = _WRAP
    readonly = True
    highest = 0
    index = 2
    while index < len(args):
        left = len(args) - index - 1
        word = args[index].lower()
        if word == b"overflow" and left >= 1:
            name = args[index + 1].lower()
            if name not in (b"wrap", b"sat", b"fail"):
                raise CommandError("ERR Invalid OVERFLOW type specified")
            mode = (b"wrap", b"sat", b"fail").index(name)
            index += 2
            continue
        needed = _BITFIELD_OPS.get(word)
        if needed is None or left < needed:
            raise syntax_error()
        signed, bits = _bitfield_type(args[index + 1])
        offset = _bitfield_offset(client, args[index + 2], bits)
        number = 0
        if word != b"get":
            readonly = False
            highest = max(highest, offset + bits - 1)
            number = parse_int(args[index + 3])
        ops.append((word, signed, bits, offset, number, mode))
        index += needed + 1
    if readonly:
        source = get_string(client, args[1]) or b""
        if not readonly_command:
            client.propagate = []  # BITFIELD with GETs only writes nothing
        return [_get_field(source, offset, bits, signed) for _, signed, bits, offset, _, _ in ops]
    if readonly_command:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    old = get_string(client, args[1])
    value = bytearray(old or b"")
    size = (highest >> 3) + 1
    grown = old is None or len(value) < size
    if len(value) < size:
        value.extend(bytes(size - len(value)))
    replies: list[int | None] = []
    changes = 0
    for word, signed, bits, offset, number, op_mode in ops:
        if word == b"get":
            replies.append(_get_field(value, offset, bits, signed))
            continue
        current = _get_field(value, offset, bits, signed)
        if signed:
            if word == b"incrby":
                overflow, limit = _signed_overflow(current, number, bits, op_mode)
                new = limit if overflow else current + number
                reply = new
            else:
                overflow, limit = _signed_overflow(number, 0, bits, op_mode)
                new = limit if overflow else number
                reply = current
        else:
            if word == b"incrby":
                overflow, limit = _unsigned_overflow(current, number, bits, op_mode)
                new = limit if overflow else (current + number) & _U64
                reply = new
            else:
                overflow, limit = _unsigned_overflow(number & _U64, 0, bits, op_mode)
                new = limit if overflow else number & _U64
                reply = current
        if overflow and op_mode == _FAIL:
            replies.append(None)
            continue
        replies.append(_int64(reply))
        _set_field(value, offset, bits, new)
        if grown or current != _get_field(value, offset, bits, signed):
            changes += 1
    if grown or bytes(value) != old:
        client.db.set(args[1], bytes(value), keep_ttl=True)
    else:
        client.propagate = []
    if changes:
        notify(client, STRING, b"setbit", args[1])
    return replies


def _bitfield_written(args: list[bytes]) -> list[bytes]:
    """The key, unless every operation is a GET (parsed as bitfieldGeneric does): a
    read-only BITFIELD touches no WATCH."""
    index = 2
    while index < len(args):
        word = args[index].lower()
        if word == b"overflow":
            index += 2
        elif word == b"get":
            index += 3
        else:
            return args[1:2]
    return []


@command("bitfield", -2, WRITE, keys=(1, 1, 1), writes=_bitfield_written)
def bitfield(client: Client, args: list[bytes]) -> Any:
    return _bitfield(client, args, False)


@command("bitfield_ro", -2, keys=(1, 1, 1))
def bitfield_ro(client: Client, args: list[bytes]) -> Any:
    return _bitfield(client, args, True)


# -- LCS (Redis's lcsCommand) -----------------------------------------------------------------


def _lcs_rows(a: bytes, b: bytes) -> list[int]:
    """The LCS table of ``a`` and ``b`` as bit vectors (Hyyro's bit-parallel rows): in
    ``rows[i]`` bit j is set unless LCS(i, j+1) > LCS(i, j), so LCS(i, j) is j minus the
    set bits among the low j. One int of len(b) bits a row, an eighth of Redis's table."""
    full = (1 << len(b)) - 1
    masks: dict[int, int] = {}
    for position, char in enumerate(b):
        masks[char] = masks.get(char, 0) | (1 << position)
    row = full
    rows = [row]
    for char in a:
        matched = row & masks.get(char, 0)
        row = ((row + matched) | (row - matched)) & full
        rows.append(row)
    return rows


def _lcs_at(rows: list[int], i: int, j: int) -> int:
    return j - (rows[i] & ((1 << j) - 1)).bit_count()


@command("lcs", -3, keys=(1, 2, 1))
def lcs(client: Client, args: list[bytes]) -> Any:
    db = client.db
    first, second = db.get(args[1]), db.get(args[2])
    if (first is not None and not isinstance(first, bytes)) or (
        second is not None and not isinstance(second, bytes)
    ):
        raise CommandError("ERR The specified keys must contain string values")
    a, b = first or b"", second or b""
    get_len = get_idx = with_match_len = False
    min_match_len = 0
    index = 3
    while index < len(args):
        option = args[index].lower()
        if option == b"idx":
            get_idx = True
        elif option == b"len":
            get_len = True
        elif option == b"withmatchlen":
            with_match_len = True
        elif option == b"minmatchlen" and index + 1 < len(args):
            min_match_len = max(parse_int(args[index + 1]), 0)
            index += 1
        else:
            raise syntax_error()
        index += 1
    if get_len and get_idx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    if (len(a) + 1) * (len(b) + 1) * 4 > client.server.config.proto_max_bulk_len:
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    rows = _lcs_rows(a, b)
    total = _lcs_at(rows, len(a), len(b))
    if get_len:
        return total
    result = bytearray(total)
    matches: list[list[Any]] = []
    position = total
    unset = len(a)  # Redis's marker of "no range being tracked"
    a_start, a_end, b_start, b_end = unset, 0, 0, 0
    i, j = len(a), len(b)
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[position - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            position -= 1
            i -= 1
            j -= 1
        else:
            if _lcs_at(rows, i - 1, j) > _lcs_at(rows, i, j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != unset:
                emit = True
        if emit:
            length = a_end - a_start + 1
            if get_idx and (min_match_len == 0 or length >= min_match_len):
                match: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if with_match_len:
                    match.append(length)
                matches.append(match)
            a_start = unset
    if get_idx:
        return {b"matches": matches, b"len": total}
    return bytes(result)
