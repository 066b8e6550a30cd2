"""Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH[STORE] and the GEORADIUS
family, as Redis 7.0's ``geo.c``. A geo key is a sorted set whose scores are 52-bit
geohashes (``geohash.py``); a search walks the score ranges of up to nine boxes.

Coordinates are replied as Redis's ``%.17Lf`` text: a bulk string in RESP2; in RESP3 a
double whose value is that text's (the digits on the wire are ``%.17g``'s)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from .. import geohash
from ..geohash import Shape, decode_score, distance_text, human_double
from ..notify import GENERIC, ZSET, notify
from ..protocol import NULL_ARRAY, DoubleText
from ..zset import ZSet, parse_double
from . import WRITE, CommandError, command, parse_int, syntax_error
from .zsets import _zadd

if TYPE_CHECKING:
    from ..client import Client

_score_of = itemgetter(0)
NOT_FLOAT = "ERR value is not a valid float"
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def _zset(client: Client, key: bytes) -> ZSet | None:
    return client.db.get_typed(key, ZSet)  # type: ignore[no-any-return]


def _double(value: bytes, message: str = NOT_FLOAT) -> float:
    number = parse_double(value)
    if number is None:
        raise CommandError(message)
    return number


def _lon_lat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    """extractLongLatOrReply."""
    lon, lat = _double(lon_arg), _double(lat_arg)
    if (
        lon < geohash.LON_MIN
        or lon > geohash.LON_MAX
        or lat < geohash.LAT_MIN
        or lat > geohash.LAT_MAX
    ):
        raise CommandError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _unit(value: bytes) -> float:
    found = UNITS.get(value.lower())
    if found is None:
        raise CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
    return found


def _coordinate(client: Client, value: float) -> Any:
    # Redis's addReplyHumanLongDouble: the same digits as a RESP3 double or a bulk string
    return DoubleText(human_double(value))


def _member_position(zset: ZSet, member: bytes) -> tuple[float, float]:
    score = zset.scores.get(member)
    if score is None:
        raise CommandError("ERR could not decode requested zset member")
    return decode_score(score)


# -- GEOADD GEODIST GEOHASH GEOPOS -------------------------------------------------------------


@command("geoadd", -5, WRITE, keys=(1, 1, 1))
def geoadd(client: Client, args: list[bytes]) -> Any:
    index = 2
    nx = xx = False
    while index < len(args):
        option = args[index].lower()
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option != b"ch":
            break
        index += 1
    if (len(args) - index) % 3 or (nx and xx):
        raise syntax_error()
    zadd_args = args[:index]
    for at in range(index, len(args), 3):
        lon, lat = _lon_lat(args[at], args[at + 1])
        bits = geohash.encode(lon, lat) or 0
        zadd_args.append(b"%d" % (bits << (52 - geohash.STEP_MAX * 2)))
        zadd_args.append(args[at + 2])
    return _zadd(client, zadd_args, False)


@command("geodist", -4, keys=(1, 1, 1))
def geodist(client: Client, args: list[bytes]) -> Any:
    to_meter = 1.0
    if len(args) == 5:
        to_meter = _unit(args[4])
    elif len(args) > 5:
        raise syntax_error()
    zset = _zset(client, args[1])
    if zset is None:
        return None
    first = zset.scores.get(args[2])
    second = zset.scores.get(args[3])
    if first is None or second is None:
        return None
    lon1, lat1 = decode_score(first)
    lon2, lat2 = decode_score(second)
    return distance_text(geohash.distance(lon1, lat1, lon2, lat2) / to_meter)


@command("geohash", -2, keys=(1, 1, 1))
def geohash_(client: Client, args: list[bytes]) -> Any:
    zset = _zset(client, args[1])
    if zset is None:
        return [None] * (len(args) - 2)
    scores = zset.scores
    reply: list[Any] = []
    for member in args[2:]:
        score = scores.get(member)
        reply.append(None if score is None else geohash.geohash_string(score))
    return reply


@command("geopos", -2, keys=(1, 1, 1))
def geopos(client: Client, args: list[bytes]) -> Any:
    zset = _zset(client, args[1])
    if zset is None:
        return [NULL_ARRAY] * (len(args) - 2)
    scores = zset.scores
    reply: list[Any] = []
    for member in args[2:]:
        score = scores.get(member)
        if score is None:
            reply.append(NULL_ARRAY)
            continue
        lon, lat = decode_score(score)
        reply.append([_coordinate(client, lon), _coordinate(client, lat)])
    return reply


# -- searches ------------------------------------------------------------------------------------

COORDS, MEMBER, SEARCH = 1, 2, 3
Point = tuple[float, float, float, float, bytes]  # lon, lat, distance, score, member


def _points_in_range(
    zset: ZSet, low: int, high: int, shape: Shape, found: list[Point], limit: int
) -> None:
    """geoGetPointsInRange: the members scoring in [low, high) inside the shape."""
    order = zset.order
    index = bisect_left(order, low, key=_score_of)
    size = len(order)
    within = geohash.tester(shape)
    while index < size:
        score, member = order[index]
        if not score < high:
            break
        lon, lat = decode_score(score)
        dist = within(lon, lat)
        if dist is not None:
            found.append((lon, lat, dist, score, member))
        if found and limit and len(found) >= limit:
            break
        index += 1


def _search(zset: ZSet, shape: Shape, limit: int) -> list[Point]:
    """membersOfAllNeighbors."""
    found: list[Point] = []
    boxes = geohash.search_boxes(shape)
    last: tuple[int, int] | None = None
    last_index = 0
    for i, box in enumerate(boxes):
        if box is None:
            continue
        if last_index and box == last:
            continue
        if found and limit and len(found) >= limit:
            break
        low, high = geohash.box_scores(*box)
        _points_in_range(zset, low, high, shape, found, limit)
        last, last_index = box, i
    return found


def _pqsort(items: list[Point], count: int, cmp: Callable[[Point, Point], int]) -> None:
    """Redis's pqsort (a partial Bentley-McIlroy quicksort) of ``items`` with the first
    ``count`` in order: equal distances end where Redis puts them."""
    left, right = 0, count - 1

    def swap(i: int, j: int) -> None:
        items[i], items[j] = items[j], items[i]

    def vecswap(i: int, j: int, n: int) -> None:
        for k in range(n):
            swap(i + k, j + k)

    def med3(a: int, b: int, c: int) -> int:
        x, y, z = items[a], items[b], items[c]
        if cmp(x, y) < 0:
            return b if cmp(y, z) < 0 else (c if cmp(x, z) < 0 else a)
        return b if cmp(y, z) > 0 else (a if cmp(x, z) < 0 else c)

    def outside(lo: int, n: int) -> bool:
        last = lo + n - 1
        return (left < lo and right < lo) or (left > last and right > last)

    def sort(lo: int, n: int) -> None:
        while True:
            if n < 7:
                for pm in range(lo + 1, lo + n):
                    pl = pm
                    while pl > lo and cmp(items[pl - 1], items[pl]) > 0:
                        swap(pl, pl - 1)
                        pl -= 1
                return
            pm = lo + n // 2
            if n > 7:
                pl, pn = lo, lo + n - 1
                if n > 40:
                    d = n // 8
                    pl = med3(pl, pl + d, pl + 2 * d)
                    pm = med3(pm - d, pm, pm + d)
                    pn = med3(pn - 2 * d, pn - d, pn)
                pm = med3(pl, pm, pn)
            swap(lo, pm)
            pa = pb = lo + 1
            pc = pd = lo + n - 1
            while True:
                while pb <= pc:
                    result = cmp(items[pb], items[lo])
                    if result > 0:
                        break
                    if result == 0:
                        swap(pa, pb)
                        pa += 1
                    pb += 1
                while pb <= pc:
                    result = cmp(items[pc], items[lo])
                    if result < 0:
                        break
                    if result == 0:
                        swap(pc, pd)
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                swap(pb, pc)
                pb += 1
                pc -= 1
            pn = lo + n
            r = min(pa - lo, pb - pa)
            vecswap(lo, pb - r, r)
            r = min(pd - pc, pn - pd - 1)
            vecswap(pb, pn - r, r)
            r = pb - pa
            if r > 1 and not outside(lo, r):
                sort(lo, r)
            r = pd - pc
            if r > 1:
                lo, n = pn - r, r
                if not outside(lo, n):
                    continue
            return

    sort(0, len(items))


def _ascending(a: Point, b: Point) -> int:
    return 1 if a[2] > b[2] else (0 if a[2] == b[2] else -1)


def _descending(a: Point, b: Point) -> int:
    return -_ascending(a, b)


def _georadius(client: Client, args: list[bytes], src: int, kind: int, flags: str) -> Any:
    """georadiusGeneric. ``flags``: "" for GEORADIUS*, "ro" for the _RO variants (no
    STORE), "store" for GEOSEARCHSTORE."""
    nostore = flags == "ro"
    search = kind == SEARCH
    searchstore = flags == "store"
    zset = _zset(client, args[src])
    shape = Shape(0.0, 0.0, 0.0)
    store_key: bytes | None = None
    storedist = False
    if kind == COORDS:
        base = 6
        shape.lon, shape.lat = _lon_lat(args[2], args[3])
        shape.radius, shape.conversion = _distance(args[4], args[5])
    elif kind == MEMBER and zset is None:
        base = 5
    elif kind == MEMBER:
        assert zset is not None
        base = 5
        shape.lon, shape.lat = _member_position(zset, args[2])
        shape.radius, shape.conversion = _distance(args[3], args[4])
    else:
        base = 2
        if searchstore:
            base = 3
            store_key = args[1]

    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    sort = ""
    any_ = False
    count = 0
    remaining = len(args) - base
    i = 0
    while i < remaining:
        at = base + i
        arg = args[at].lower()
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = "asc"
        elif arg == b"desc":
            sort = "desc"
        elif arg == b"count" and i + 1 < remaining:
            count = parse_int(args[at + 1])
            if count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif arg in (b"store", b"storedist") and i + 1 < remaining and not nostore and not search:
            store_key = args[at + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and searchstore:
            storedist = True
        elif arg == b"frommember" and i + 1 < remaining and search and not fromloc:
            if zset is not None:
                shape.lon, shape.lat = _member_position(zset, args[at + 1])
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and i + 2 < remaining and search and not frommember:
            shape.lon, shape.lat = _lon_lat(args[at + 1], args[at + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and i + 2 < remaining and search and not bybox:
            shape.radius, shape.conversion = _distance(args[at + 1], args[at + 2])
            shape.box = False
            byradius = True
            i += 2
        elif arg == b"bybox" and i + 3 < remaining and search and not byradius:
            shape.width, shape.height, shape.conversion = _box(args[at + 1 : at + 4])
            shape.box = True
            bybox = True
            i += 3
        else:
            raise syntax_error()
        i += 1

    if store_key is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if searchstore else "STORE option in GEORADIUS"
        raise CommandError(
            f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
    name = args[0].decode("utf-8", "replace")
    if search and not (frommember or fromloc):
        raise CommandError(
            f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )
    if search and not (byradius or bybox):
        raise CommandError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")

    db = client.db
    if zset is None:
        if store_key is not None:
            if db.delete(store_key):
                notify(client, GENERIC, b"del", store_key)
            return 0
        return []
    if count and not sort and not any_:
        sort = "asc"
    found = _search(zset, shape, count if any_ else 0)
    if not found and store_key is None:
        return []
    returned = len(found) if not count or len(found) < count else count
    if sort:
        if returned == len(found):
            found.sort(key=itemgetter(2), reverse=sort == "desc")
        else:
            _pqsort(found, returned, _descending if sort == "desc" else _ascending)
    conversion = shape.conversion
    if store_key is None:
        reply: list[Any] = []
        extras = withdist or withhash or withcoord
        for lon, lat, dist, score, member in found[:returned]:
            if not extras:
                reply.append(member)
                continue
            item: list[Any] = [member]
            if withdist:
                item.append(distance_text(dist / conversion))
            if withhash:
                item.append(int(score))
            if withcoord:
                item.append([_coordinate(client, lon), _coordinate(client, lat)])
            reply.append(item)
        return reply
    if returned:
        stored = {
            member: (dist / conversion if storedist else score)
            for _, _, dist, score, member in found[:returned]
        }
        db.set(store_key, ZSet.from_scores(stored))
        notify(client, ZSET, b"geosearchstore" if search else b"georadiusstore", store_key)
    elif db.delete(store_key):
        notify(client, GENERIC, b"del", store_key)
    return returned


def _distance(value: bytes, unit: bytes) -> tuple[float, float]:
    """extractDistanceOrReply: (radius, meters per unit)."""
    radius = _double(value, "ERR need numeric radius")
    if radius < 0:
        raise CommandError("ERR radius cannot be negative")
    return radius, _unit(unit)


def _box(values: list[bytes]) -> tuple[float, float, float]:
    """extractBoxOrReply: (width, height, meters per unit)."""
    width = _double(values[0], "ERR need numeric width")
    height = _double(values[1], "ERR need numeric height")
    if height < 0 or width < 0:
        raise CommandError("ERR height or width cannot be negative")
    return width, height, _unit(values[2])


def _store_keys(start: int) -> Callable[[list[bytes]], list[bytes]]:
    """The keys of GEORADIUS[BYMEMBER]: the source, then the first STORE and STOREDIST
    keys from ``start`` on, as COMMAND GETKEYS finds them."""

    def find(args: list[bytes]) -> list[bytes]:
        keys = [args[1]] if len(args) > 1 else []
        for keyword in (b"STORE", b"STOREDIST"):
            for i in range(start, len(args) - 1):
                if args[i].upper() == keyword:
                    keys.append(args[i + 1])
                    break
        return keys

    return find


def _stored(start: int) -> Callable[[list[bytes]], list[bytes]]:
    everything = _store_keys(start)

    def find(args: list[bytes]) -> list[bytes]:
        return everything(args)[1:]

    return find


@command("georadius", -6, WRITE, keys=_store_keys(6), writes=_stored(6))
def georadius(client: Client, args: list[bytes]) -> Any:
    return _georadius(client, args, 1, COORDS, "")


@command("georadius_ro", -6, keys=(1, 1, 1))
def georadius_ro(client: Client, args: list[bytes]) -> Any:
    return _georadius(client, args, 1, COORDS, "ro")


@command("georadiusbymember", -5, WRITE, keys=_store_keys(5), writes=_stored(5))
def georadiusbymember(client: Client, args: list[bytes]) -> Any:
    return _georadius(client, args, 1, MEMBER, "")


@command("georadiusbymember_ro", -5, keys=(1, 1, 1))
def georadiusbymember_ro(client: Client, args: list[bytes]) -> Any:
    return _georadius(client, args, 1, MEMBER, "ro")


@command("geosearch", -7, keys=(1, 1, 1))
def geosearch(client: Client, args: list[bytes]) -> Any:
    return _georadius(client, args, 1, SEARCH, "")


@command("geosearchstore", -8, WRITE, keys=(1, 2, 1), writes=(1,))
def geosearchstore(client: Client, args: list[bytes]) -> Any:
    return _georadius(client, args, 2, SEARCH, "store")
