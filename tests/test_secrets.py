"""A password never leaks: not in repr/str of stores, pools, connections and settings, not
in log records (DEBUG included) while connecting, failing to connect, failing AUTH and
reconnecting, not in exception messages or their chains, not in CLIENT LIST (redis-server
and PulsarDS), not in PulsarDS's own logs, not in the CLI's output. Both variants.

A leak is looked for in every spelling: as given, percent-encoded, and lower-cased (a
message that lower-cases the text it quotes still leaks it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

import store.aio
import store.sync
from store.errors import AuthenticationError, ConnectionError, ImproperlyConfigured, StoreError
from store.server import ServerThread
from store.server.config import ServerConfig
from store.url import mask_url, parse_url
from tests.conftest import RedisServer, bound_port, free_port

RIGHT = "s3cret-pass"  # redis_password_server's requirepass
WRONG = "Wr0ng-Secret/42+x="  # characters that need percent-encoding in a URL
PULSAR = "Pu1sar-Secret%@:"


def spellings(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote(secret)]


def assert_hidden(text: str, *secrets: str) -> None:
    low = text.lower()
    for secret in secrets:
        for spelling in spellings(secret):
            assert spelling.lower() not in low, f"{spelling!r} leaked in {text!r}"


def exception_text(exc: BaseException) -> str:
    """str and repr of the exception and of every exception in its chain, and the whole
    formatted traceback (which shows the chain too)."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        todo += [current.__cause__, current.__context__]
    return "\n".join(parts)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(
        formatter.format(record) + repr(record.args) + repr(record.__dict__)
        for record in caplog.records
    )


@dataclass
class Api:
    """One variant: its module and how to wait for what its methods return."""

    name: str
    module: Any
    run: Callable[[Any], Any]


