"""Geospatial commands against redis-server and PulsarDS, RESP2 and RESP3, both parsers."""

from __future__ import annotations

import pytest

from store.aio import RedisClient, RedisStore
from store.errors import DataError, ResponseError, WrongTypeError

PALERMO = (13.361389, 38.115556, "Palermo")
CATANIA = (15.087269, 37.502669, "Catania")


async def _sicily(client: RedisClient) -> None:
    assert await client.geoadd("Sicily", [*PALERMO, *CATANIA]) == 2


def _close(a: float, b: float, tolerance: float = 0.01) -> bool:
    return abs(a - b) <= tolerance


async def test_geoadd_options(client: RedisClient) -> None:
    await _sicily(client)
    assert await client.geoadd("Sicily", [*PALERMO]) == 0
    assert await client.geoadd("Sicily", [13.0, 38.0, "Palermo"], xx=True, ch=True) == 1
    assert await client.geoadd("Sicily", [13.0, 38.0, "Nowhere"], xx=True) == 0
    assert await client.geoadd("Sicily", [14.0, 38.0, "Palermo"], nx=True, ch=True) == 0
    assert await client.geoadd("Sicily", [14.0, 38.0, "Enna"], nx=True) == 1
    assert await client.zcard("Sicily") == 3
    with pytest.raises(DataError):
        await client.geoadd("Sicily", [1.0, 2.0])
    with pytest.raises(DataError):
        await client.geoadd("Sicily", [*PALERMO], nx=True, xx=True)
    with pytest.raises(ResponseError, match="invalid longitude"):
        await client.geoadd("Sicily", [500.0, 38.0, "x"])


async def test_geodist_geohash_geopos(client: RedisClient) -> None:
    await _sicily(client)
    meters = await client.geodist("Sicily", "Palermo", "Catania")
    assert type(meters) is float and _close(meters, 166274.1516, 1)
    km = await client.geodist("Sicily", "Palermo", "Catania", "km")
    assert km is not None and _close(km, 166.2742)
    assert await client.geodist("Sicily", "Palermo", "Nowhere") is None
    with pytest.raises(DataError):
        await client.geodist("Sicily", "Palermo", "Catania", "parsec")
    assert await client.geohash("Sicily", "Palermo", "Catania", "Nowhere") == [
        "sqc8b49rny0",
        "sqdtr74hyu0",
        None,
    ]
    positions = await client.geopos("Sicily", "Palermo", "Nowhere")
    assert positions[1] is None
    position = positions[0]
    assert isinstance(position, tuple) and all(type(v) is float for v in position)
    assert _close(position[0], 13.361389) and _close(position[1], 38.115556)


async def test_geosearch(client: RedisClient) -> None:
    await _sicily(client)
    found = await client.geosearch(
        "Sicily", longitude=15, latitude=37, radius=200, unit="km", sort="ASC"
    )
    assert found == [b"Catania", b"Palermo"]
    assert await client.geosearch("Sicily", member="Palermo", radius=10, unit="km") == [b"Palermo"]
    assert await client.geosearch(
        "Sicily", longitude=15, latitude=37, width=400, height=400, unit="km", sort="DESC"
    ) == [b"Palermo", b"Catania"]
    rows = await client.geosearch(
        "Sicily",
        longitude=15,
        latitude=37,
        radius=200,
        unit="km",
        sort="ASC",
        withdist=True,
        withhash=True,
        withcoord=True,
    )
    assert [row[0] for row in rows] == [b"Catania", b"Palermo"]
    _, dist, geohash, (lon, lat) = rows[0]
    assert type(dist) is float and _close(dist, 56.4413)
    assert geohash == 3479447370796909
    assert _close(lon, 15.087269) and _close(lat, 37.502669)
    only_dist = await client.geosearch(
        "Sicily", longitude=15, latitude=37, radius=200, unit="km", sort="ASC", withdist=True
    )
    assert [len(row) for row in only_dist] == [2, 2] and type(only_dist[0][1]) is float
    coords = await client.geosearch("Sicily", member="Catania", radius=1, unit="km", withcoord=True)
    assert coords[0][0] == b"Catania" and isinstance(coords[0][1], tuple)
    one = await client.geosearch(
        "Sicily", longitude=15, latitude=37, radius=200, unit="km", count=1, any=True
    )
    assert len(one) == 1
    for bad in (
        {},
        {"member": "Palermo", "longitude": 1, "latitude": 2, "radius": 1},
        {"member": "Palermo"},
        {"member": "Palermo", "radius": 1, "width": 1, "height": 1},
        {"member": "Palermo", "radius": 1, "unit": "parsec"},
        {"member": "Palermo", "radius": 1, "sort": "UP"},
        {"member": "Palermo", "radius": 1, "any": True},
    ):
        with pytest.raises(DataError):
            await client.geosearch("Sicily", **bad)
    with pytest.raises(ResponseError, match=r"could not decode|member"):
        await client.geosearch("Sicily", member="Nowhere", radius=1)


