# mypy: disable-error-code="no-any-return"
"""Geospatial commands (GEOADD, GEOSEARCH, GEORADIUS...), with redis-py's names,
signatures and reply shapes: a position is ``(longitude, latitude)`` in floats; a search
with ``withdist``/``withhash``/``withcoord`` gives ``[member, dist, hash, (lon, lat)]``
rows (those asked for, in that order), else the members.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, overload

from store import replies
from store.errors import DataError

from .commands_base import AsyncCommandsBase, EncodableT, KeyT, StrT

_UNITS = ("m", "km", "mi", "ft")


def _radius_args(
    command: str,
    args: list[Any],
    unit: str | None,
    withdist: bool,
    withcoord: bool,
    withhash: bool,
    count: int | None,
    sort: str | None,
    store: KeyT | None,
    store_dist: KeyT | None,
    any: bool,
) -> list[Any]:
    if unit is not None and str(unit).lower() not in _UNITS:
        raise DataError(f"{command}: invalid unit {unit!r}")
    args.append(unit or "m")
    if any and count is None:
        raise DataError(f"{command}: any needs count")
    if withdist:
        args.append("WITHDIST")
    if withcoord:
        args.append("WITHCOORD")
    if withhash:
        args.append("WITHHASH")
    if count is not None:
        args += ("COUNT", count)
        if any:
            args.append("ANY")
    if sort is not None:
        if str(sort).upper() not in ("ASC", "DESC"):
            raise DataError(f"{command}: sort can be ASC or DESC")
        args.append(sort)
    if store is not None and store_dist is not None:
        raise DataError(f"{command}: store and store_dist are mutually exclusive")
    if store is not None:
        args += ("STORE", store)
    elif store_dist is not None:
        args += ("STOREDIST", store_dist)
    return args


def _search_args(
    command: str,
    args: list[Any],
    member: EncodableT | None,
    longitude: float | None,
    latitude: float | None,
    unit: str,
    radius: float | None,
    width: float | None,
    height: float | None,
    sort: str | None,
    count: int | None,
    any: bool,
) -> list[Any]:
    if member is not None:
        if longitude is not None or latitude is not None:
            raise DataError(f"{command}: member and longitude/latitude are mutually exclusive")
        args += ("FROMMEMBER", member)
    elif longitude is None or latitude is None:
        raise DataError(f"{command}: give member, or longitude and latitude")
    else:
        args += ("FROMLONLAT", longitude, latitude)
    if unit is None or str(unit).lower() not in _UNITS:
        raise DataError(f"{command}: invalid unit {unit!r}")
    if radius is not None:
        if width is not None or height is not None:
            raise DataError(f"{command}: radius and width/height are mutually exclusive")
        args += ("BYRADIUS", radius, unit)
    elif width is None or height is None:
        raise DataError(f"{command}: give radius, or width and height")
    else:
        args += ("BYBOX", width, height, unit)
    if sort is not None:
        if str(sort).upper() not in ("ASC", "DESC"):
            raise DataError(f"{command}: sort can be ASC or DESC")
        args.append(sort)
    if count is not None:
        args += ("COUNT", count)
        if any:
            args.append("ANY")
    elif any:
        raise DataError(f"{command}: any needs count")
    return args


# One member of a search WITHDIST/WITHHASH/WITHCOORD: [member, dist, hash, (lon, lat)] of those
# asked for.
GeoRow: TypeAlias = list[StrT | float | int | tuple[float, float]]


class AsyncGeoCommands(AsyncCommandsBase[StrT]):
    """GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS..."""

    async def geoadd(
        self,
        name: KeyT,
        values: Sequence[EncodableT],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
    ) -> int:
        """GEOADD: ``values`` is ``(longitude, latitude, member)`` triples, flat. The number
        of members added (changed, with ``ch``)."""
        if nx and xx:
            raise DataError("geoadd: nx and xx are mutually exclusive")
        if not values or len(values) % 3:
            raise DataError("geoadd: values must be longitude, latitude, member triples")
        args: list[Any] = ["GEOADD", name]
        if nx:
            args.append("NX")
        elif xx:
            args.append("XX")
        if ch:
            args.append("CH")
        args += values
        return await self.execute(*args)

    async def geodist(
        self, name: KeyT, place1: EncodableT, place2: EncodableT, unit: str | None = None
    ) -> float | None:
        """GEODIST: the distance in ``unit`` (m by default), None if a member is missing."""
        if unit is None:
            callback = replies.float_or_none
            return await self.execute("GEODIST", name, place1, place2, callback=callback)
        if str(unit).lower() not in _UNITS:
            raise DataError(f"geodist: invalid unit {unit!r}")
        args = ("GEODIST", name, place1, place2, unit)
        return await self.execute(*args, callback=replies.float_or_none)

    async def geohash(self, name: KeyT, *values: EncodableT) -> list[str | None]:
        """GEOHASH: each member's geohash as str (as redis-py), None when missing."""
        return await self.execute("GEOHASH", name, *values, callback=replies.str_list)

    async def geopos(self, name: KeyT, *values: EncodableT) -> list[tuple[float, float] | None]:
        """GEOPOS: each member's ``(longitude, latitude)``, None when missing."""
        return await self.execute("GEOPOS", name, *values, callback=replies.geopos)

    async def georadius(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = None,
        withdist: bool = False,
        withcoord: bool = False,
        withhash: bool = False,
        count: int | None = None,
        sort: str | None = None,
        store: KeyT | None = None,
        store_dist: KeyT | None = None,
        any: bool = False,
    ) -> list[StrT] | list[GeoRow[StrT]] | int:
        """GEORADIUS (deprecated by Redis for GEOSEARCH): the members within ``radius``;
        with ``store``/``store_dist``, the number stored."""
        args = _radius_args(
            "georadius",
            ["GEORADIUS", name, longitude, latitude, radius],
            unit,
            withdist,
            withcoord,
            withhash,
            count,
            sort,
            store,
            store_dist,
            any,
        )
        if store is not None or store_dist is not None:
            return await self.execute(*args)
        return await self.execute(
            *args, callback=replies.geo_results(withdist, withhash, withcoord)
        )

    @overload
    async def georadius_ro(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = ...,
        withdist: Literal[False] = ...,
        withcoord: Literal[False] = ...,
        withhash: Literal[False] = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[StrT]: ...
    @overload
    async def georadius_ro(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = ...,
        *,
        withdist: Literal[True],
        withcoord: bool = ...,
        withhash: bool = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def georadius_ro(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = ...,
        withdist: bool = ...,
        *,
        withcoord: Literal[True],
        withhash: bool = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def georadius_ro(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = ...,
        withdist: bool = ...,
        withcoord: bool = ...,
        *,
        withhash: Literal[True],
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def georadius_ro(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = ...,
        withdist: bool = ...,
        withcoord: bool = ...,
        withhash: bool = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[StrT] | list[GeoRow[StrT]]: ...
    async def georadius_ro(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = None,
        withdist: bool = False,
        withcoord: bool = False,
        withhash: bool = False,
        count: int | None = None,
        sort: str | None = None,
        any: bool = False,
    ) -> list[StrT] | list[GeoRow[StrT]]:
        """GEORADIUS_RO: georadius() without STORE, a read-only command."""
        args = _radius_args(
            "georadius_ro",
            ["GEORADIUS_RO", name, longitude, latitude, radius],
            unit,
            withdist,
            withcoord,
            withhash,
            count,
            sort,
            None,
            None,
            any,
        )
        return await self.execute(
            *args, callback=replies.geo_results(withdist, withhash, withcoord)
        )

    async def georadiusbymember(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = None,
        withdist: bool = False,
        withcoord: bool = False,
        withhash: bool = False,
        count: int | None = None,
        sort: str | None = None,
        store: KeyT | None = None,
        store_dist: KeyT | None = None,
        any: bool = False,
    ) -> list[StrT] | list[GeoRow[StrT]] | int:
        """GEORADIUSBYMEMBER: georadius() around a member."""
        args = _radius_args(
            "georadiusbymember",
            ["GEORADIUSBYMEMBER", name, member, radius],
            unit,
            withdist,
            withcoord,
            withhash,
            count,
            sort,
            store,
            store_dist,
            any,
        )
        if store is not None or store_dist is not None:
            return await self.execute(*args)
        return await self.execute(
            *args, callback=replies.geo_results(withdist, withhash, withcoord)
        )

    @overload
    async def georadiusbymember_ro(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = ...,
        withdist: Literal[False] = ...,
        withcoord: Literal[False] = ...,
        withhash: Literal[False] = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[StrT]: ...
    @overload
    async def georadiusbymember_ro(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = ...,
        *,
        withdist: Literal[True],
        withcoord: bool = ...,
        withhash: bool = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def georadiusbymember_ro(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = ...,
        withdist: bool = ...,
        *,
        withcoord: Literal[True],
        withhash: bool = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def georadiusbymember_ro(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = ...,
        withdist: bool = ...,
        withcoord: bool = ...,
        *,
        withhash: Literal[True],
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def georadiusbymember_ro(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = ...,
        withdist: bool = ...,
        withcoord: bool = ...,
        withhash: bool = ...,
        count: int | None = ...,
        sort: str | None = ...,
        any: bool = ...,
    ) -> list[StrT] | list[GeoRow[StrT]]: ...
    async def georadiusbymember_ro(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = None,
        withdist: bool = False,
        withcoord: bool = False,
        withhash: bool = False,
        count: int | None = None,
        sort: str | None = None,
        any: bool = False,
    ) -> list[StrT] | list[GeoRow[StrT]]:
        """GEORADIUSBYMEMBER_RO: georadiusbymember() without STORE, read-only."""
        args = _radius_args(
            "georadiusbymember_ro",
            ["GEORADIUSBYMEMBER_RO", name, member, radius],
            unit,
            withdist,
            withcoord,
            withhash,
            count,
            sort,
            None,
            None,
            any,
        )
        return await self.execute(
            *args, callback=replies.geo_results(withdist, withhash, withcoord)
        )

    @overload
    async def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = ...,
        longitude: float | None = ...,
        latitude: float | None = ...,
        unit: str = ...,
        radius: float | None = ...,
        width: float | None = ...,
        height: float | None = ...,
        sort: str | None = ...,
        count: int | None = ...,
        any: bool = ...,
        withcoord: Literal[False] = ...,
        withdist: Literal[False] = ...,
        withhash: Literal[False] = ...,
    ) -> list[StrT]: ...
    @overload
    async def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = ...,
        longitude: float | None = ...,
        latitude: float | None = ...,
        unit: str = ...,
        radius: float | None = ...,
        width: float | None = ...,
        height: float | None = ...,
        sort: str | None = ...,
        count: int | None = ...,
        any: bool = ...,
        withcoord: bool = ...,
        *,
        withdist: Literal[True],
        withhash: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = ...,
        longitude: float | None = ...,
        latitude: float | None = ...,
        unit: str = ...,
        radius: float | None = ...,
        width: float | None = ...,
        height: float | None = ...,
        sort: str | None = ...,
        count: int | None = ...,
        any: bool = ...,
        *,
        withcoord: Literal[True],
        withdist: bool = ...,
        withhash: bool = ...,
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = ...,
        longitude: float | None = ...,
        latitude: float | None = ...,
        unit: str = ...,
        radius: float | None = ...,
        width: float | None = ...,
        height: float | None = ...,
        sort: str | None = ...,
        count: int | None = ...,
        any: bool = ...,
        withcoord: bool = ...,
        withdist: bool = ...,
        *,
        withhash: Literal[True],
    ) -> list[GeoRow[StrT]]: ...
    @overload
    async def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = ...,
        longitude: float | None = ...,
        latitude: float | None = ...,
        unit: str = ...,
        radius: float | None = ...,
        width: float | None = ...,
        height: float | None = ...,
        sort: str | None = ...,
        count: int | None = ...,
        any: bool = ...,
        withcoord: bool = ...,
        withdist: bool = ...,
        withhash: bool = ...,
    ) -> list[StrT] | list[GeoRow[StrT]]: ...
    async def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = None,
        longitude: float | None = None,
        latitude: float | None = None,
        unit: str = "m",
        radius: float | None = None,
        width: float | None = None,
        height: float | None = None,
        sort: str | None = None,
        count: int | None = None,
        any: bool = False,
        withcoord: bool = False,
        withdist: bool = False,
        withhash: bool = False,
    ) -> list[StrT] | list[GeoRow[StrT]]:
        """GEOSEARCH: from a member or a position, within a radius or a box."""
        args = _search_args(
            "geosearch",
            ["GEOSEARCH", name],
            member,
            longitude,
            latitude,
            unit,
            radius,
            width,
            height,
            sort,
            count,
            any,
        )
        if withdist:
            args.append("WITHDIST")
        if withcoord:
            args.append("WITHCOORD")
        if withhash:
            args.append("WITHHASH")
        return await self.execute(
            *args, callback=replies.geo_results(withdist, withhash, withcoord)
        )

    async def geosearchstore(
        self,
        dest: KeyT,
        name: KeyT,
        member: EncodableT | None = None,
        longitude: float | None = None,
        latitude: float | None = None,
        unit: str = "m",
        radius: float | None = None,
        width: float | None = None,
        height: float | None = None,
        sort: str | None = None,
        count: int | None = None,
        any: bool = False,
        storedist: bool = False,
    ) -> int:
        """GEOSEARCHSTORE: the number of members stored in ``dest``."""
        args = _search_args(
            "geosearchstore",
            ["GEOSEARCHSTORE", dest, name],
            member,
            longitude,
            latitude,
            unit,
            radius,
            width,
            height,
            sort,
            count,
            any,
        )
        if storedist:
            args.append("STOREDIST")
        return await self.execute(*args)
