"""Untrusted input: malformed requests, oversized requests, clients that never read, too
many clients. Each gets an error and a closed connection; the server carries on."""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.resp import HIREDIS_AVAILABLE
from store.server import ServerThread
from store.server.config import DEFAULT_OUTPUT_LIMITS, OutputLimit
from store.server.protocol import RequestError, RequestParser, split_inline
from tests.server.conftest import RawClient


def _read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_malformed_requests_get_a_protocol_error_and_a_closed_connection(pulsar: Any) -> None:
    for request, message in [
        (b"*1\r\n$x\r\n", b"invalid bulk length"),
        (b"*abc\r\n", b"invalid multibulk length"),
        (b"*2\r\n:1\r\n", b"expected '$', got ':'"),
        (b"*1\r\n$-5\r\n", b"invalid bulk length"),
        (b"*99999999999\r\n", b"invalid multibulk length"),
        (b"*1\r\n$999999999999\r\n", b"invalid bulk length"),
        (b'SET "unbalanced\r\n', b"unbalanced quotes in request"),
        (b"x" * (70 << 10), b"too big inline request"),
    ]:
        with socket.create_connection(("127.0.0.1", pulsar.port)) as sock:
            sock.sendall(b"PING\r\n" + request)
            answer = _read_all(sock)
        assert answer == b"+PONG\r\n-ERR Protocol error: " + message + b"\r\n", request
    # the server is still fine
    assert RawClient(pulsar.port).call("PING") == b"PONG"
    assert pulsar.server.stats.protocol_errors == 8


def test_requests_split_anywhere_parse_the_same() -> None:
    stream = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nPING\r\n"
    whole = RequestParser().feed(stream)
    assert whole == [[b"SET", b"k", b"hello"], [b"PING"], [b"PING"]]
    for cut in range(1, len(stream)):
        parser = RequestParser()
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == whole, cut


def _feed_all(parser: RequestParser, chunks: list[bytes]) -> tuple[list[list[bytes]], str]:
    commands: list[list[bytes]] = []
    try:
        for chunk in chunks:
            commands += parser.feed(chunk)
    except RequestError as exc:
        return commands, str(exc)
    return commands, str(parser.error or "")


_ARG = st.binary(max_size=12) | st.sampled_from([b"\r\n", b"$3", b"*1", b"a\r\nb"])
_REQUEST = st.lists(_ARG, min_size=1, max_size=4).map(
    lambda args: b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
)
_JUNK = st.sampled_from([b"*0\r\n", b"*-1\r\n", b"*1\r\n:5\r\n", b"*x\r\n", b"PING\r\n", b"$3\r\n"])


@settings(max_examples=300)
@given(parts=st.lists(_REQUEST | _JUNK, min_size=1, max_size=6), cuts=st.lists(st.integers(0, 200)))
def test_the_hiredis_fast_path_parses_like_the_python_parser(
    parts: list[bytes], cuts: list[int]
) -> None:
    if not HIREDIS_AVAILABLE:
        pytest.fail("hiredis is installed by the test extra")
    data = b"".join(parts)
    positions = sorted({0, len(data), *[c for c in cuts if c < len(data)]})
    chunks = [data[a:b] for a, b in itertools.pairwise(positions)]
    python_only = RequestParser()
    python_only._reader = None
    assert _feed_all(RequestParser(), chunks) == _feed_all(python_only, chunks)


def test_inline_splitting_follows_redis() -> None:
    assert split_inline(b'SET k "a b\\x41\\n"') == [b"SET", b"k", b"a bA\n"]
    assert split_inline(b"GET 'quoted \\' inside'") == [b"GET", b"quoted ' inside"]


@settings(max_examples=300)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=4))
def test_any_bytes_give_commands_or_a_protocol_error(data: bytes, cuts: list[int]) -> None:
    """Garbage never hangs, crashes or buffers beyond the limits."""
    parser = RequestParser(
        max_bulk=1000, max_multibulk=100, max_inline=200, query_buffer_limit=2000
    )
    positions = sorted({0, len(data), *[c for c in cuts if c < len(data)]})
    try:
        for start, end in itertools.pairwise(positions):
            for command in parser.feed(data[start:end]):
                assert command and all(isinstance(arg, bytes) for arg in command)
    except RequestError:
        return
    assert parser.buffered <= 2000


