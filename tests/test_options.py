"""The option table (``store.url.OPTIONS``): one row per store option, from which the
stores derive the coercion, the defaults and the ConnectionSettings/pool/TLS arguments."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from store._async.pool import AsyncConnectionPool
from store._backend.streams import make_ssl_context
from store._protocol import ConnectionSettings
from store._sync.pool import SyncConnectionPool
from store.aio import RedisStore as AsyncRedisStore
from store.aio import create_store as create_async
from store.errors import ImproperlyConfigured
from store.sync import RedisStore as SyncRedisStore
from store.sync import create_store as create_sync
from store.url import OPTIONS, Option, OptionTable, coerce_option

# The ConnectionSettings fields the store fills itself, not from an option of the table.
NON_OPTION_FIELDS = frozenset(
    {"address", "host", "port", "path", "database", "user", "password", "ssl_context", "encoding"}
)

# a valid value, other than the default, for each option
OTHER_VALUES: dict[str, Any] = {
    "socket_timeout": 1.5,
    "socket_connect_timeout": None,
    "socket_keepalive": False,
    "max_connections": 7,
    "pool_timeout": 2.0,
    "health_check_interval": 0.0,
    "protocol": 2,
    "decode_responses": True,
    "encoding_errors": "replace",
    "client_name": "worker-1",
    "parser": "python",
    "retries": 0,
    "retry_backoff": 1.0,
    "ssl": True,
    "ssl_ca_certs": "/ca.pem",
    "ssl_certfile": "/cert.pem",
    "ssl_keyfile": "/key.pem",
    "ssl_cert_reqs": "optional",
    "ssl_check_hostname": False,
    "auto_pipelining": False,
    "client_cache": 500,
    "client_cache_max_bytes": 1_000_000,
    "client_cache_ttl": 2.5,
    "client_cache_bcast": True,
    "client_cache_prefixes": "user:,page:",
}

CREATE = [create_async, create_sync]


def parameters(function: Any, *skip: str) -> set[str]:
    return set(inspect.signature(function).parameters) - {"self", *skip}


def test_every_connection_settings_field_is_filled() -> None:
    """A new ConnectionSettings field needs a row in the table (or a name here)."""
    fields = {f.name for f in dataclasses.fields(ConnectionSettings)}
    from_table = {o.parameter for o in OPTIONS.bound_for("connection")}
    assert from_table <= fields, from_table - fields  # no row names a missing field
    assert not from_table & NON_OPTION_FIELDS
    assert fields - NON_OPTION_FIELDS == from_table


def test_the_password_is_never_in_the_repr() -> None:
    (password,) = [f for f in dataclasses.fields(ConnectionSettings) if f.name == "password"]
    assert password.repr is False


@pytest.mark.parametrize("pool", [AsyncConnectionPool, SyncConnectionPool])
def test_the_pool_rows_are_the_pool_parameters(pool: type) -> None:
    # "setup": the commands a store gives each new connection (a cluster replica's
    # READONLY), never an option of a URL
    assert {o.parameter for o in OPTIONS.bound_for("pool")} == parameters(pool, "settings", "setup")


def test_the_tls_rows_are_the_ssl_context_parameters() -> None:
    assert {o.parameter for o in OPTIONS.bound_for("tls")} == parameters(make_ssl_context)


def test_the_rows() -> None:
    assert len(OPTIONS) == len(OTHER_VALUES)
    assert list(OPTIONS) == list(OTHER_VALUES)
    renamed = {o.name: o.parameter for o in OPTIONS.values() if o.parameter != o.name}
    assert renamed == {
        "socket_connect_timeout": "connect_timeout",
        "socket_keepalive": "keepalive",
        "pool_timeout": "timeout",
        "ssl_ca_certs": "ca_certs",
        "ssl_certfile": "certfile",
        "ssl_keyfile": "keyfile",
        "ssl_cert_reqs": "cert_reqs",
        "ssl_check_hostname": "check_hostname",
    }
    assert {o.name for o in OPTIONS.bound_for("store")} == {
        "decode_responses",
        "ssl",
        "auto_pipelining",
        "client_cache",
        "client_cache_max_bytes",
        "client_cache_ttl",
        "client_cache_bcast",
        "client_cache_prefixes",
    }
    for name, option in OPTIONS.items():
        assert option.name == name
        assert option.doc and "\n" not in option.doc, name
        assert option.coerce(name, option.default) == option.default, name
        assert OPTIONS.defaults[name] == option.default
        assert coerce_option(name, OTHER_VALUES[name]) == OTHER_VALUES[name], name
        assert OTHER_VALUES[name] != option.default, name
    with pytest.raises(dataclasses.FrozenInstanceError):
        OPTIONS["protocol"].default = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        OPTIONS.defaults["protocol"] = 2  # type: ignore[index]


def test_a_table_has_each_name_once() -> None:
    row = Option("x", coerce_option, None, "store", "x")
    assert row.parameter == "x"
    with pytest.raises(ValueError):
        OptionTable(row, row)


def test_unknown_names() -> None:
    OPTIONS.check_names({"protocol": 2, "namespace": "n"}, "redis", {"namespace"})
    with pytest.raises(ImproperlyConfigured) as info:
        OPTIONS.check_names({"protocol": 2, "sockettimeout": 1, "nope": 2}, "redis", {"namespace"})
    message = str(info.value)
    assert message.startswith("unknown options 'sockettimeout', 'nope' for a redis store;")
    assert message.endswith(", ".join([*sorted(OPTIONS), "namespace"]))


@pytest.mark.parametrize("create", CREATE)
def test_the_defaults_reach_their_targets(create: Any) -> None:
    store = create("redis://h")
    assert isinstance(store, (AsyncRedisStore, SyncRedisStore))
    for option in OPTIONS.bound_for("connection"):
        assert getattr(store.settings, option.parameter) == option.default, option.name
    for option in OPTIONS.bound_for("pool"):
        assert getattr(store.pool, option.parameter) == option.default, option.name
    assert store.settings.encoding is None  # decode_responses=False
    assert store.settings.ssl_context is None  # ssl=False
    assert store.urlparams == {}


@pytest.mark.parametrize("create", CREATE)
def test_other_values_reach_their_targets(create: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[dict[str, Any]] = []

    def fake_ssl_context(**kw: Any) -> str:
        made.append(kw)
        return "context"

    monkeypatch.setattr(f"{create.__module__}.make_ssl_context", fake_ssl_context)
    store = create("redis://h", encoding="latin-1", **OTHER_VALUES)
    for option in OPTIONS.bound_for("connection"):
        assert getattr(store.settings, option.parameter) == OTHER_VALUES[option.name]
    for option in OPTIONS.bound_for("pool"):
        assert getattr(store.pool, option.parameter) == OTHER_VALUES[option.name]
    assert made == [{o.parameter: OTHER_VALUES[o.name] for o in OPTIONS.bound_for("tls")}]
    assert store.settings.ssl_context == "context"
    assert store.settings.encoding == "latin-1"  # decode_responses=True
    if create is create_async:
        assert store._multiplexer is None  # auto_pipelining=False
    assert store.urlparams == OTHER_VALUES
