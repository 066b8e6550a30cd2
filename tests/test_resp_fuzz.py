"""Bad bytes from the server: truncated, mutated, oversized, wrongly-typed and deeply nested
replies, fed to both readers (PythonReader and hiredis) and to the clients.

The contract: ``gets()`` returns correct replies or raises ProtocolError. It never hangs
(every drain below is bounded by the number of bytes fed), never raises RecursionError or
MemoryError, and a declared length never makes PythonReader allocate before the bytes
arrive (checked with tracemalloc).

What hiredis 3.5 does differently is pinned by the ``test_hiredis_*`` tests (so that a
hiredis release that changes it is noticed):

* it has no size limit on bulk strings or lines: ``$99999999999`` waits for the bytes
  (allocating nothing before they arrive), and so does a line without CRLF, however long:
  the client's read timeout is what ends such a reply;
* it preallocates a Python list of the declared length for an array, set or push header
  (8 bytes per element, ``*4294967295`` asks for 32 GiB and gives MemoryError where the
  allocation fails), so the fuzzing below keeps declared aggregate lengths for hiredis
  out of the range [2**20, 2**32) that it accepts;
* a list or map as a map key raises TypeError (PythonReader: ProtocolError).

In the clients any exception while reading a reply closes the connection (see
``AsyncConnection.read_reply``): the last tests check that for ProtocolError with both
parsers, in both variants.
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import resp
from store.errors import ProtocolError
from store.resp import HIREDIS_AVAILABLE, NOT_ENOUGH, PythonReader, Reader, hiredis_reader

from .test_resp import SETTINGS, norm, reply_nodes, split_at

needs_hiredis = pytest.mark.skipif(not HIREDIS_AVAILABLE, reason="hiredis not installed")
PARSERS = ["python", pytest.param("hiredis", marks=needs_hiredis)]
# hiredis' documented reactions to bad input besides ProtocolError (see the docstring).
HIREDIS_ALSO = (TypeError,)
GARBAGE_SETTINGS = settings(SETTINGS, max_examples=200)


def make(parser: str) -> Reader:
    return PythonReader() if parser == "python" else hiredis_reader()


def readers() -> Iterator[tuple[str, Reader]]:
    yield "python", PythonReader()
    if HIREDIS_AVAILABLE:
        yield "hiredis", hiredis_reader()


def bounded_drain(reader: Reader, fed: int, out: list[Any]) -> None:
    """Append complete replies to ``out`` until NOT_ENOUGH. Every reply consumes at least
    3 bytes, so more than ``fed`` replies means the reader loops without consuming."""
    for _ in range(fed + 1):
        reply = reader.gets()
        if reply is NOT_ENOUGH:
            return
        out.append(reply)
    pytest.fail(f"gets() returned more than {fed} replies for {fed} bytes: it does not stop")


def feed_all(reader: Reader, pieces: list[bytes]) -> tuple[list[Any], BaseException | None]:
    """Feed the pieces, draining after each; stop at the first exception and return it."""
    out: list[Any] = []
    fed = 0
    try:
        for piece in pieces:
            reader.feed(piece)
            fed += len(piece)
            bounded_drain(reader, fed, out)
    except Exception as exc:  # the tests classify it
        return out, exc
    return out, None


def check_error(parser: str, error: BaseException | None) -> None:
    if error is None:
        return
    allowed: tuple[type[BaseException], ...] = (ProtocolError,)
    if parser == "hiredis":
        allowed += HIREDIS_ALSO
    assert isinstance(error, allowed), f"{parser}: {error!r}"


# ---------------------------------------------------------------------- valid streams


@st.composite
def valid_streams(draw: st.DrawFn) -> tuple[bytes, list[Any], list[int]]:
    """Valid replies: the bytes, the replies, and the offset where each reply ends."""
    nodes = draw(st.lists(reply_nodes, min_size=1, max_size=4))
    ends = []
    total = 0
    for wire, _ in nodes:
        total += len(wire)
        ends.append(total)
    return b"".join(wire for wire, _ in nodes), [value for _, value in nodes], ends


def pieces_of(
    draw: Callable[[st.SearchStrategy[list[int]]], list[int]], data: bytes
) -> list[bytes]:
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=8))
    return split_at(data, cuts)


@SETTINGS
@given(valid_streams(), st.data())
def test_truncated_stream_gives_the_complete_replies_then_waits(
    stream: tuple[bytes, list[Any], list[int]], data: st.DataObject
) -> None:
    wire, expected, ends = stream
    cut = data.draw(st.integers(0, len(wire) - 1), label="cut")
    complete = sum(1 for end in ends if end <= cut)
    head = pieces_of(data.draw, wire[:cut])
    tail = pieces_of(data.draw, wire[cut:])
    for parser, reader in readers():
        got, error = feed_all(reader, head)
        assert error is None, f"{parser}: {error!r}"
        # Only the replies that were complete came out; the reader now waits.
        assert norm(got) == norm(expected[:complete]), parser
        assert reader.gets() is NOT_ENOUGH
        # The rest of the bytes complete the stream exactly.
        more, error = feed_all(reader, tail)
        assert error is None, f"{parser}: {error!r}"
        assert norm(got + more) == norm(expected), parser


# ---------------------------------------------------------------------- mutated streams

NUMBER_TEXT = st.one_of(
    st.sampled_from(
        [
            b"-1",
            b"-2",
            b"-0",
            b"-99999999999",
            b"99999999999",
            b"4294967296",
            b"9223372036854775807",
            b"9223372036854775808",
            b"18446744073709551616",
            b"99999999999999999999999999",
            b"",
            b" 1",
            b"+1",
            b"01",
            b"1.5",
            b"0x10",
            b"abc",
            b"1\x00",
        ]
    ),
    st.integers(-(2**70), 2**20).map(lambda n: b"%d" % n),
    st.binary(max_size=4),
)


@st.composite
def mutations(draw: st.DrawFn, wire: bytes) -> tuple[bytes, int]:
    """``wire`` with one mutation, and the offset of its first changed byte."""
    at = draw(st.integers(0, len(wire) - 1))
    how = draw(st.sampled_from(["replace", "insert", "delete", "number", "type", "repeat"]))
    if how == "replace":
        new = draw(st.binary(min_size=1, max_size=4))
        mutated = wire[:at] + new + wire[at + len(new) :]
    elif how == "insert":
        new = draw(st.binary(min_size=1, max_size=8))
        mutated = wire[:at] + new + wire[at:]
    elif how == "delete":
        size = draw(st.integers(1, 8))
        mutated = wire[:at] + wire[at + size :]
    elif how == "type":  # another (or no valid) type byte where a line starts
        starts = [0] + [i + 2 for i in range(len(wire) - 2) if wire[i : i + 2] == b"\r\n"]
        at = draw(st.sampled_from(starts))
        kind = draw(st.sampled_from(list(b"$*%~>|=!:+-,#_(?@ \r\n\x00\xff")))
        mutated = wire[:at] + bytes([kind]) + wire[at + 1 :]
    elif how == "repeat":  # a piece of the stream again (a replayed or duplicated read)
        size = draw(st.integers(1, 32))
        mutated = wire[:at] + wire[at : at + size] + wire[at:]
    else:  # a number (length, integer...) replaced by a huge, negative or bad one
        digits = [
            i for i in range(1, len(wire)) if 48 <= wire[i] <= 57 and wire[i - 1] in b"$*%~>|=!:,("
        ]
        if not digits:
            digits = [at]
        at = draw(st.sampled_from(sorted(set(digits))))
        end = at
        while end < len(wire) and 48 <= wire[end] <= 57:
            end += 1
        mutated = wire[:at] + draw(NUMBER_TEXT) + wire[end:]
    if mutated == wire:
        mutated = wire + b"?"  # an unknown type byte after the stream
        at = len(wire)
    first = next(
        (i for i, (a, b) in enumerate(zip(wire, mutated, strict=False)) if a != b),
        min(len(wire), len(mutated)),
    )
    return mutated, first


def hiredis_can_take(data: bytes) -> bool:
    """False when an aggregate header would make hiredis preallocate a huge list."""
    for line in data.split(b"\r\n"):
        for i in range(len(line)):
            if line[i] in b"*~>%|" and line[i + 1 : i + 2].isdigit():
                digits = line[i + 1 :]
                end = 0
                while end < len(digits) and 48 <= digits[end] <= 57:
                    end += 1
                if 2**20 <= int(digits[:end]) < 2**32:
                    return False
    return True


@GARBAGE_SETTINGS
@given(valid_streams(), st.data())
def test_mutated_stream_gives_correct_replies_or_a_protocol_error(
    stream: tuple[bytes, list[Any], list[int]], data: st.DataObject
) -> None:
    wire, expected, ends = stream
    mutated, first = data.draw(mutations(wire), label="mutated")
    intact = sum(1 for end in ends if end <= first)  # replies wholly before the change
    pieces = pieces_of(data.draw, mutated)
    for parser, reader in readers():
        if parser == "hiredis" and not hiredis_can_take(mutated):
            continue
        got, error = feed_all(reader, pieces)
        check_error(parser, error)
        assert len(got) >= intact, (parser, got, error)
        assert norm(got[:intact]) == norm(expected[:intact]), parser


# ---------------------------------------------------------------------- wrongly-typed frames

RESP_TYPES = st.sampled_from(list(b"$*%~>|=!:+-,#_("))
TYPE_BYTES = st.one_of(RESP_TYPES, RESP_TYPES, RESP_TYPES, st.integers(0, 255))
HEADERS = st.one_of(st.integers(-1, 3).map(lambda n: b"%d" % n), NUMBER_TEXT)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """Mostly RESP type bytes, with lengths that are often plausible, then anything."""
    kind = draw(TYPE_BYTES)
    header = draw(HEADERS)
    body = draw(st.one_of(st.just(b""), st.binary(max_size=16).map(lambda b: b + b"\r\n")))
    return bytes([kind]) + header + b"\r\n" + body


@GARBAGE_SETTINGS
@given(
    st.lists(st.one_of(frames(), reply_nodes.map(lambda node: node[0])), min_size=1, max_size=12),
    st.data(),
)
def test_random_frames_give_replies_or_a_protocol_error(
    parts: list[bytes], data: st.DataObject
) -> None:
    wire = b"".join(parts)
    pieces = pieces_of(data.draw, wire)
    for parser, reader in readers():
        if parser == "hiredis" and not hiredis_can_take(wire):
            continue
        _, error = feed_all(reader, pieces)
        check_error(parser, error)
        if error is None:
            assert reader.gets() is NOT_ENOUGH


@SETTINGS
@given(st.binary(min_size=1, max_size=300), st.data())
def test_random_bytes_after_valid_replies(junk: bytes, data: st.DataObject) -> None:
    wire = b"+OK\r\n:1\r\n" + junk
    pieces = pieces_of(data.draw, wire)
    for parser, reader in readers():
        if parser == "hiredis" and not hiredis_can_take(wire):
            continue
        got, error = feed_all(reader, pieces)
        check_error(parser, error)
        assert got[:2] == [b"OK", 1], parser


# ---------------------------------------------------------------------- deep nesting

DEEP = 100_000
NESTED_LEVELS = {
    "array": b"*1\r\n",
    "set": b"~1\r\n",
    "push": b">1\r\n",
    "map value": b"%1\r\n+k\r\n",
    "mixed": b"*1\r\n~1\r\n>1\r\n%1\r\n:1\r\n",
}


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("level", NESTED_LEVELS.values(), ids=list(NESTED_LEVELS))
@pytest.mark.parametrize("chunk", [None, 4096, 7])
def test_deep_nesting_is_a_protocol_error_not_a_crash(
    parser: str, level: bytes, chunk: int | None
) -> None:
    data = level * DEEP + b":1\r\n"
    if chunk == 7:
        data = data[: 7 * 2000]  # byte-level splitting of the first few thousand levels
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    reader = make(parser)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # a recursive parser would fail long before 1024 levels
    try:
        got, error = feed_all(reader, pieces)
    finally:
        sys.setrecursionlimit(limit)
    assert got == []
    assert isinstance(error, ProtocolError), repr(error)
    assert "nest" in str(error).lower()


@pytest.mark.parametrize("parser", PARSERS)
def test_nesting_error_comes_before_the_rest_of_the_reply(parser: str) -> None:
    # No need to receive (and buffer) the 100,000 levels: the error is known at 1025.
    reader = make(parser)
    reader.feed(b"*1\r\n" * (resp.MAX_NESTING + 1))
    with pytest.raises(ProtocolError):
        reader.gets()


def test_python_reader_nesting_limit_message() -> None:
    reader = PythonReader()
    reader.feed(b"%1\r\n+k\r\n" * DEEP)
    with pytest.raises(ProtocolError, match=f"nested more than {resp.MAX_NESTING} deep"):
        reader.gets()


# ---------------------------------------------------------------------- oversized lengths

REFUSED_HEADERS = [
    b"$99999999999\r\n",
    b"$536870913\r\n",
    b"$9223372036854775807\r\n",
    b"$18446744073709551616\r\n",
    b"=99999999999\r\n",
    b"!99999999999\r\n",
    b"*4294967296\r\n",
    b"~4294967296\r\n",
    b">4294967296\r\n",
    b"%4294967296\r\n",
    b"|4294967296\r\n",
    b"*99999999999999999999999\r\n",
]


def feed_and_get(reader: Reader, data: bytes) -> Any:
    reader.feed(data)
    return reader.gets()


def traced(action: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``action`` and return its outcome and the peak of traced allocations."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = action()
        except Exception as exc:  # returned for the caller to check
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("header", REFUSED_HEADERS, ids=repr)
def test_python_reader_refuses_huge_lengths_before_allocating(header: bytes) -> None:
    reader = PythonReader()

    def go() -> Any:
        reader.feed(header + b"x" * 100)
        return reader.gets()

    outcome, peak = traced(go)
    assert isinstance(outcome, ProtocolError), repr(outcome)
    assert "limit" in str(outcome) or "length" in str(outcome)
    assert peak < 64 * 1024


ACCEPTED_HEADERS = [
    b"$536870912\r\n",  # 512 MiB: the limit itself
    b"=536870912\r\n",
    b"*4294967295\r\n",
    b"~4294967295\r\n",
    b">4294967295\r\n",
    b"%4294967295\r\n",
]


@pytest.mark.parametrize("header", ACCEPTED_HEADERS, ids=repr)
def test_python_reader_memory_follows_the_bytes_received_not_the_declared_length(
    header: bytes,
) -> None:
    received = 2 * 1024 * 1024
    element = b"x" * 1021 + b"\r\n" if header[:1] in b"$=" else b"$1021\r\n" + b"x" * 1021 + b"\r\n"
    chunk = element * 16
    reader = PythonReader()

    def go() -> Any:
        reader.feed(header)
        outcome = reader.gets()
        fed = 0
        while fed < received:
            reader.feed(chunk)
            fed += len(chunk)
            assert reader.gets() is NOT_ENOUGH
        return outcome

    outcome, peak = traced(go)
    assert outcome is NOT_ENOUGH
    # What arrived is kept (the reply is not complete); nothing near the declared size.
    assert peak < 4 * received


def test_python_reader_line_without_end_is_refused_once_too_long() -> None:
    reader = PythonReader()
    chunk = b"a" * 4096
    reader.feed(b"+")
    with pytest.raises(ProtocolError, match="CRLF"):
        for _ in range(resp.MAX_LINE // len(chunk) + 2):
            reader.feed(chunk)
            assert reader.gets() is NOT_ENOUGH


@needs_hiredis
def test_hiredis_waits_for_a_huge_bulk_string_without_allocating_it() -> None:
    outcome, peak = traced(lambda: feed_and_get(hiredis_reader(), b"$99999999999\r\nabc"))
    assert outcome is NOT_ENOUGH
    assert peak < 64 * 1024


@needs_hiredis
def test_hiredis_has_no_line_limit() -> None:
    reader = hiredis_reader()
    reader.feed(b"+" + b"a" * (4 * resp.MAX_LINE))
    assert reader.gets() is NOT_ENOUGH  # the client's read timeout ends this


@needs_hiredis
def test_hiredis_preallocates_declared_array_lengths() -> None:
    # 8 bytes per declared element before any element arrives: why the fuzzing above keeps
    # hiredis away from declared lengths in [2**20, 2**32).
    outcome, peak = traced(lambda: feed_and_get(hiredis_reader(), b"*1000000\r\n"))
    assert outcome is NOT_ENOUGH
    assert peak >= 8 * 1_000_000


@needs_hiredis
@pytest.mark.parametrize("header", REFUSED_HEADERS[6:], ids=repr)
def test_hiredis_refuses_aggregate_lengths_of_2_to_the_32(header: bytes) -> None:
    reader = hiredis_reader()
    reader.feed(header)
    with pytest.raises(ProtocolError):
        reader.gets()


@needs_hiredis
def test_hiredis_list_as_map_key_is_a_type_error() -> None:
    reader = hiredis_reader()
    reader.feed(b"%1\r\n*0\r\n:1\r\n")
    with pytest.raises(TypeError):
        reader.gets()


# ---------------------------------------------------------------------- in the clients

BAD_REPLIES = {
    "deep": b"*1\r\n" * 2000 + b":1\r\n",
    "huge-bulk": b"$99999999999999999999\r\n",
    "type": b"?what\r\n",
    "negative": b"*-7\r\n",
}


def _server_script(bad: bytes) -> Callable[[bytes], bytes | None]:
    """RESP2 (no HELLO), and ``bad`` as the reply to the first GET, "+OK" afterwards."""
    sent: list[bytes] = []

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return b"-ERR unknown command 'HELLO'\r\n"
        if b"GET" in data and not sent:
            sent.append(data)
            return bad
        return b"+OK\r\n"

    return respond


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("bad", BAD_REPLIES.values(), ids=list(BAD_REPLIES))
def test_sync_client_drops_the_connection_after_a_protocol_error(
    parser: str, bad: bytes, scripted_server: Any
) -> None:
    from store.sync import create_store

    server = scripted_server(_server_script(bad))
    store: Any = create_store(server.url, parser=parser, retries=0, socket_timeout=5)
    try:
        with pytest.raises(ProtocolError):
            store.execute("GET", "k")
        assert store.pool.idle == 0 and store.pool.in_use == 0
        assert store.execute("GET", "k") == b"OK"  # on a new connection
        assert server.connections == 2
    finally:
        store.close()


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("bad", BAD_REPLIES.values(), ids=list(BAD_REPLIES))
def test_async_client_drops_the_connection_after_a_protocol_error(
    parser: str, bad: bytes, scripted_server: Any
) -> None:
    from store.aio import create_store

    server = scripted_server(_server_script(bad))

    async def main() -> None:
        store: Any = create_store(server.url, parser=parser, retries=0, socket_timeout=5)
        try:
            with pytest.raises(ProtocolError):
                await store.execute("GET", "k")
            assert store.pool.idle == 0 and store.pool.in_use == 0
            assert await store.execute("GET", "k") == b"OK"
            assert server.connections == 2
        finally:
            await store.close()

    asyncio.run(main())