async def test_geosearchstore(client: RedisClient) -> None:
    await _sicily(client)
    stored = await client.geosearchstore(
        "dest", "Sicily", longitude=15, latitude=37, radius=200, unit="km"
    )
    assert stored == 2
    assert await client.zcard("dest") == 2
    assert (
        await client.geosearchstore(
            "dists", "Sicily", member="Palermo", radius=500, unit="km", storedist=True
        )
        == 2
    )
    assert await client.zscore("dists", "Palermo") == 0.0


async def test_georadius(client: RedisClient) -> None:
    await _sicily(client)
    assert await client.georadius("Sicily", 15, 37, 200, "km", sort="ASC") == [
        b"Catania",
        b"Palermo",
    ]
    rows = await client.georadius("Sicily", 15, 37, 200, "km", withdist=True, sort="DESC")
    assert [row[0] for row in rows] == [b"Palermo", b"Catania"]
    assert _close(rows[0][1], 190.4424)
    assert await client.georadius_ro("Sicily", 15, 37, 100, "km") == [b"Catania"]
    assert await client.georadius("Sicily", 15, 37, 200, "km", store="stored") == 2
    assert await client.georadius("Sicily", 15, 37, 200, "km", store_dist="dists") == 2
    assert _close((await client.zscore("dists", "Catania")) or 0, 56.4413)
    near = await client.georadiusbymember("Sicily", "Palermo", 200, "km", sort="ASC")
    assert near == [b"Palermo", b"Catania"]
    rows = await client.georadiusbymember_ro(
        "Sicily", "Palermo", 200, "km", withhash=True, withcoord=True, count=1
    )
    assert rows[0][0] == b"Palermo" and type(rows[0][1]) is int and isinstance(rows[0][2], tuple)
    assert await client.georadiusbymember("Sicily", "Palermo", 1, "km", store="s2") == 1
    with pytest.raises(DataError):
        await client.georadius("Sicily", 15, 37, 200, "parsec")
    with pytest.raises(DataError):
        await client.georadius("Sicily", 15, 37, 200, store="a", store_dist="b")
    with pytest.raises(DataError):
        await client.georadius("Sicily", 15, 37, 200, any=True)


async def test_wrong_type(client: RedisClient) -> None:
    await client.set("str", "v")
    with pytest.raises(WrongTypeError):
        await client.geoadd("str", [*PALERMO])
    with pytest.raises(WrongTypeError):
        await client.geopos("str", "Palermo")


async def test_in_a_pipeline(store: RedisStore) -> None:
    pipe = store.pipeline()
    await pipe.geoadd("Sicily", [*PALERMO, *CATANIA])
    await pipe.geohash("Sicily", "Palermo")
    await pipe.geopos("Sicily", "Nowhere")
    await pipe.geosearch("Sicily", member="Palermo", radius=1, unit="km", withdist=True)
    assert await pipe.commit() == [2, ["sqc8b49rny0"], [None], [[b"Palermo", 0.0]]]