def test_big_arguments_are_refused_before_they_are_buffered(tmp_path: Any) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], proto_max_bulk_len=1024) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"*2\r\n$3\r\nGET\r\n$2048\r\n")  # refused on the header alone
            assert _read_all(sock) == b"-ERR Protocol error: invalid bulk length\r\n"


def test_query_buffer_limit(tmp_path: Any) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], client_query_buffer_limit=4096) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"*2\r\n$3\r\nGET\r\n$100000\r\n" + b"x" * 8192)
            assert _read_all(sock) == b"-ERR Protocol error: query buffer limit reached\r\n"


def test_max_clients(tmp_path: Any) -> None:
    with ServerThread(port=0, dir=str(tmp_path), save=[], maxclients=2) as server:
        first, second = RawClient(server.port), RawClient(server.port)
        assert first.call("PING") == second.call("PING") == b"PONG"
        with socket.create_connection(("127.0.0.1", server.port)) as third:
            assert _read_all(third) == b"-ERR max number of clients reached\r\n"
        first.close()
        deadline = time.monotonic() + 5
        while len(server.server.clients) > 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert RawClient(server.port).call("PING") == b"PONG"


def test_a_client_that_never_reads_is_disconnected(tmp_path: Any) -> None:
    limit = 1 << 20
    limits = {**DEFAULT_OUTPUT_LIMITS, "normal": OutputLimit(limit, 0, 0)}
    with ServerThread(
        port=0, dir=str(tmp_path), save=[], client_output_buffer_limit=limits
    ) as server:
        RawClient(server.port).call("SET", "big", "x" * 100_000)
        greedy = socket.create_connection(("127.0.0.1", server.port))
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 200  # 20 MB of replies
        try:
            for _ in range(10):
                greedy.sendall(request)
        except OSError:
            pass  # the server may already have cut us off
        deadline = time.monotonic() + 10
        while server.server.stats.output_buffer_kills == 0:
            assert time.monotonic() < deadline, "the greedy client was never disconnected"
            time.sleep(0.05)
        greedy.close()
        assert RawClient(server.port).call("PING") == b"PONG"


def test_slow_loris_holds_only_its_partial_request(pulsar: Any) -> None:
    slow = socket.create_connection(("127.0.0.1", pulsar.port))
    for byte in b"*1\r\n$4\r\nPI":
        slow.sendall(bytes([byte]))
    # another client is served meanwhile
    assert RawClient(pulsar.port).call("PING") == b"PONG"
    slow.sendall(b"NG\r\n")
    slow.settimeout(10)
    assert slow.recv(100) == b"+PONG\r\n"
    slow.close()


def test_replies_batched_across_busy_clients_reach_each_client_in_order(pulsar: Any) -> None:
    # Many clients with requests in flight at once: their replies are sent in batches
    # after the loop's reads (PulsarDS.queue_flush); none may be lost, swapped or late.
    clients = [socket.create_connection(("127.0.0.1", pulsar.port), timeout=10) for _ in range(30)]
    try:
        for round_ in range(20):
            for index, sock in enumerate(clients):
                sock.sendall(b"INCR counter:%d\r\nECHO %d-%d\r\n" % (index, index, round_))
            for index, sock in enumerate(clients):
                expected = b":%d\r\n$%d\r\n%d-%d\r\n" % (
                    round_ + 1,
                    len(b"%d-%d" % (index, round_)),
                    index,
                    round_,
                )
                received = b""
                while len(received) < len(expected):
                    chunk = sock.recv(4096)
                    assert chunk, "the server closed the connection"
                    received += chunk
                assert received == expected, (index, round_)
    finally:
        for sock in clients:
            sock.close()


def test_quit_and_protocol_errors_send_the_replies_before_closing(pulsar: Any) -> None:
    sock = socket.create_connection(("127.0.0.1", pulsar.port))
    sock.sendall(b"SET k v\r\nGET k\r\nQUIT\r\n")
    assert _read_all(sock) == b"+OK\r\n$1\r\nv\r\n+OK\r\n"
    sock.close()
    sock = socket.create_connection(("127.0.0.1", pulsar.port))
    sock.sendall(b"GET k\r\n*1\r\n$x\r\n")
    assert _read_all(sock) == b"$1\r\nv\r\n-ERR Protocol error: invalid bulk length\r\n"
    sock.close()


