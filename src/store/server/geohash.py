"""Redis's geohash: 52-bit interleaved scores, their decoding, the neighbour boxes of a
search and the haversine distance, computed in the same double operations as Redis
(``geohash.c``, ``geohash_helper.c``) so that scores, coordinates and distances are the
same to the last bit. Sans-IO; the commands are in ``commands/geo.py``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

__all__ = [
    "EARTH_RADIUS",
    "LAT_MAX",
    "LAT_MIN",
    "LON_MAX",
    "LON_MIN",
    "Area",
    "Shape",
    "decode_score",
    "distance",
    "encode",
    "geohash_string",
    "human_double",
    "search_boxes",
    "within",
]

LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
LON_MIN = -180.0
LON_MAX = 180.0
STEP_MAX = 26
EARTH_RADIUS = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_U64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"

# a byte's 8 bits spread over 16, and back: interleaving 8 bits at a time
_SPREAD = [sum(((i >> b) & 1) << (2 * b) for b in range(8)) for i in range(256)]
_SQUEEZE = {spread: i for i, spread in enumerate(_SPREAD)}


def _interleave(x: int, y: int) -> int:
    """Redis's interleave64: the low 32 bits of x in the even bits, of y in the odd."""
    x &= 0xFFFFFFFF
    y &= 0xFFFFFFFF
    spread = _SPREAD
    xs = (
        spread[x & 255]
        | spread[(x >> 8) & 255] << 16
        | spread[(x >> 16) & 255] << 32
        | spread[x >> 24] << 48
    )
    ys = (
        spread[y & 255]
        | spread[(y >> 8) & 255] << 16
        | spread[(y >> 16) & 255] << 32
        | spread[y >> 24] << 48
    )
    return xs | (ys << 1)


def _squeeze(bits: int) -> int:
    squeeze = _SQUEEZE
    return (
        squeeze[bits & 0x5555]
        | squeeze[(bits >> 16) & 0x5555] << 8
        | squeeze[(bits >> 32) & 0x5555] << 16
        | squeeze[(bits >> 48) & 0x5555] << 24
    )


def _deinterleave(bits: int) -> tuple[int, int]:
    """(even bits, odd bits) of a 64-bit value: Redis's deinterleave64 split in two."""
    return _squeeze(bits), _squeeze(bits >> 1)


def encode(
    lon: float,
    lat: float,
    step: int = STEP_MAX,
    lon_range: tuple[float, float] = (LON_MIN, LON_MAX),
    lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX),
) -> int | None:
    """geohashEncode: the ``2*step`` interleaved bits, or None outside the limits."""
    if lon > LON_MAX or lon < LON_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_range[0] or lat > lat_range[1] or lon < lon_range[0] or lon > lon_range[1]:
        return None
    lat_offset = (lat - lat_range[0]) / (lat_range[1] - lat_range[0])
    lon_offset = (lon - lon_range[0]) / (lon_range[1] - lon_range[0])
    scale = float(1 << step)
    return _interleave(int(lat_offset * scale), int(lon_offset * scale))


@dataclass(slots=True)
class Area:
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


def decode(bits: int, step: int) -> Area:
    """geohashDecode over Redis's ranges."""
    ilat, ilon = _deinterleave(bits)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LON_MAX - LON_MIN
    size = float(1 << step)
    return Area(
        LON_MIN + (ilon * 1.0 / size) * lon_scale,
        LON_MIN + ((ilon + 1) * 1.0 / size) * lon_scale,
        LAT_MIN + (ilat * 1.0 / size) * lat_scale,
        LAT_MIN + ((ilat + 1) * 1.0 / size) * lat_scale,
    )


def _to_uint64(score: float) -> int:
    """C's (uint64_t) cast of a double as GCC compiles it on x86-64."""
    if score != score or score in (math.inf, -math.inf):
        return 1 << 63 if score != score or score < 0 else 0
    if score >= 2.0**63:
        truncated = int(score - 2.0**63)
        return (truncated ^ (1 << 63)) & _U64 if truncated < 1 << 63 else 0
    truncated = int(score)
    if truncated < -(1 << 63):
        return 1 << 63
    return truncated & _U64


@cache
def _split16() -> list[int]:
    """16 interleaved bits -> their 8 even bits, plus their 8 odd bits from bit 32 on
    (built on first use: 64K entries)."""
    return [_SQUEEZE[v & 0x5555] | (_SQUEEZE[(v >> 1) & 0x5555] << 32) for v in range(1 << 16)]


