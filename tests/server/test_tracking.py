"""Client-side caching (CLIENT TRACKING) against redis-server and PulsarDS: each scenario
runs on both, over raw sockets, and what every connection received (replies, RESP3
pushes, pub/sub messages, byte for byte and in order) must be the same."""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from store.resp import pack_command
from store.server.tracking import ClientTracking, tracking_flags
from store.sync import create_store

Scenario = Callable[["Session"], list[Any]]


def _end(buf: bytes, pos: int) -> int:
    """Where the RESP value starting at ``pos`` ends, or -1 if it has not all come."""
    newline = buf.find(b"\r\n", pos)
    if newline < 0:
        return -1
    kind = buf[pos : pos + 1]
    after = newline + 2
    if kind in (b"$", b"=", b"!"):
        length = int(buf[pos + 1 : newline])
        if length < 0:
            return after
        end = after + length + 2
        return end if len(buf) >= end else -1
    if kind in (b"*", b"~", b">", b"%", b"|"):
        count = int(buf[pos + 1 : newline])
        if count < 0:
            return after
        if kind in (b"%", b"|"):
            count *= 2
        for _ in range(count):
            after = _end(buf, after)
            if after < 0:
                return -1
        return after
    return after


class Conn:
    """A raw connection that splits what it receives into top-level RESP frames."""

    def __init__(self, port: int, protocol: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.protocol = protocol
        self.subscribed = False
        if protocol == 3:
            self.cmd("HELLO", "3")
        self.id = int(self.cmd("CLIENT", "ID")[-1][1:-2])

    def _frame(self) -> bytes:
        while True:
            end = _end(self.buf, 0) if self.buf else -1
            if end > 0:
                frame, self.buf = self.buf[:end], self.buf[end:]
                return frame
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.buf += data

    def cmd(self, *args: Any) -> list[bytes]:
        """Send a command: the frames up to its reply (pushes before it, then the reply)."""
        self.sock.sendall(pack_command(*args))
        frames = [self._frame()]
        while frames[-1].startswith(b">"):
            frames.append(self._frame())
        return frames

    def pipeline(self, *commands: list[Any]) -> list[bytes]:
        """Send the commands in one write: the frames up to the last reply."""
        self.sock.sendall(b"".join(pack_command(*args) for args in commands))
        frames: list[bytes] = []
        replies = 0
        while replies < len(commands):
            frames.append(self._frame())
            replies += not frames[-1].startswith(b">")
        return frames

    def sync(self) -> list[bytes]:
        """What arrived unasked: the frames before the reply to a marker PING."""
        marker = f"sync-{uuid.uuid4().hex}".encode()
        self.sock.sendall(pack_command("PING", marker))
        frames: list[bytes] = []
        while True:
            frame = self._frame()
            if marker in frame:
                return frames
            frames.append(frame)

    def close(self) -> None:
        self.sock.close()


class Session:
    """One run of a scenario on one server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conns: list[Conn] = []

    def conn(self, protocol: int = 3) -> Conn:
        made = Conn(self.port, protocol)
        self.conns.append(made)
        return made

    def ids(self, frames: list[bytes]) -> list[bytes]:
        """Frames with the connections' ids (they differ between servers) as names."""
        out = []
        for frame in frames:
            for index, made in enumerate(self.conns):
                frame = frame.replace(b":%d\r\n" % made.id, b":<conn%d>\r\n" % index)
            out.append(frame)
        return out

    def redir(self, info: bytes) -> str:
        """The redir= field of a CLIENT INFO line, an id as the connection's name."""
        found = re.search(rb" redir=(-?\d+) ", info)
        assert found is not None, info
        value = int(found.group(1))
        names = {made.id: f"<conn{index}>" for index, made in enumerate(self.conns)}
        return names.get(value, str(value))

    def close(self) -> None:
        for made in self.conns:
            made.close()


@pytest.fixture
def both(redis_server: Any, pulsar: Any) -> Iterator[Callable[[Scenario], list[Any]]]:
    """``both(scenario)`` runs the scenario on redis-server then PulsarDS (each starting
    from FLUSHALL, which empties the tracking table) and asserts the same transcript."""
    sessions: list[Session] = []

    def run(scenario: Scenario) -> list[Any]:
        transcripts = []
        for port in (redis_server.port, pulsar.port):
            session = Session(port)
            sessions.append(session)
            admin = session.conn(2)
            admin.cmd("FLUSHALL")
            admin.cmd("CONFIG", "SET", "tracking-table-max-keys", "0")
            transcripts.append(scenario(session))
            session.close()
        expected, got = transcripts
        assert got == expected, f"PulsarDS:\n{got!r}\nredis-server:\n{expected!r}"
        return got

    yield run
    for session in sessions:
        session.close()


def test_resp3_push_on_change(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, w = s.conn(3), s.conn(2)
        w.cmd("MSET", "a", "1", "b", "2")
        out = [c.cmd("CLIENT", "TRACKING", "on"), c.cmd("GET", "a"), c.cmd("MGET", "b", "c")]
        out += [w.cmd("SET", "a", "x"), c.sync()]
        out += [w.cmd("SET", "a", "y"), c.sync()]  # forgotten once sent
        out += [w.cmd("DEL", "b", "c"), c.sync()]  # one message per key, in order
        out += [c.cmd("GET", "a"), c.cmd("SET", "a", "z"), c.sync()]  # reply, then push
        out += [c.cmd("STRLEN", "a"), c.cmd("TYPE", "a"), w.cmd("APPEND", "a", "!"), c.sync()]
        return out

    out = both(scenario)
    assert b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n" in out[4]


def test_resp2_redirect_pubsub_message(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        r = s.conn(2)
        out = [r.cmd("SUBSCRIBE", "__redis__:invalidate")]
        c, w = s.conn(2), s.conn(2)
        out += [c.cmd("CLIENT", "TRACKING", "on", "REDIRECT", r.id), c.cmd("GET", "k")]
        out += [w.cmd("SET", "k", "v"), r.sync(), c.sync()]
        out += [c.cmd("GET", "k"), w.cmd("FLUSHDB"), r.sync()]  # flush: a null message
        out += [s.ids(c.cmd("CLIENT", "GETREDIR"))]
        return out

    out = both(scenario)
    assert out[4] == [b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"]
    assert out[-2] == [b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"]


def test_redirect_to_resp3_and_unsubscribed_resp2(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        r3, r2, w = s.conn(3), s.conn(2), s.conn(2)
        c, d, e = s.conn(2), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on", "REDIRECT", r3.id), c.cmd("GET", "a")]
        out += [d.cmd("CLIENT", "TRACKING", "on", "REDIRECT", r2.id), d.cmd("GET", "a")]
        out += [e.cmd("CLIENT", "TRACKING", "on"), e.cmd("GET", "a")]  # RESP2: nothing
        out += [w.cmd("SET", "a", "1"), r3.sync(), r2.sync(), c.sync(), d.sync(), e.sync()]
        return out

    both(scenario)


def test_bcast_prefixes(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, all_keys, w = s.conn(3), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:")]
        out += [all_keys.cmd("CLIENT", "TRACKING", "on", "BCAST")]
        out += [w.cmd("MSET", "user:b", "1", "other", "2", "obj:1", "3", "user:a", "4")]
        out += [c.sync(), all_keys.sync()]
        out += [w.cmd("DEL", "user:a", "nothing"), c.sync(), all_keys.sync()]
        out += [w.cmd("SET", "x", "1"), c.sync(), all_keys.sync()]
        out += [c.cmd("SET", "user:c", "1"), c.sync()]  # its own change too, after the reply
        out += [c.cmd("CLIENT", "TRACKINGINFO")]
        return out

    out = both(scenario)
    assert b"$6\r\nuser:a\r\n$6\r\nuser:b\r\n" in out[3][1]  # batched, in byte order


def test_noloop(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, b, w = s.conn(3), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on", "NOLOOP"), c.cmd("GET", "a")]
        out += [c.cmd("SET", "a", "1"), c.sync()]  # its own change: not sent, but forgotten
        out += [w.cmd("SET", "a", "2"), c.sync()]
        out += [c.cmd("GET", "a"), w.cmd("SET", "a", "3"), c.sync()]
        out += [b.cmd("CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")]
        out += [b.cmd("MSET", "p", "1", "q", "2"), b.sync()]
        out += [w.cmd("SET", "p", "3"), b.sync()]
        # a script's writes: the caller's for NOLOOP, but a BCAST NOLOOP client gets them
        # (Redis gives them to its Lua client)
        script = "redis.call('set', KEYS[1], '1') return 1"
        out += [c.cmd("GET", "s"), c.cmd("EVAL", script, "1", "s"), c.sync()]
        out += [b.cmd("EVAL", script, "1", "t"), b.sync()]
        return out

    both(scenario)


def test_optin_optout_caching(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, o, w = s.conn(3), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on", "OPTIN"), c.cmd("GET", "a")]
        out += [c.cmd("CLIENT", "CACHING", "yes"), c.cmd("GET", "b")]
        out += [c.cmd("CLIENT", "CACHING", "yes"), c.cmd("CLIENT", "ID")[:0], c.cmd("GET", "c")]
        out += [c.cmd("CLIENT", "CACHING", "yes"), c.cmd("PING"), c.cmd("GET", "d")]
        out += [c.cmd("CLIENT", "CACHING", "yes"), c.cmd("MULTI"), c.cmd("GET", "e")]
        out += [c.cmd("GET", "f"), c.cmd("EXEC"), c.cmd("GET", "g")]
        out += [w.cmd("MSET", "a", "1", "b", "1", "c", "1", "d", "1", "e", "1", "f", "1")]
        out += [w.cmd("SET", "g", "1"), c.sync()]
        out += [o.cmd("CLIENT", "TRACKING", "on", "OPTOUT"), o.cmd("CLIENT", "CACHING", "no")]
        out += [o.cmd("CLIENT", "TRACKINGINFO"), o.cmd("GET", "x"), o.cmd("GET", "y")]
        out += [o.cmd("CLIENT", "TRACKINGINFO"), w.cmd("MSET", "x", "1", "y", "1"), o.sync()]
        return out

    both(scenario)


def test_flush_sends_null(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, b, w = s.conn(3), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on"), c.cmd("GET", "a")]
        out += [b.cmd("CLIENT", "TRACKING", "on", "BCAST")]
        out += [w.cmd("FLUSHDB"), c.sync(), b.sync()]
        out += [c.cmd("FLUSHALL"), c.sync(), b.sync()]  # its own: after the reply
        out += [w.cmd("SET", "a", "1"), c.sync()]  # the table was emptied
        return out

    out = both(scenario)
    assert out[4] == out[5] == [b">2\r\n$10\r\ninvalidate\r\n_\r\n"]


def test_expiry_invalidates(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, w = s.conn(3), s.conn(2)
        w.cmd("SET", "k", "v", "PX", "50")
        out = [c.cmd("CLIENT", "TRACKING", "on"), c.cmd("GET", "k")]
        time.sleep(0.2)
        out += [w.cmd("EXISTS", "k"), c.sync()]  # lazily or actively expired: one message
        return out

    out = both(scenario)
    assert out[-1] == [b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"]


def test_multi_and_lua(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, w = s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on"), c.cmd("MGET", "a", "b", "s")]
        out += [c.cmd("MULTI"), c.cmd("SET", "a", "1"), c.cmd("INCR", "b"), c.cmd("EXEC")]
        out += [c.sync()]  # after EXEC's reply, both
        out += [c.cmd("GET", "a"), w.cmd("MULTI"), w.cmd("DEL", "a"), w.cmd("EXEC"), c.sync()]
        script = "redis.call('set', KEYS[1], 'x') return 1"
        out += [c.cmd("GET", "a"), c.cmd("EVAL", script, "1", "a"), c.sync()]
        read = "return redis.call('get', KEYS[1])"
        out += [c.cmd("EVAL", read, "1", "r"), c.cmd("EVAL_RO", read, "1", "q")]
        out += [w.cmd("MSET", "r", "1", "q", "2"), c.sync()]
        out += [c.cmd("GET", "n1"), c.cmd("GET", "n2"), w.cmd("RENAME", "s", "n2")[:0]]
        out += [w.cmd("SET", "n1", "v"), w.cmd("RENAME", "n1", "n2"), c.sync()]
        return out

    both(scenario)


def test_redirect_client_gone(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        r, c, w = s.conn(3), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on", "REDIRECT", r.id), c.cmd("GET", "a")]
        out += [w.cmd("CLIENT", "KILL", "ID", r.id)]
        out += [w.cmd("SET", "a", "1"), s.ids(c.sync())]
        out += [s.ids(c.cmd("CLIENT", "TRACKINGINFO")), s.ids(c.cmd("CLIENT", "GETREDIR"))]
        info = c.cmd("CLIENT", "INFO")[-1]
        out += [info.split(b"flags=")[1].split(b" ")[0], s.redir(info)]
        return out

    out = both(scenario)
    assert out[4] == [b">2\r\n$21\r\ntracking-redir-broken\r\n:<conn1>\r\n"]
    assert out[-2] == b"tR"


def test_redirect_errors_and_self_redirect(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, r, w = s.conn(3), s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKING", "on", "REDIRECT", r.id, "REDIRECT", r.id)]
        out += [c.cmd("CLIENT", "TRACKING", "on", "REDIRECT", r.id, "REDIRECT", "0")]
        out += [c.cmd("CLIENT", "TRACKINGINFO")]
        out += [c.cmd("CLIENT", "TRACKING", "on", "REDIRECT", c.id), c.cmd("GET", "a")]
        out += [c.cmd("SET", "a", "1"), c.sync(), w.cmd("FLUSHALL"), c.sync()]
        return out

    both(scenario)


def test_trackinginfo_and_client_list(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, r = s.conn(3), s.conn(2)
        out = [c.cmd("CLIENT", "TRACKINGINFO"), c.cmd("CLIENT", "GETREDIR")]
        for options in (
            ["REDIRECT", str(r.id), "OPTIN", "NOLOOP"],
            ["OPTIN"],
            [],
        ):
            out += [c.cmd("CLIENT", "TRACKING", "on", *options)]
            out += [s.ids(c.cmd("CLIENT", "TRACKINGINFO")), s.ids(c.cmd("CLIENT", "GETREDIR"))]
            info = c.cmd("CLIENT", "INFO")[-1]
            out += [info.split(b"flags=")[1].split(b" ")[0], s.redir(info)]
        out += [c.cmd("CLIENT", "TRACKING", "off"), c.cmd("CLIENT", "TRACKINGINFO")]
        out += [c.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b", "PREFIX", "a")]
        out += [c.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c")]
        out += [c.cmd("CLIENT", "TRACKINGINFO"), c.cmd("CLIENT", "INFO")[-1].split(b" ")[7]]
        out += [c.cmd("RESET"), c.cmd("HELLO", "3")[:0], c.cmd("CLIENT", "TRACKINGINFO")]
        return out

    both(scenario)


def test_info_fields(both: Any) -> None:
    def fields(conn: Conn) -> list[bytes]:
        text = conn.cmd("INFO", "everything")[-1]
        return [line for line in text.split(b"\r\n") if line.startswith(b"tracking_")]

    def scenario(s: Session) -> list[Any]:
        c, d, b, w = s.conn(3), s.conn(3), s.conn(3), s.conn(2)
        out = [fields(w)]
        out += [c.cmd("CLIENT", "TRACKING", "on"), c.cmd("MGET", "a", "b", "c")]
        out += [d.cmd("CLIENT", "TRACKING", "on"), d.cmd("MGET", "b", "c", "d")]
        out += [b.cmd("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "y")]
        out += [fields(w), w.cmd("SET", "b", "1"), fields(w)]
        out += [c.cmd("CLIENT", "TRACKING", "off"), b.cmd("CLIENT", "TRACKING", "off")]
        out += [fields(w)]
        return out

    both(scenario)


def test_table_limit(both: Any) -> None:
    def scenario(s: Session) -> list[Any]:
        c, w = s.conn(3), s.conn(2)
        out = [w.cmd("CONFIG", "SET", "tracking-table-max-keys", "1")]
        out += [c.cmd("CLIENT", "TRACKING", "on"), c.cmd("GET", "a"), c.cmd("GET", "b")]
        before = c.cmd("PING")  # over the limit: one key goes, told before this reply
        assert len(before) == 2 and before[1] == b"+PONG\r\n", before
        assert before[0] in (
            b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n",
            b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n",
        )  # which one is Redis's random pick
        info = w.cmd("INFO", "stats")[-1]
        out += [[line for line in info.split(b"\r\n") if line.startswith(b"tracking_total")]]
        # in a pipeline: after the replies before it, before the reply of the command
        frames = c.pipeline(["GET", "c"], ["GET", "d"], ["ECHO", "e"], ["ECHO", "f"])
        out += [[b"push" if frame.startswith(b">") else frame for frame in frames]]
        out += [w.cmd("CONFIG", "SET", "tracking-table-max-keys", "0")]
        return out

    both(scenario)


@pytest.mark.parametrize("mode", ["", "bcast", "optin", "optout"])
def test_trackinginfo_flags_keep_redis_order(mode: str) -> None:
    """The flags are a RESP3 set: every combination iterates in Redis's order."""
    for caching, noloop, broken in itertools.product((False, True), repeat=3):
        state = ClientTracking(noloop=noloop, broken=broken, caching=caching)
        if mode:
            setattr(state, mode, True)
        expected = [b"on"] + ([mode.encode()] if mode else [])
        if caching and mode in ("optin", "optout"):
            expected.append(b"caching-yes" if mode == "optin" else b"caching-no")
        expected += [b"noloop"] * noloop + [b"broken_redirect"] * broken
        assert [bytes(flag) for flag in tracking_flags(state)] == expected
    assert [bytes(flag) for flag in tracking_flags(None)] == [b"off"]


class _Recorder:
    """A transport that logs what it is given, for the order across connections."""

    def __init__(self, name: str, log: list[tuple[str, bytes]]) -> None:
        self.name, self.log = name, log

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def write(self, data: bytes) -> None:
        self.log.append((self.name, bytes(data)))

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.mark.parametrize("batched", [False, True])
def test_bcast_invalidation_written_before_the_writers_reply(batched: bool) -> None:
    """As Redis (beforeSleep broadcasts, then writes replies): a client that gets the
    writer's ack and then asks its cache can never have missed the invalidation."""
    from store.server.client import Client
    from store.server.core import PulsarDS

    async def scenario() -> list[tuple[str, bytes]]:
        server = PulsarDS(save=[])
        server.loop = asyncio.get_running_loop()
        log: list[tuple[str, bytes]] = []
        clients = {}
        for name in ("reader", "writer", "other"):
            clients[name] = Client(server)
            clients[name].connection_made(_Recorder(name, log))  # type: ignore[arg-type]
        reader, writer, other = clients["reader"], clients["writer"], clients["other"]
        reader.data_received(pack_command("HELLO", "3"))
        reader.data_received(pack_command("CLIENT", "TRACKING", "on", "BCAST"))
        for _ in range(3):
            await asyncio.sleep(0)
        log.clear()
        if batched:  # a batch of replies already gathering when the write comes
            other.data_received(pack_command("PING"))
            server._batching = True
        writer.data_received(pack_command("SET", "k", "v"))
        for _ in range(3):
            await asyncio.sleep(0)
        return log

    log = asyncio.run(scenario())
    names = [name for name, _ in log]
    assert ("reader", b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n") in log, log
    assert ("writer", b"+OK\r\n") in log, log
    assert names.index("reader") < names.index("writer"), log


def test_closed_and_reset_clients_are_dropped(pulsar: Any) -> None:
    """A closed client's ids stay in the table until their keys change (Redis frees
    them lazily), and nothing is sent for them; the hooks go when nobody tracks."""
    s = Session(pulsar.port)
    try:
        c, w = s.conn(3), s.conn(2)
        c.cmd("CLIENT", "TRACKING", "on")
        c.cmd("GET", "a")
        server = pulsar.server
        assert server.tracking.on and "call" in server.__dict__
        c.cmd("RESET")
        assert not server.tracking.on and "call" not in server.__dict__
        assert server.tracking.items == 1
        w.cmd("SET", "a", "1")
        assert c.sync() == []
        c.cmd("HELLO", "3")
        c.cmd("CLIENT", "TRACKING", "on")
        c.cmd("GET", "b")
        c.close()
        deadline = time.monotonic() + 5
        while server.tracking.clients and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.tracking.clients == 0 and not server.tracking.on
        assert w.cmd("SET", "b", "1") == [b"+OK\r\n"]
    finally:
        s.close()


@pytest.mark.parametrize("which", ["redis", "pulsar"])
def test_store_pubsub_receives_resp2_invalidations(
    which: str, redis_server: Any, pulsar: Any
) -> None:
    """Through the store client's PubSub: RESP2 invalidations arrive on
    __redis__:invalidate as messages whose data is the list of keys."""
    port = redis_server.port if which == "redis" else pulsar.port
    key = f"cached-{uuid.uuid4().hex[:8]}"
    store = create_store(f"redis://127.0.0.1:{port}/0?protocol=2")
    tracker = Conn(port, 2)
    writer = Conn(port, 2)
    try:
        with store.pubsub() as ps:
            ps.subscribe("__redis__:invalidate")
            assert ps.get_message(timeout=5).type == "subscribe"  # type: ignore[union-attr]
            listing = writer.cmd("CLIENT", "LIST", "TYPE", "pubsub")[-1].decode()
            ids = [int(found) for found in re.findall(r"id=(\d+) .* sub=1 ", listing)]
            assert ids  # the newest is the PubSub's (redis-server's is shared by tests)
            tracker.cmd("CLIENT", "TRACKING", "on", "REDIRECT", max(ids))
            tracker.cmd("GET", key)
            writer.cmd("SET", key, "v")
            message = ps.get_message(timeout=5)
            assert message is not None
            assert (message.type, message.channel) == ("message", b"__redis__:invalidate")
            assert message.data == [key.encode()]
    finally:
        tracker.close()
        writer.close()
        store.close()