@pytest.fixture(params=["sync", "aio"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    if request.param == "sync":
        yield Api("sync", store.sync, lambda value: value)
        return
    loop = asyncio.new_event_loop()
    try:
        yield Api("aio", store.aio, loop.run_until_complete)
    finally:
        loop.close()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture(scope="module")
def pulsar_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    directory = tmp_path_factory.mktemp("pulsar-secret")
    with ServerThread(port=0, dir=str(directory), save=[], requirepass=PULSAR) as server:
        yield server


def _password_url(scheme: str, user: str, password: str, port: int) -> str:
    return f"{scheme}://{user}:{quote(password, safe='')}@127.0.0.1:{port}/0"


def _everything_about(made: Any) -> str:
    """repr and str of a store and of what hangs off it."""
    things: list[Any] = [made, made.pool, made.settings, made.client(), made.pipeline()]
    things += list(made.pool._idle)
    things.append(made.pubsub())
    embedded = made._embedded  # the PulsarDS start_store made, if any
    if embedded is not None:
        server = embedded._server  # a PulsarDS (aio) or a ServerThread running one (sync)
        pulsar = getattr(server, "server", server)
        assert pulsar.config.requirepass  # the password did reach the server
        things += [embedded, server, pulsar, pulsar.config]
    return "\n".join(f"{thing!r}\n{thing}" for thing in things)


# ---------------------------------------------------------------------- repr and str


def test_repr_of_stores_pools_and_connections(
    api: Api, redis_password_server: RedisServer, pulsar_with_password: ServerThread
) -> None:
    cases = [
        (_password_url("redis", "default", RIGHT, redis_password_server.port), RIGHT),
        (_password_url("redis", "", RIGHT, redis_password_server.port), RIGHT),
        (_password_url("pulsar", "", PULSAR, pulsar_with_password.port), PULSAR),
        (_password_url("pulsar", "default", PULSAR, pulsar_with_password.port), PULSAR),
    ]
    for url, secret in cases:
        made = api.module.create_store(url)
        try:
            assert made.settings.password == secret  # the URL did carry it
            assert_hidden(_everything_about(made), secret)
            api.run(made.ping())  # now with an authenticated connection in the pool
            assert made.pool.idle >= 1
            assert_hidden(_everything_about(made), secret)
        finally:
            api.run(made.close())
    assert_hidden(repr(parse_url(cases[0][0])), RIGHT)


def test_server_config_repr_hides_requirepass() -> None:
    config = ServerConfig(requirepass=PULSAR)
    assert_hidden(repr(config) + str(config), PULSAR)
    assert_hidden(repr(config.copy(port=0)), PULSAR)
    assert config.get_text("requirepass") == PULSAR  # CONFIG GET still has it


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://u:se/cr?et@h:1/0", "redis://u:***@h:1/0"),  # unescaped "/" and "?"
        ("redis://:12/34@h", "redis://:***@h"),  # looks like a port at first
        ("redis://u:se#cret@h/0?x=1", "redis://u:***@h/0?x=1"),
        ("redis://u:p@ss@h/0", "redis://u:***@h/0"),
        ("unix://:pw@/tmp/s.sock?db=1", "unix://:***@/tmp/s.sock?db=1"),
        # no password: nothing to mask, even with an "@" further on
        ("redis://h:6379/0?client_name=a@b", "redis://h:6379/0?client_name=a@b"),
        ("redis://[::1]:6379/0?x=a@b", "redis://[::1]:6379/0?x=a@b"),
        ("redis://user@h:1", "redis://user@h:1"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# ---------------------------------------------------------------------- errors and logs


def test_failed_auth(
    api: Api, redis_password_server: RedisServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    for user in ("default", "", "alice"):
        url = _password_url("redis", user, WRONG, redis_password_server.port)
        made = api.module.create_store(url, retries=1, retry_backoff=0.01)
        try:
            with pytest.raises(AuthenticationError) as info:
                api.run(made.ping())
            assert_hidden(exception_text(info.value), WRONG)
            assert_hidden(repr(made) + repr(made.pool), WRONG)
        finally:
            api.run(made.close())
    assert_hidden(log_text(debug_logs), WRONG)


def test_failed_auth_on_pulsar(
    api: Api, pulsar_with_password: ServerThread, debug_logs: pytest.LogCaptureFixture
) -> None:
    for protocol in (2, 3):
        url = _password_url("pulsar", "", WRONG, pulsar_with_password.port)
        made = api.module.create_store(url, retries=0, protocol=protocol)
        try:
            with pytest.raises(AuthenticationError) as info:
                api.run(made.ping())
            assert_hidden(exception_text(info.value), WRONG, PULSAR)
        finally:
            api.run(made.close())
    # PulsarDS runs in this process: its log records are captured here too.
    assert_hidden(log_text(debug_logs), WRONG, PULSAR)


def test_failed_connect(api: Api, debug_logs: pytest.LogCaptureFixture) -> None:
    with bound_port() as port:  # nothing listens there
        for scheme in ("redis", "pulsar"):
            made = api.module.create_store(
                _password_url(scheme, "user", WRONG, port), retries=2, retry_backoff=0.01
            )
            try:
                with pytest.raises(ConnectionError) as info:
                    api.run(made.ping())
                assert_hidden(exception_text(info.value), WRONG)
            finally:
                api.run(made.close())
    assert_hidden(log_text(debug_logs), WRONG)


def test_connect_timeout(
    api: Api, blackhole_url: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    port = blackhole_url.rsplit(":", 1)[1]
    made = api.module.create_store(
        f"redis://:{quote(WRONG, safe='')}@127.0.0.1:{port}",
        retries=0,
        socket_connect_timeout=0.2,
    )
    try:
        with pytest.raises(StoreError) as info:
            api.run(made.ping())
        assert_hidden(exception_text(info.value), WRONG)
    finally:
        api.run(made.close())
    assert_hidden(log_text(debug_logs), WRONG)


def _quoting_server(password: str) -> Callable[[bytes], bytes | None]:
    """A server that knows neither HELLO nor AUTH and quotes the arguments it refuses, as
    Redis does for unknown commands."""

    def respond(data: bytes) -> bytes | None:
        if b"HELLO" in data:
            return (
                b"-ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' "
                b"'default' '%s' \r\n" % password.encode()
            )
        if b"AUTH" in data:
            return b"-ERR unknown command 'AUTH', with args beginning with: '%s' \r\n" % (
                password.encode()
            )
        return b"+OK\r\n"

    return respond


def test_server_that_quotes_the_refused_auth(
    api: Api, scripted_server: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    server = scripted_server(_quoting_server(WRONG))
    url = f"redis://:{quote(WRONG, safe='')}@127.0.0.1:{server.port}"
    made = api.module.create_store(url, retries=0)
    try:
        with pytest.raises(AuthenticationError) as info:
            api.run(made.ping())
        assert "unknown command 'AUTH'" in str(info.value)  # the server's reason is kept
        assert_hidden(exception_text(info.value), WRONG)
    finally:
        api.run(made.close())
    assert_hidden(log_text(debug_logs), WRONG)


def test_reconnect_after_the_server_drops_the_connection(
    api: Api, redis_password_server: RedisServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    url = _password_url("redis", "default", RIGHT, redis_password_server.port)
    made = api.module.create_store(url, health_check_interval=0)
    admin = store.sync.create_store(url)
    try:
        for _ in range(2):
            own_id = api.run(made.execute("CLIENT", "ID"))
            assert admin.execute("CLIENT", "KILL", "ID", own_id) == 1
            # The pooled connection is dead: the store notices and connects (and AUTHs)
            # again.
            assert api.run(made.execute("CLIENT", "ID")) != own_id
        assert_hidden(_everything_about(made), RIGHT)
    finally:
        api.run(made.close())
        admin.close()
    assert_hidden(log_text(debug_logs), RIGHT)


def test_pubsub_reconnects(api: Api, tmp_path: Any, debug_logs: pytest.LogCaptureFixture) -> None:
    port = free_port()

    def start() -> ServerThread:
        return ServerThread(port=port, dir=str(tmp_path), save=[], requirepass=PULSAR).start()

    def wait_for(kind: str) -> None:
        for _ in range(100):
            message = api.run(pubsub.get_message(timeout=0.1))
            if message is not None and message.type == kind:
                return
        pytest.fail(f"no {kind!r} message")

    server = start()
    made = api.module.create_store(_password_url("pulsar", "", PULSAR, port))
    pubsub = made.pubsub(reconnect_backoff=0.01, reconnect_backoff_max=0.02)
    try:
        api.run(pubsub.subscribe("news"))
        wait_for("subscribe")
        server.stop()
        wait_for("disconnected")
        for _ in range(5):  # attempts that fail: nothing listens
            assert api.run(pubsub.get_message(timeout=0.02)) is None
        server = start()
        wait_for("reconnected")
        wait_for("subscribe")  # subscribed again, so AUTH went through
        assert_hidden(_everything_about(made) + repr(pubsub), PULSAR)
    finally:
        api.run(pubsub.close())
        api.run(made.close())
        server.stop()
    logged = log_text(debug_logs)
    assert "reconnection attempt" in logged  # the failures were logged, at DEBUG
    assert_hidden(logged, PULSAR)


BAD_URLS = [
    "redis://user:{}@127.0.0.1:notaport",
    "redis://:{}@127.0.0.1:99999",
    "redis://:{}@127.0.0.1:6379/0?a=1&a=2",
    "redis://:{}@127.0.0.1:6379/0?socket_timeout=-1",
    "redis://:{}@127.0.0.1:6379/0#fragment",
    "redis://:{}@[::1:6379/0",
    "nosuchscheme://:{}@127.0.0.1:6379/0",
    "pulsar://:{}@127.0.0.1:6379/a/b",
    "redis://:{}@127.0.0.1:6379/0?protocol=7",
]


@pytest.mark.parametrize(
    "url",
    # The password has an unescaped "/": wrong in every URL, even in a valid one.
    [*BAD_URLS, "redis://user:{}@127.0.0.1:6379/0"],
)
def test_invalid_urls_with_the_password_as_typed(
    api: Api, url: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        api.module.create_store(url.format(WRONG))
    assert_hidden(exception_text(info.value), WRONG)
    assert_hidden(log_text(debug_logs), WRONG)


@pytest.mark.parametrize("url", BAD_URLS)
def test_invalid_urls_with_the_password_encoded(
    api: Api, url: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        api.module.create_store(url.format(quote(WRONG, safe="")))
    assert_hidden(exception_text(info.value), WRONG)
    assert_hidden(log_text(debug_logs), WRONG)


def test_netloc_with_characters_that_normalise_to_delimiters(
    api: Api, debug_logs: pytest.LogCaptureFixture
) -> None:
    # urllib refuses a netloc with, e.g., a fullwidth solidus, quoting the whole netloc
    # (password included) in its ValueError, which must not be the error's context either.
    secret = "Nfkc-Secret\uff0f9"
    with pytest.raises(ImproperlyConfigured, match=r"(?i)nfkc") as info:
        api.module.create_store(f"redis://user:{secret}@127.0.0.1:6379/0")
    assert_hidden(exception_text(info.value), secret)
    assert_hidden(log_text(debug_logs), secret)


# ---------------------------------------------------------------------- on the servers


def test_client_list_on_redis_server(api: Api, redis_password_server: RedisServer) -> None:
    url = _password_url("redis", "default", RIGHT, redis_password_server.port)
    for protocol in (2, 3):
        made = api.module.create_store(url, protocol=protocol, client_name="secret-test")
        try:
            listing = api.run(made.execute("CLIENT", "LIST"))
            assert b"name=secret-test" in listing  # our own connection is in the list
            assert_hidden(listing.decode(), RIGHT)
            assert_hidden(api.run(made.execute("CLIENT", "INFO")).decode(), RIGHT)
        finally:
            api.run(made.close())


def test_client_list_and_logs_on_pulsar(
    api: Api, pulsar_with_password: ServerThread, debug_logs: pytest.LogCaptureFixture
) -> None:
    url = _password_url("pulsar", "default", PULSAR, pulsar_with_password.port)
    for protocol in (2, 3):
        made = api.module.create_store(url, protocol=protocol, client_name="secret-test")
        try:
            listing = api.run(made.execute("CLIENT", "LIST"))
            assert b"name=secret-test" in listing
            assert_hidden(listing.decode(), PULSAR)
            assert_hidden(api.run(made.execute("CLIENT", "INFO")).decode(), PULSAR)
            info = api.run(made.execute("INFO"))
            assert_hidden(info.decode() if isinstance(info, bytes) else str(info), PULSAR)
        finally:
            api.run(made.close())
    assert_hidden(log_text(debug_logs), PULSAR)


def test_pulsar_logs_on_bad_requests_around_auth(
    pulsar_with_password: ServerThread, debug_logs: pytest.LogCaptureFixture
) -> None:
    from tests.server.conftest import RawClient

    port = pulsar_with_password.port
    client = RawClient(port)
    assert str(client.call("AUTH", WRONG)).startswith("WRONGPASS")
    assert str(client.call("AUTH", "default", WRONG)).startswith("WRONGPASS")
    assert str(client.call("HELLO", "3", "AUTH", "default", WRONG)).startswith("WRONGPASS")
    assert str(client.call("AUTH", WRONG, WRONG, WRONG)).startswith("ERR")
    assert client.call("AUTH", PULSAR) == b"OK"
    assert client.call("CLIENT", "SETNAME", "x") == b"OK"
    client.close()
    # A request broken in the middle of the password: a protocol error, logged.
    for broken in (
        b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%sXY" % (len(WRONG) - 2, WRONG.encode()),
        b"*2\r\n$4\r\nAUTH\r\n" + WRONG.encode() + b"\r\n",
        b'AUTH "' + WRONG.encode() + b"\r\n",
    ):
        client = RawClient(port)
        client.send_raw(broken)
        try:
            reply = client.read()
        except OSError:
            reply = None
        # PulsarDS, like Redis, does not check the CRLF after a bulk string: the first
        # one is an AUTH with a wrong password, the others are protocol errors.
        assert reply is None or "rotocol error" in str(reply) or "WRONGPASS" in str(reply)
        assert_hidden(str(reply), WRONG)
        client.close()
    logged = log_text(debug_logs)
    assert "protocol error from client" in logged  # the server's records were captured
    assert_hidden(logged, WRONG, PULSAR)


def test_pulsar_files_never_hold_the_password(
    tmp_path: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    from tests.server.conftest import RawClient

    new = "Changed-Secret-7"
    with ServerThread(
        port=0, dir=str(tmp_path), save=[], appendonly=True, requirepass=PULSAR
    ) as server:
        client = RawClient(server.port)
        assert client.call("AUTH", PULSAR) == b"OK"
        assert client.call("SET", "k", "v") == b"OK"
        assert client.call("CONFIG", "SET", "requirepass", new) == b"OK"
        assert client.call("AUTH", new) == b"OK"
        assert client.call("SAVE") == b"OK"
        client.close()
    files = sorted(path for path in tmp_path.iterdir() if path.is_file())
    assert {path.name for path in files} >= {"pulsards.aof", "pulsards.snapshot"}
    for path in files:
        assert_hidden(path.read_bytes().decode("latin-1"), PULSAR, new)
    assert_hidden(log_text(debug_logs), PULSAR, new)


def test_start_store_with_a_password(api: Api, debug_logs: pytest.LogCaptureFixture) -> None:
    url = f"pulsar://:{quote(PULSAR, safe='')}@127.0.0.1:0"
    made = api.run(api.module.start_store(url))
    try:
        assert api.run(made.ping()) in (True, b"PONG")
        assert_hidden(_everything_about(made), PULSAR)
        listing = api.run(made.execute("CLIENT", "LIST"))
        assert_hidden(listing.decode(), PULSAR)
        # The embedded server does require that password.
        port = made.settings.port
        other = api.module.create_store(f"pulsar://127.0.0.1:{port}", retries=0)
        with pytest.raises(StoreError) as info:
            api.run(other.execute("GET", "k"))
        assert "NOAUTH" in str(info.value)
        api.run(other.close())
    finally:
        api.run(made.close())
    assert_hidden(log_text(debug_logs), PULSAR)


# ---------------------------------------------------------------------- the CLI


def _cli(*args: str, home: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": home}
    env.pop("STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "store", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_cli_errors_never_print_the_password(
    redis_password_server: RedisServer, tmp_path: Any
) -> None:
    home = str(tmp_path)
    encoded = quote(WRONG, safe="")
    with bound_port() as closed:
        runs = {
            "refused": _cli(f"redis://user:{encoded}@127.0.0.1:{closed}", "PING", home=home),
            "wrong password": _cli(
                f"redis://default:{encoded}@127.0.0.1:{redis_password_server.port}",
                "PING",
                home=home,
            ),
            "unencoded": _cli(f"redis://user:{WRONG}@127.0.0.1:{closed}", "PING", home=home),
            "bad port": _cli(f"redis://user:{encoded}@127.0.0.1:port", "PING", home=home),
        }
    for what, run in runs.items():
        assert run.returncode != 0, what
        assert run.stdout + run.stderr, what  # it did say something
        assert_hidden(run.stdout + run.stderr, WRONG)
    assert "WRONGPASS" in runs["wrong password"].stdout + runs["wrong password"].stderr


def test_cli_with_embedded_pulsar_and_a_password(tmp_path: Any) -> None:
    port = free_port()
    url = f"pulsar://:{quote(PULSAR, safe='')}@127.0.0.1:{port}"
    run = _cli(url, "CLIENT", "LIST", home=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "id=" in run.stdout
    assert_hidden(run.stdout + run.stderr, PULSAR)