def _read_exactly(sock: socket.socket, size: int, piece: int, pause: float) -> bytes:
    """Read like a slow client: ``piece`` bytes at a time, resting ``pause`` in between."""
    received = bytearray()
    while len(received) < size:
        chunk = sock.recv(min(piece, size - len(received)))
        assert chunk, "the server closed the connection"
        received += chunk
        if pause:
            time.sleep(pause)
    return bytes(received)


def test_big_replies_reach_a_slow_reader_whole_and_in_order(pulsar: Any) -> None:
    # Big values go to the socket a piece at a time as it drains (Client._drain), while
    # small replies, pub/sub pushes and replies of other clients keep their order.
    big = bytes(range(256)) * 8192  # 2 MB
    other = bytes(reversed(range(256))) * 4096  # 1 MB
    setter = RawClient(pulsar.port)
    assert setter.call("SET", "big", big) == b"OK"
    assert setter.call("SET", "other", other) == b"OK"
    sock = socket.create_connection(("127.0.0.1", pulsar.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    requests = b"GET big\r\nECHO small\r\nGET other\r\nPING\r\nGET big\r\nQUIT\r\n"
    expected = b"$%d\r\n%s\r\n$5\r\nsmall\r\n$%d\r\n%s\r\n+PONG\r\n$%d\r\n%s\r\n+OK\r\n" % (
        len(big),
        big,
        len(other),
        other,
        len(big),
        big,
    )
    sock.sendall(requests)
    time.sleep(0.2)  # let the server fill what the socket takes
    assert setter.call("PING") == b"PONG"  # it serves others meanwhile
    assert _read_exactly(sock, len(expected), 65536, 0.001) == expected
    assert sock.recv(1) == b""  # QUIT closed the connection once all of it was sent
    sock.close()
    setter.close()


def test_a_client_killed_while_a_big_reply_waits_is_dropped_at_once(pulsar: Any) -> None:
    setter = RawClient(pulsar.port)
    assert setter.call("SET", "big", b"x" * (8 << 20)) == b"OK"
    sock = socket.create_connection(("127.0.0.1", pulsar.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.sendall(b"CLIENT SETNAME slow\r\nGET big\r\n")
    deadline = time.monotonic() + 10
    while b"name=slow" not in setter.call("CLIENT", "LIST"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)
    listing = [line for line in setter.call("CLIENT", "LIST").split(b"\n") if b"name=slow" in line]
    client_id = listing[0].split()[0].split(b"=")[1]
    assert setter.call("CLIENT", "KILL", "ID", client_id) == 1
    received = b""
    while chunk := sock.recv(1 << 20):
        received += chunk
    assert received.startswith(b"+OK\r\n$8388608\r\n") and len(received) < (8 << 20)
    sock.close()
    setter.close()


def _parsers() -> list[RequestParser]:
    """A parser with the hiredis fast path (when installed) and one without."""
    python_only = RequestParser()
    python_only._reader = None
    return [RequestParser(), python_only]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (b"*+1\r\n$4\r\nPING\r\n", "invalid multibulk length"),
        (b"*1_0\r\n", "invalid multibulk length"),
        (b"* 1\r\n$4\r\nPING\r\n", "invalid multibulk length"),
        (b"*01\r\n$4\r\nPING\r\n", "invalid multibulk length"),
        (b"*-0\r\n", "invalid multibulk length"),
        (b"*1\r\n$04\r\nPING\r\n", "invalid bulk length"),
        (b"*1\r\n$00\r\n\r\n", "invalid bulk length"),
        (b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length"),
        (b"*1\r\n$4_\r\nPING\r\n", "invalid bulk length"),
        (b"*1\r\n$100000000000000000000\r\n", "invalid bulk length"),
    ],
)
def test_lengths_are_numbers_as_redis_reads_them(request_: bytes, message: str) -> None:
    # Redis's string2ll: digits with an optional minus, no sign, space, underscore or
    # leading zero (Python's int() takes all of them)
    for parser in _parsers():
        with pytest.raises(RequestError, match=message):
            parser.feed(request_)


def test_an_unauthenticated_client_sees_the_invalid_length_first() -> None:
    # as in networking.c: the length is checked before the unauthenticated limit
    parser = RequestParser(is_authenticated=lambda: False)
    with pytest.raises(RequestError, match=r"^invalid multibulk length$"):
        parser.feed(b"*99999999999\r\n")
    parser = RequestParser(is_authenticated=lambda: False)
    with pytest.raises(RequestError, match=r"^unauthenticated multibulk length$"):
        parser.feed(b"*11\r\n")
    parser = RequestParser(is_authenticated=lambda: False, max_bulk=100_000)
    with pytest.raises(RequestError, match=r"^invalid bulk length$"):
        parser.feed(b"*1\r\n$200000\r\n")
    parser = RequestParser(is_authenticated=lambda: False)
    with pytest.raises(RequestError, match=r"^unauthenticated bulk length$"):
        parser.feed(b"*1\r\n$16385\r\n")


@settings(max_examples=200)
@given(cuts=st.lists(st.integers(0, 140_000), max_size=8), size=st.sampled_from([40_000, 70_000]))
def test_big_and_many_arguments_split_anywhere_parse_the_same(cuts: list[int], size: int) -> None:
    # big bulks are gathered from the chunks, many small ones split in one go: both
    # must give what a whole-buffer parse gives, wherever the chunks end
    big = bytes(range(256)) * (size // 256) + b"\r\n$3\r\n"
    args = [b"RPUSH", b"k", big, *[b"v%d" % i for i in range(2000)], b"a\r\nb", big]
    stream = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    stream += b"*1\r\n$4\r\nPING\r\n"
    positions = sorted({0, len(stream), *[c for c in cuts if c < len(stream)]})
    for parser in _parsers():
        commands: list[list[bytes]] = []
        for start, end in itertools.pairwise(positions):
            commands += parser.feed(stream[start:end])
        assert commands == [args, [b"PING"]]
        assert parser.buffered == 0


def test_a_long_command_in_small_pieces_is_parsed_once() -> None:
    # Each piece is parsed from where the last one stopped, not from the command's start:
    # 100,000 arguments in 100-byte pieces take a fraction of a second, not hours.
    args = [b"RPUSH", b"k", *[b"%d" % i for i in range(100_000)]]
    stream = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    for parser in _parsers():
        commands: list[list[bytes]] = []
        started = time.process_time()
        for start in range(0, len(stream), 100):
            commands += parser.feed(stream[start : start + 100])
            assert time.process_time() - started < 10, f"stuck at byte {start}"
        assert commands == [args]


@settings(max_examples=200)
@given(
    sizes=st.lists(st.sampled_from([0, 0, 1, 5, 30]), min_size=1, max_size=3000),
    cuts=st.lists(st.integers(0, 40_000), max_size=30),
)
def test_a_command_is_returned_by_the_feed_that_completes_it(
    sizes: list[int], cuts: list[int]
) -> None:
    # Parsing of a long command waits for more bytes while the command cannot be complete
    # (each argument still to come takes 6 bytes at least): it must never wait longer.
    args = [b"x" * size for size in sizes]
    command = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    stream = command + b"*1\r\n$4\r\nPING\r\n"
    positions = sorted({0, len(command), len(stream), *[c for c in cuts if c < len(stream)]})
    for parser in _parsers():
        for start, end in itertools.pairwise(positions):
            got = parser.feed(stream[start:end])
            if end == len(command):
                assert got == [args], (start, end)
            elif end == len(stream):
                assert got == [[b"PING"]], (start, end)
            else:
                assert got == [], (start, end)
        assert parser.buffered == 0


def test_a_command_of_empty_arguments_fed_a_byte_at_a_time_is_returned_at_its_last_byte() -> None:
    args = [b""] * 20_000
    stream = b"*20000\r\n" + b"$0\r\n\r\n" * 20_000
    for parser in _parsers():
        for position in range(len(stream) - 1):
            assert parser.feed(stream[position : position + 1]) == []
        assert parser.feed(stream[-1:]) == [args]
