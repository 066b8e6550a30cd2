"""Geo and HyperLogLog commands against redis-server 7.0: the same replies (RESP2 and
RESP3) for fixed cases and errors, random points and searches, and HLL values that are
byte for byte the same string on both servers and readable by either."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Differential

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LAT_LIMIT = 85.05112878

# -- geo: fixed cases ----------------------------------------------------------------------------

SICILY = ("13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")


def _sicily(same: Differential) -> None:
    same("GEOADD", "Sicily", *SICILY)
    same("GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2")


def test_geoadd_options_and_errors(same: Differential) -> None:
    same("GEOADD", "g", *SICILY)
    same("GEOADD", "g", *SICILY)
    same("GEOADD", "g", "CH", "13.4", "38.1", "Palermo", "1", "2", "new")
    same("GEOADD", "g", "XX", "13.5", "38.1", "Palermo", "1", "2", "absent")
    same("GEOADD", "g", "NX", "13.6", "38.1", "Palermo", "3", "4", "absent2")
    same("GEOADD", "g", "XX", "CH", "13.7", "38.1", "Palermo")
    same("GEOADD", "g", "ch", "nx", "0", "0", "zero", "0", "0", "zero")
    same("GEOADD", "g", "1", "1", "dup", "2", "2", "dup")
    same("ZRANGE", "g", "0", "-1", "WITHSCORES")
    same("GEOADD", "nokey", "XX", "1", "1", "m")
    same("EXISTS", "nokey")
    for bad in (
        ("NX", "XX", "1", "1", "m"),
        ("1", "1"),
        ("1", "1", "m", "2"),
        ("GT", "1", "1", "m"),
        ("CH", "CH", "CH"),
        ("x", "1", "m"),
        ("1", "nan", "m"),
        ("1", " 1", "m"),
        ("180.0000001", "0", "m"),
        ("-180.0000001", "0", "m"),
        ("0", "85.05112879", "m"),
        ("0", "-85.05112879", "m"),
        ("1e300", "0", "m"),
        ("-inf", "0", "m"),
        ("1", "1", "ok", "1000", "0", "m"),
    ):
        same("GEOADD", "g", *bad)
    same("GEOADD", "g", "180", "85.05112878", "corner", "-180", "-85.05112878", "corner2")
    same("GEOPOS", "g", "corner", "corner2", "zero", "missing")
    same("GEOHASH", "g", "corner", "corner2", "zero", "missing")
    same("SET", "str", "x")
    same("GEOADD", "str", "1", "1", "m")
    same("TYPE", "g")
    same("GEOADD", "g")


def test_geodist_geohash_geopos(same: Differential) -> None:
    _sicily(same)
    for unit in ("m", "km", "mi", "ft", "KM", "Mi"):
        same("GEODIST", "Sicily", "Palermo", "Catania", unit)
    same("GEODIST", "Sicily", "Palermo", "Catania")
    same("GEODIST", "Sicily", "Palermo", "Palermo")
    same("GEODIST", "Sicily", "Palermo", "missing")
    same("GEODIST", "Sicily", "Palermo", "Catania", "yards")
    same("GEODIST", "Sicily", "Palermo", "Catania", "km", "extra")
    same("GEODIST", "nokey", "a", "b")
    same("GEODIST", "nokey", "a", "b", "parsec")
    same("GEODIST", "Sicily", "a")
    same("GEOHASH", "Sicily", "Palermo", "Catania", "edge1", "missing")
    same("GEOHASH", "Sicily")
    same("GEOHASH", "nokey", "a", "b")
    same("GEOPOS", "Sicily", "Palermo", "Catania", "edge2", "missing")
    same("GEOPOS", "Sicily")
    same("GEOPOS", "nokey", "a")
    # members of a plain sorted set: any score decodes to somewhere
    for score in ("0", "-1", "1", "4503599627370495", "4503599627370496", "1e19", "inf", "-inf"):
        same("ZADD", "plain", score, "m")
        same("GEOPOS", "plain", "m")
        same("GEOHASH", "plain", "m")
        same("GEODIST", "plain", "m", "m")
    same("SET", "str", "x")
    for name in ("GEOPOS", "GEOHASH"):
        same(name, "str", "a")
    same("GEODIST", "str", "a", "b")


def test_geosearch_options_and_errors(same: Differential) -> None:
    _sicily(same)
    around = ("FROMLONLAT", "15", "37")
    cases: list[tuple[str, ...]] = [
        (*around, "BYRADIUS", "200", "km", "ASC"),
        (*around, "BYRADIUS", "200", "km", "DESC", "WITHDIST", "WITHHASH", "WITHCOORD"),
        (*around, "BYBOX", "400", "400", "km", "ASC", "WITHCOORD", "WITHDIST"),
        (*around, "BYBOX", "400", "400", "km", "COUNT", "1"),
        (*around, "BYBOX", "400", "400", "km", "COUNT", "1", "ANY"),
        (*around, "BYRADIUS", "200", "km", "COUNT", "2", "DESC", "WITHDIST"),
        ("FROMMEMBER", "Palermo", "BYRADIUS", "100", "km"),
        ("FROMMEMBER", "Palermo", "FROMMEMBER", "Catania", "BYRADIUS", "100", "mi"),
        ("FROMMEMBER", "missing", "BYRADIUS", "100", "km"),
        ("FROMMEMBER", "Palermo", *around, "BYRADIUS", "100", "km"),
        (*around, "FROMMEMBER", "Palermo", "BYRADIUS", "100", "km"),
        (*around, "BYRADIUS", "10", "km", "BYBOX", "1", "1", "km"),
        (*around, "BYBOX", "1", "1", "km", "BYRADIUS", "10", "km"),
        (*around, "BYRADIUS", "200", "km", "BYRADIUS", "2", "km"),
        (*around, "BYRADIUS", "-1", "km"),
        (*around, "BYRADIUS", "x", "km"),
        (*around, "BYRADIUS", "1", "furlong"),
        (*around, "BYBOX", "-1", "1", "km"),
        (*around, "BYBOX", "x", "1", "km"),
        (*around, "BYBOX", "1", "x", "km"),
        (*around, "BYBOX", "1", "1", "au"),
        ("FROMLONLAT", "200", "37", "BYRADIUS", "1", "km"),
        ("FROMLONLAT", "x", "37", "BYRADIUS", "1", "km"),
        (*around, "BYRADIUS", "200", "km", "COUNT", "0"),
        (*around, "BYRADIUS", "200", "km", "COUNT", "-3"),
        (*around, "BYRADIUS", "200", "km", "COUNT", "x"),
        (*around, "BYRADIUS", "200", "km", "ANY"),
        (*around, "BYRADIUS", "200", "km", "COUNT"),
        (*around, "BYRADIUS", "200", "km", "STORE", "x"),
        (*around, "BYRADIUS", "200", "km", "STOREDIST"),
        (*around, "BYRADIUS", "200", "km", "BOGUS"),
        (*around, "BYRADIUS", "200"),
        (*around, "WITHDIST", "COUNT", "1"),
        ("BYRADIUS", "200", "km", "ASC", "WITHDIST"),
        (*around, "BYRADIUS", "0", "km"),
        ("FROMMEMBER", "Palermo", "BYRADIUS", "0", "m", "WITHDIST"),
        ("FROMMEMBER", "Palermo", "BYBOX", "0", "0", "m", "WITHDIST"),
        (*around, "BYRADIUS", "20000", "km", "ASC"),
        (*around, "BYBOX", "40000", "40000", "km", "DESC"),
    ]
    for case in cases:
        same("GEOSEARCH", "Sicily", *case)
        same("geosearch", "nokey", *case)
        same("GEOSEARCHSTORE", "dest", "Sicily", *case)
        same("ZRANGE", "dest", "0", "-1", "WITHSCORES")
        same("GEOSEARCHSTORE", "dest", "Sicily", *case, "STOREDIST")
        same("ZRANGE", "dest", "0", "-1", "WITHSCORES")
    same("SET", "dest", "x")
    same("GEOSEARCHSTORE", "dest", "nokey", *around, "BYRADIUS", "1", "km")
    same("EXISTS", "dest")
    same("SET", "str", "x")
    same("GEOSEARCH", "str", *around, "BYRADIUS", "1", "km")
    same("GEOSEARCHSTORE", "dest", "str", *around, "BYRADIUS", "1", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "15")


def test_georadius_family(same: Differential) -> None:
    _sicily(same)
    tails: list[tuple[str, ...]] = [
        ("200", "km"),
        ("200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"),
        ("200", "km", "DESC", "COUNT", "2"),
        ("200", "km", "COUNT", "1", "ANY", "WITHDIST"),
        ("200", "km", "ANY"),
        ("200", "km", "COUNT", "0"),
        ("-1", "km"),
        ("x", "km"),
        ("1", "parsec"),
        ("200", "km", "STORE", "out"),
        ("200", "km", "STOREDIST", "out", "DESC", "COUNT", "1"),
        ("200", "km", "STORE", "out", "WITHDIST"),
        ("200", "km", "STORE"),
        ("200", "km", "FROMMEMBER", "Palermo"),
        ("200", "km", "BYBOX", "1", "1", "km"),
        ("1", "m", "STORE", "out"),
    ]
    for tail in tails:
        for name, center in (
            ("GEORADIUS", ("15", "37")),
            ("GEORADIUS_RO", ("15", "37")),
            ("GEORADIUSBYMEMBER", ("Palermo",)),
            ("GEORADIUSBYMEMBER_RO", ("Palermo",)),
        ):
            same(name, "Sicily", *center, *tail)
            same("ZRANGE", "out", "0", "-1", "WITHSCORES")
            same(name, "nokey", *center, *tail)
            same("EXISTS", "out")
    same("GEORADIUS", "Sicily", "200", "37", "1", "km")
    same("GEORADIUSBYMEMBER", "Sicily", "missing", "1", "km")
    same("GEORADIUSBYMEMBER", "Sicily", "missing", "x", "km")
    same("GEORADIUSBYMEMBER", "nokey", "missing", "x", "parsec")
    same("GEORADIUS", "nokey", "15", "37", "x", "km")
    same("SET", "str", "x")
    same("GEORADIUS", "str", "15", "37", "1", "km")
    same("GEORADIUSBYMEMBER_RO", "str", "a", "1", "km")
    same("GEORADIUS", "Sicily", "15", "37", "1")


def test_geo_same_spot_ties(same: Differential) -> None:
    # many members at one point: equal distances, ordered as Redis's sorts leave them
    points: list[str] = []
    for i in range(60):
        points += ["2.35", "48.85", f"m{i:02d}"] if i % 3 else ["2.36", "48.86", f"m{i:02d}"]
    same("GEOADD", "ties", *points)
    for count in ("1", "5", "7", "30", "41", "59", "60", "100"):
        for order in ("ASC", "DESC"):
            same(
                "GEOSEARCH",
                "ties",
                "FROMLONLAT",
                "2.3",
                "48.8",
                "BYRADIUS",
                "50",
                "km",
                order,
                "COUNT",
                count,
                "WITHDIST",
            )
        same(
            "GEOSEARCH",
            "ties",
            "FROMLONLAT",
            "2.3",
            "48.8",
            "BYRADIUS",
            "50",
            "km",
            "COUNT",
            count,
            "ANY",
        )
    same("GEOSEARCH", "ties", "FROMLONLAT", "2.3", "48.8", "BYRADIUS", "50", "km")


# -- geo: random ---------------------------------------------------------------------------------

LONS = st.floats(-180, 180, allow_nan=False)
LATS = st.floats(-LAT_LIMIT, LAT_LIMIT, allow_nan=False)
SPREAD = st.sampled_from([0.0001, 0.01, 0.5, 5.0, 60.0])


def _number(value: float) -> str:
    return repr(value)


@st.composite
def _points(draw: Any) -> list[tuple[float, float]]:
    lon, lat = draw(LONS), draw(LATS)
    spread = draw(SPREAD)
    offsets = st.floats(-spread, spread, allow_nan=False)
    count = draw(st.integers(0, 60))
    points = []
    for _ in range(count):
        if points and draw(st.integers(0, 9)) == 0:
            points.append(points[-1])  # the same spot twice
            continue
        x = min(180.0, max(-180.0, lon + draw(offsets)))
        y = min(LAT_LIMIT, max(-LAT_LIMIT, lat + draw(offsets)))
        points.append((x, y))
    return points


@st.composite
def _search(draw: Any) -> tuple[list[str], bool]:
    """GEOSEARCH arguments after the key, and whether they contain FROMMEMBER."""
    args: list[str] = []
    by_member = draw(st.booleans())
    if by_member:
        args += ["FROMMEMBER", f"p{draw(st.integers(0, 60))}"]
    else:
        args += ["FROMLONLAT", _number(draw(LONS)), _number(draw(LATS))]
    unit = draw(st.sampled_from(["m", "km", "mi", "ft"]))
    size = draw(st.sampled_from([0.0, 1.0, 100.0, 5000.0, 80000.0, 1e6, 5e6, 2e7]))
    scale = {"m": 1.0, "km": 0.001, "mi": 0.0006, "ft": 3.3}[unit]
    if draw(st.booleans()):
        args += ["BYRADIUS", _number(size * scale * draw(st.floats(0.1, 1.0)))]
    else:
        args += ["BYBOX", _number(size * scale), _number(size * scale * draw(st.floats(0.1, 3.0)))]
    args.append(unit)
    order = draw(st.sampled_from(["", "ASC", "DESC"]))
    if order:
        args.append(order)
    if draw(st.booleans()):
        args += ["COUNT", str(draw(st.integers(1, 70)))]
        if draw(st.integers(0, 3)) == 0:
            args.append("ANY")
    for option in ("WITHDIST", "WITHCOORD", "WITHHASH"):
        if draw(st.booleans()):
            args.append(option)
    return args, by_member


@SETTINGS
@given(points=_points(), searches=st.lists(_search(), min_size=1, max_size=6))
def test_random_points_and_searches(
    same: Differential, points: list[tuple[float, float]], searches: list[tuple[list[str], bool]]
) -> None:
    same("DEL", "geo", "out")
    flat: list[str] = []
    for i, (lon, lat) in enumerate(points):
        flat += [_number(lon), _number(lat), f"p{i}"]
    if flat:
        same("GEOADD", "geo", *flat)
    same("ZRANGE", "geo", "0", "-1", "WITHSCORES")
    members = [f"p{i}" for i in range(min(len(points), 8))] + ["absent"]
    same("GEOPOS", "geo", *members)
    same("GEOHASH", "geo", *members)
    if len(points) >= 2:
        same("GEODIST", "geo", "p0", f"p{len(points) - 1}", "km")
    for args, _ in searches:
        same("GEOSEARCH", "geo", *args)
        stored = [a for a in args if a not in ("WITHDIST", "WITHCOORD", "WITHHASH")]
        same("GEOSEARCHSTORE", "out", "geo", *stored, "STOREDIST")
        same("ZRANGE", "out", "0", "-1", "WITHSCORES")


@SETTINGS
@given(
    lon=st.one_of(LONS, st.floats(allow_nan=False), st.sampled_from([180.00000001, -180.0000001])),
    lat=st.one_of(LATS, st.floats(allow_nan=False), st.sampled_from([85.05112879, -85.0511288])),
)
def test_random_coordinates_and_limits(same: Differential, lon: float, lat: float) -> None:
    same("GEOADD", "geo", _number(lon), _number(lat), "m")
    same("GEOPOS", "geo", "m")
    same("GEOHASH", "geo", "m")
    same("GEORADIUS_RO", "geo", _number(lon), _number(lat), "10", "km", "WITHDIST", "WITHCOORD")


# -- HyperLogLog ---------------------------------------------------------------------------------


def _elements(seed: int, size: int) -> list[bytes]:
    """``size`` elements of varied lengths (0 to 20 bytes), fixed by ``seed``."""
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(21)) for _ in range(size)]


def test_hll_commands_and_errors(same: Differential) -> None:
    same("PFADD", "h")
    same("GET", "h")
    same("PFADD", "h")
    same("PFADD", "h", "a", "b", "c", "a")
    same("PFADD", "h", "a")
    same("GET", "h")
    same("PFCOUNT", "h")
    same("GET", "h")  # the cached cardinality is in the header now
    same("PFCOUNT", "h")
    same("PFADD", "h", "d")
    same("GET", "h")
    same("TYPE", "h")
    same("PFCOUNT", "missing")
    same("PFCOUNT", "missing", "other")
    same("EXISTS", "missing")
    same("PFADD", "h2", *(f"e{i}" for i in range(500)))
    same("PFCOUNT", "h", "h2", "missing")
    same("PFMERGE", "dest", "h", "h2", "missing")
    same("GET", "dest")
    same("PFCOUNT", "dest")
    same("PFMERGE", "dest")
    same("PFMERGE", "fresh")
    same("GET", "fresh")
    same("PFMERGE", "h", "h2")
    same("GET", "h")
    for sub in ("ENCODING", "DECODE", "GETREG", "TODENSE", "encoding", "TODENSE", "DECODE"):
        same("PFDEBUG", sub, "h2")
    same("GET", "h2")
    same("PFDEBUG", "NOPE", "h2")
    same("PFDEBUG", "NOPE", "missing")
    same("PFDEBUG", "GETREG", "missing")
    same("PFDEBUG", "GETREG")
    same("PFDEBUG", "GETREG", "h2", "extra")
    same("PFSELFTEST")
    same("PFSELFTEST", "x")
    same("PFADD")
    same("PFCOUNT")
    same("PFMERGE")
    # not an HLL
    same("SET", "str", "hello")
    same("SET", "num", "12345678901234567")
    same("RPUSH", "list", "x")
    for key in ("str", "num", "list"):
        same("PFADD", key, "a")
        same("PFCOUNT", key)
        same("PFCOUNT", key, "h")
        same("PFCOUNT", "h", key)
        same("PFMERGE", key, "h")
        same("PFMERGE", "h", key)
        same("PFDEBUG", "ENCODING", key)
    same("GET", "h")


def test_hll_sparse_to_dense_promotion(same: Differential) -> None:
    elements = _elements(7, 4000)
    for start in range(0, 4000, 250):
        same("PFADD", "grow", *elements[start : start + 250])
        same("PFDEBUG", "ENCODING", "grow")
        same("GET", "grow")
        same("PFCOUNT", "grow")
    same("CONFIG", "SET", "hll-sparse-max-bytes", "200")
    same("PFADD", "small", *elements[:60])
    same("PFDEBUG", "ENCODING", "small")
    same("GET", "small")
    same("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
    # a register above 32 cannot be sparse: an element whose run of zeros is that long
    same("SET", "big", _sparse_value([(1, 33)]))
    same("PFCOUNT", "big")


def _sparse_value(registers: list[tuple[int, int]], cache: bytes = b"\0" * 8) -> bytes:
    """A hand-made HLL: the given (index, value) registers in dense form."""
    raw = bytearray(16384)
    for index, value in registers:
        raw[index] = value
    packed = bytearray(12288 + 1)
    for index, value in enumerate(raw):
        bit = index * 6
        pair = packed[bit >> 3] | (packed[(bit >> 3) + 1] << 8)
        pair |= value << (bit & 7)
        packed[bit >> 3], packed[(bit >> 3) + 1] = pair & 255, pair >> 8
    return b"HYLL\x00\0\0\0" + cache + bytes(packed[:-1])


@SETTINGS
@given(
    sizes=st.lists(st.integers(0, 20000) | st.integers(0, 300), min_size=1, max_size=3),
    seed=st.integers(0, 1 << 30),
    chunks=st.integers(1, 4),
)
def test_random_hll_values_identical(
    same: Differential, sizes: list[int], seed: int, chunks: int
) -> None:
    keys = [f"hll{i}" for i in range(len(sizes))]
    same("DEL", *keys, "merged")
    for i, (key, size) in enumerate(zip(keys, sizes, strict=True)):
        elements = _elements(seed + i, size)
        step = max(1, size // chunks)
        for start in range(0, max(size, 1), step):
            same("PFADD", key, *elements[start : start + step])
        same("GET", key)
        same("PFCOUNT", key)
        same("GET", key)
    same("PFCOUNT", *keys)
    same("PFMERGE", "merged", *keys)
    same("GET", "merged")
    same("PFCOUNT", "merged")
    same("PFMERGE", keys[0], "merged")
    same("GET", keys[0])


@SETTINGS
@given(size=st.integers(0, 20000), seed=st.integers(0, 1 << 30), redis_first=st.booleans())
def test_hll_values_exchanged_between_servers(
    same: Differential, size: int, seed: int, redis_first: bool
) -> None:
    """A value made by one server, copied with GET/SET into the other: the same count,
    and the same string after more additions on both."""
    maker, reader = (same.redis, same.pulsar) if redis_first else (same.pulsar, same.redis)
    elements = _elements(seed, size)
    maker.call("DEL", "made")
    assert maker.call("PFADD", "made", *elements) == 1
    raw = maker.call("GET", "made")
    assert raw[:4] == b"HYLL"
    assert reader.call("SET", "made", raw) == b"OK"
    assert reader.call("PFCOUNT", "made") == maker.call("PFCOUNT", "made")
    assert reader.call("GET", "made") == maker.call("GET", "made")
    more = _elements(seed + 1, 50)
    assert reader.call("PFADD", "made", *more) == maker.call("PFADD", "made", *more)
    assert reader.call("GET", "made") == maker.call("GET", "made")
    assert reader.call("PFCOUNT", "made", "missing") == maker.call("PFCOUNT", "made", "missing")


@st.composite
def _corruption(draw: Any) -> tuple[int, int, list[tuple[int, int]], int]:
    size = draw(st.sampled_from([0, 3, 40, 400, 5000]))
    seed = draw(st.integers(0, 1 << 20))
    edits = draw(
        st.lists(st.tuples(st.integers(0, 12400), st.integers(0, 255)), min_size=1, max_size=4)
    )
    cut = draw(st.sampled_from([0, 0, 1, 2, 5, 17]))
    return size, seed, edits, cut


@SETTINGS
@given(case=_corruption())
def test_corrupt_hll_values(
    same: Differential, case: tuple[int, int, list[tuple[int, int]], int]
) -> None:
    size, seed, edits, cut = case
    same("DEL", "good", "bad", "dest")
    same("PFADD", "good", *_elements(seed, size))
    value = bytearray(same.redis.call("GET", "good"))
    for at, byte in edits:
        if at < len(value):
            value[at] = byte
    if cut:
        value = value[:-cut] if cut < len(value) else value[:1]
    bad = bytes(value)
    same("SET", "bad", bad)
    same("PFCOUNT", "bad")
    same("GET", "bad")
    same("PFCOUNT", "bad", "good")
    same("PFMERGE", "dest", "good", "bad")
    same("GET", "dest")
    same("PFDEBUG", "DECODE", "bad")
    same("PFDEBUG", "ENCODING", "bad")
    same("PFADD", "bad", *_elements(seed + 1, 30))
    same("GET", "bad")
    same("PFDEBUG", "TODENSE", "bad")
    same("GET", "bad")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"HYLL",
        b"HYLL\x01" + b"\0" * 10,
        b"HYLL\x02" + b"\0" * 11 + b"\x7f\xff",
        b"HYLL\x00" + b"\0" * 11 + b"\x7f\xff",
        b"HYLX\x01" + b"\0" * 11 + b"\x7f\xff",
        b"HYLL\x01" + b"\0" * 11,  # no registers at all
        b"HYLL\x01" + b"\0" * 11 + b"\x7f\xff\x00",  # one register too many
        b"HYLL\x01" + b"\0" * 11 + b"\x7f\xfe",  # one too few
        b"HYLL\x01" + b"\0" * 11 + b"\x7f",  # a cut XZERO
        b"HYLL\x01" + b"\0" * 11 + b"\x7f\xfe\xfc",  # a VAL past the end
        b"HYLL\x01" + b"\0" * 7 + b"\x05\0\0\0\0\0\0\0\x7f\xfe",  # a valid cache, bad data
        b"HYLL\x00" + b"\0" * 11 + b"\xff" * 12288,  # every dense register 63
        b"HYLL\x00" + b"\0" * 11 + b"\xff" * 12287,
    ],
)
def test_hand_made_hll_payloads(same: Differential, payload: bytes) -> None:
    same("SET", "bad", payload)
    same("PFCOUNT", "bad")
    same("PFCOUNT", "bad", "missing")
    same("PFDEBUG", "DECODE", "bad")
    same("PFMERGE", "dest", "bad")
    same("GET", "dest")
    same("PFADD", "bad", "x", "y", "z")
    same("GET", "bad")
    same("PFDEBUG", "GETREG", "bad")
    same("GET", "bad")


@pytest.mark.parametrize("size", [1, 100, 1200, 1800, 2500, 6000, 20000])
def test_hll_sizes_byte_identical(same: Differential, size: int) -> None:
    """Sparse, around the promotion, and dense: the same string after the same PFADDs,
    one command or many."""
    elements = _elements(size, size)
    same("PFADD", "one", *elements)
    for start in range(0, size, 700):
        same("PFADD", "many", *elements[start : start + 700])
    same("PFDEBUG", "ENCODING", "one")
    same("GET", "one")
    same("GET", "many")
    same("PFCOUNT", "one")
    same("PFCOUNT", "one", "many")
    same("GET", "one")
    same("PFMERGE", "merged", "one", "many")
    same("GET", "merged")


def test_pfcount_cache_update_signals_watch(same: Differential) -> None:
    same("PFADD", "h", "a", "b")
    same("WATCH", "h")
    same("PFCOUNT", "h")  # stale cache: written into the string, which WATCH sees
    same("MULTI")
    same("PING")
    same("EXEC")
    same("WATCH", "h")
    same("PFCOUNT", "h")  # cached: nothing written
    same("MULTI")
    same("PING")
    same("EXEC")
    same("PFADD", "h2", "x")
    same("WATCH", "h2")
    same("PFCOUNT", "h2", "h")  # several keys: nothing written
    same("MULTI")
    same("PING")
    same("EXEC")