_LAT_SCALE = LAT_MAX - LAT_MIN
_LON_SCALE = LON_MAX - LON_MIN
_CELLS = float(1 << STEP_MAX)
_LOW32 = 0xFFFFFFFF


def decode_score(score: float) -> tuple[float, float]:
    """decodeGeohash: (longitude, latitude) of a sorted set score, the centre of its cell
    (geohashDecode then geohashDecodeAreaToLongLat, in their operations and order)."""
    bits = int(score) if 0.0 <= score < 18446744073709551616.0 else _to_uint64(score)
    split = _split16()
    both = (
        split[bits & 0xFFFF]
        | split[(bits >> 16) & 0xFFFF] << 8
        | split[(bits >> 32) & 0xFFFF] << 16
        | split[(bits >> 48) & 0xFFFF] << 24
    )
    ilat = both & _LOW32
    ilon = both >> 32
    lon = (
        LON_MIN + (ilon / _CELLS) * _LON_SCALE + (LON_MIN + ((ilon + 1) / _CELLS) * _LON_SCALE)
    ) / 2
    lat = (
        LAT_MIN + (ilat / _CELLS) * _LAT_SCALE + (LAT_MIN + ((ilat + 1) / _CELLS) * _LAT_SCALE)
    ) / 2
    if lon > LON_MAX:
        lon = LON_MAX
    elif lon < LON_MIN:
        lon = LON_MIN
    if lat > LAT_MAX:
        lat = LAT_MAX
    elif lat < LAT_MIN:
        lat = LAT_MIN
    return lon, lat


def geohash_string(score: float) -> bytes:
    """GEOHASH: the standard 11-character geohash of the decoded position."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, STEP_MAX, (-180.0, 180.0), (-90.0, 90.0)) or 0
    chars = bytearray(11)
    for i in range(10):
        chars[i] = _ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F]
    chars[10] = _ALPHABET[0]
    return bytes(chars)


def human_double(value: float) -> bytes:
    """Redis's ld2string LD_STR_HUMAN of a double: ``%.17Lf`` without trailing zeros."""
    if value in (math.inf, -math.inf):
        return b"inf" if value > 0 else b"-inf"
    text = b"%.17f" % value
    text = text.rstrip(b"0")
    if text.endswith(b"."):
        text = text[:-1]
    return b"0" if text == b"-0" else text


def distance_text(value: float) -> bytes:
    """fixedpoint_d2string with 4 decimals (distances)."""
    if value == 0:
        return b"0.0000"
    scaled = round(value * 10000.0)  # llrint: to nearest, ties to even
    digits = b"%d" % abs(scaled)
    if len(digits) < 5:
        digits = b"0" * (5 - len(digits)) + digits
    sign = b"-" if scaled < 0 else b""
    return sign + digits[:-4] + b"." + digits[-4:]


# -- distances ---------------------------------------------------------------------------------


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS * abs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance: the haversine distance in meters."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * _D_R
    lat2r = lat2 * _D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * math.asin(math.sqrt(a))


# -- searches ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Shape:
    """GeoShape: a circle (``radius``) or a box (``width``, ``height``) in ``conversion``
    units, around (lon, lat)."""

    lon: float
    lat: float
    conversion: float
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    box: bool = False


def within(shape: Shape, lon: float, lat: float) -> float | None:
    """geoWithinShape after the decoding: the distance in meters, or None outside."""
    if not shape.box:
        found = distance(shape.lon, shape.lat, lon, lat)
        return None if found > shape.radius * shape.conversion else found
    width_m = shape.width * shape.conversion
    height_m = shape.height * shape.conversion
    if lat_distance(lat, shape.lat) > height_m / 2:
        return None
    if distance(lon, lat, shape.lon, lat) > width_m / 2:
        return None
    return distance(shape.lon, shape.lat, lon, lat)


def tester(shape: Shape) -> Callable[[float, float], float | None]:
    """``within`` for one shape, its centre's part of the work done once: the same
    operations on the same values, so the same distances."""
    if shape.box:
        return lambda lon, lat: within(shape, lon, lat)
    limit = shape.radius * shape.conversion
    lon1r = shape.lon * _D_R
    lat1r = shape.lat * _D_R
    cos1 = math.cos(lat1r)
    sin, cos, asin, sqrt = math.sin, math.cos, math.asin, math.sqrt
    two_r = 2.0 * EARTH_RADIUS

    def test(lon: float, lat: float) -> float | None:
        v = sin((lon * _D_R - lon1r) / 2)
        lat2r = lat * _D_R
        if v == 0.0:
            found = EARTH_RADIUS * abs(lat2r - lat1r)
        else:
            u = sin((lat2r - lat1r) / 2)
            found = two_r * asin(sqrt(u * u + cos1 * cos(lat2r) * v * v))
        return None if found > limit else found

    return test


