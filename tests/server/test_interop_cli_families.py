"""The command forms of each newer family typed into redis-cli (Debian's), against
redis-server and PulsarDS: the same script piped to both, redis-cli's formatted output
(`--no-raw`: types shown, as at its prompt) compared line by line, in RESP2 and RESP3.

The scripts avoid what differs by design between two servers (generated stream IDs,
client ids, random passwords, idle times, ACL CAT's order, which is Redis's hash order)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from store.server import ServerThread

from .conftest import RawClient

SCRIPTS = {
    "streams": """
XADD s 1-1 f v
XADD s 2-1 f w g x
XADD s MAXLEN = 5 3-0 f y
XADD s NOMKSTREAM 4-0 a b
XLEN s
XRANGE s - +
XRANGE s (1-1 + COUNT 1
XREVRANGE s + - COUNT 2
XGROUP CREATE s grp 0
XGROUP CREATECONSUMER s grp c1
XREADGROUP GROUP grp c1 COUNT 2 STREAMS s >
XPENDING s grp
XACK s grp 1-1
XCLAIM s grp c2 0 2-1 JUSTID
XAUTOCLAIM s grp c3 0 0 COUNT 5 JUSTID
XINFO GROUPS s
XDEL s 3-0
XTRIM s MAXLEN 2
XSETID s 9-9
XREAD COUNT 1 STREAMS s 0
XADD nostream NOMKSTREAM * f v
XADD s 1-0 f v
""",
    "geo": """
GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEODIST Sicily Palermo Catania km
GEOHASH Sicily Palermo Catania nosuch
GEOPOS Sicily Palermo nosuch
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST WITHHASH
GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km DESC COUNT 1
GEOSEARCHSTORE dest Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
ZRANGE dest 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km WITHCOORD ASC
GEORADIUSBYMEMBER_RO Sicily Palermo 300 km
GEOADD Sicily 200 100 bad
""",
    "hyperloglog": """
PFADD h a b c d e f g
PFADD h a
PFCOUNT h
PFADD h2 x y z a
PFCOUNT h h2
PFMERGE h3 h h2
PFCOUNT h3
SET notahll plain
PFCOUNT notahll
""",
    "bits and strings": """
BITFIELD b SET u8 0 255 GET u4 0 INCRBY i5 100 1 GET u4 4
BITFIELD b OVERFLOW SAT INCRBY u2 102 1 OVERFLOW FAIL INCRBY u2 102 10
BITFIELD b SET i8 #1 -100 GET i8 #1
BITFIELD_RO b GET u8 0
BITFIELD b GET u65 0
SET a ohmytext
SET c mynewtext
LCS a c
LCS a c LEN
LCS a c IDX MINMATCHLEN 4 WITHMATCHLEN
""",
    "dump": """
SET small hello
RPUSH list a b c
SADD ints 1 2 3
DUMP small
DUMP list
DUMP ints
DUMP nosuch
RESTORE small 0 garbage
""",
    "acl": """
ACL SETUSER cli-alice on >pw ~k* &chan +get
ACL GETUSER cli-alice
ACL DRYRUN cli-alice get k1
ACL DRYRUN cli-alice get other
ACL DRYRUN cli-alice set k1 v
ACL WHOAMI
ACL SETUSER cli-alice bogus
ACL DELUSER cli-alice nosuch
ACL GETUSER cli-alice
""",
    "tracking": """
CLIENT TRACKING ON BCAST PREFIX a PREFIX b
CLIENT TRACKINGINFO
CLIENT TRACKING ON PREFIX a
CLIENT TRACKING OFF
CLIENT TRACKING ON OPTIN
CLIENT CACHING YES
CLIENT TRACKINGINFO
CLIENT TRACKING OFF
CLIENT CACHING YES
CLIENT GETREDIR
""",
    "eviction": """
CONFIG SET maxmemory-policy noeviction
CONFIG SET maxmemory 1
SET k v
GET k
CONFIG SET maxmemory 0
SET k v
CONFIG GET maxmemory-policy
""",
}


def _cli(port: int, protocol: int, script: str) -> list[str]:
    binary = shutil.which("redis-cli")
    assert binary is not None, "redis-cli comes with Debian's redis-server package"
    done = subprocess.run(
        [binary, "-p", str(port), "-n", "11", f"-{protocol}", "--no-raw"],
        input="FLUSHDB\n" + script.strip() + "\nFLUSHDB\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _reset(port: int) -> None:
    client = RawClient(port)
    try:
        client.call("CONFIG", "SET", "maxmemory", "0")
        client.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        client.call("ACL", "DELUSER", "cli-alice")
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("family", list(SCRIPTS))
def test_the_same_session_in_redis_cli(
    family: str, protocol: int, redis_server: Any, pulsar: ServerThread
) -> None:
    try:
        expected = _cli(redis_server.port, protocol, SCRIPTS[family])
        got = _cli(pulsar.port, protocol, SCRIPTS[family])
    finally:
        _reset(redis_server.port)
        _reset(pulsar.port)
    assert len(expected) >= len(SCRIPTS[family].strip().splitlines()) + 2  # every reply
    for number, (mine, theirs) in enumerate(zip(got, expected, strict=False), 1):
        assert mine == theirs, f"{family}, line {number}: PulsarDS {mine!r}, redis {theirs!r}"
    assert len(got) == len(expected)