def _steps_by_radius(range_meters: float, lat: float) -> int:
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def _bounding_box(shape: Shape) -> tuple[float, float, float, float]:
    lon, lat = shape.lon, shape.lat
    height = shape.conversion * (shape.height / 2 if shape.box else shape.radius)
    width = shape.conversion * (shape.width / 2 if shape.box else shape.radius)
    lat_delta = height / EARTH_RADIUS / _D_R
    long_delta_top = width / EARTH_RADIUS / math.cos((lat + lat_delta) * _D_R) / _D_R
    long_delta_bottom = width / EARTH_RADIUS / math.cos((lat - lat_delta) * _D_R) / _D_R
    southern = lat < 0
    delta = long_delta_bottom if southern else long_delta_top
    return lon - delta, lat - lat_delta, lon + delta, lat + lat_delta


def _move_x(bits: int, step: int, d: int) -> int:
    x = bits & _ODD
    y = bits & _EVEN
    zz = _EVEN >> (64 - step * 2)
    if d > 0:
        x = (x + (zz + 1)) & _U64
    else:
        x = ((x | zz) - (zz + 1)) & _U64
    x &= _ODD >> (64 - step * 2)
    return x | y


def _move_y(bits: int, step: int, d: int) -> int:
    x = bits & _ODD
    y = bits & _EVEN
    zz = _ODD >> (64 - step * 2)
    if d > 0:
        y = (y + (zz + 1)) & _U64
    else:
        y = ((y | zz) - (zz + 1)) & _U64
    y &= _EVEN >> (64 - step * 2)
    return x | y


def search_boxes(shape: Shape) -> list[tuple[int, int] | None]:
    """geohashCalculateAreasByShapeWGS84: the centre box and its eight neighbours as
    (bits, step) in Redis's order (centre, N, S, E, W, NE, NW, SE, SW); None for the
    neighbours it excludes."""
    min_lon, min_lat, max_lon, max_lat = _bounding_box(shape)
    if shape.box:
        half_w, half_h = shape.width / 2, shape.height / 2
        radius_meters = math.sqrt(half_w * half_w + half_h * half_h)
    else:
        radius_meters = shape.radius
    radius_meters *= shape.conversion
    steps = _steps_by_radius(radius_meters, shape.lat)

    def around(step: int) -> tuple[int, list[int]]:
        bits = encode(shape.lon, shape.lat, step) or 0
        east, west = _move_x(bits, step, 1), _move_x(bits, step, -1)
        return bits, [
            _move_y(bits, step, 1),  # north
            _move_y(bits, step, -1),  # south
            east,
            west,
            _move_y(east, step, 1),  # north east
            _move_y(west, step, 1),  # north west
            _move_y(east, step, -1),  # south east
            _move_y(west, step, -1),  # south west
        ]

    bits, near = around(steps)
    north, south, east, west = (decode(b, steps) for b in near[:4])
    if steps > 1 and (
        north.lat_max < max_lat
        or south.lat_min > min_lat
        or east.lon_max < max_lon
        or west.lon_min > min_lon
    ):
        steps -= 1
        bits, near = around(steps)
    area = decode(bits, steps)
    boxes: list[tuple[int, int] | None] = [(bits, steps)]
    boxes += [(b, steps) for b in near]
    if steps >= 2:
        # indexes in boxes: 1 N, 2 S, 3 E, 4 W, 5 NE, 6 NW, 7 SE, 8 SW
        if area.lat_min < min_lat:
            boxes[2] = boxes[8] = boxes[7] = None
        if area.lat_max > max_lat:
            boxes[1] = boxes[5] = boxes[6] = None
        if area.lon_min < min_lon:
            boxes[4] = boxes[8] = boxes[6] = None
        if area.lon_max > max_lon:
            boxes[3] = boxes[7] = boxes[5] = None
    return boxes


def box_scores(bits: int, step: int) -> tuple[int, int]:
    """scoresOfGeoHashBox: the score range [min, max) of the members inside a box."""
    shift = 52 - step * 2
    return bits << shift, (bits + 1) << shift
