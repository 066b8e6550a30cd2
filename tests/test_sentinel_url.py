"""Sentinel connection strings (``redis+sentinel://``, ``rediss+sentinel://``): parsing,
rebuilding, masking ``sentinel_password``, the store's options. No server needed."""

from __future__ import annotations

from typing import Any

import pytest

import store.aio
import store.sync
from store.errors import ImproperlyConfigured
from store.registry import data_stores
from store.url import SENTINEL_OPTIONS, SENTINEL_SCHEMES, build_url, mask_url, parse_url

CREATE = [store.aio.create_store, store.sync.create_store]


def test_hosts_service_and_database() -> None:
    parsed = parse_url("redis+sentinel://u:pw@s1:26380,s2,[::1]:7/mymaster/4?socket_timeout=2")
    assert parsed.scheme == "redis+sentinel"
    assert parsed.hosts == (("s1", 26380), ("s2", None), ("::1", 7))
    assert parsed.host == "s1:26380,s2,[::1]:7"
    assert (parsed.database, parsed.user, parsed.password) == ("4", "u", "pw")
    assert parsed.query == {"socket_timeout": "2", "service_name": "mymaster"}


def test_no_service_in_the_url() -> None:
    for url in ("redis+sentinel://h", "redis+sentinel://h/", "redis+sentinel://h?db=1"):
        assert "service_name" not in parse_url(url).query  # a keyword may give it


@pytest.mark.parametrize(
    ("url", "service", "database"),
    [
        ("redis+sentinel://h/svc", "svc", None),
        ("redis+sentinel://h/svc/", "svc", None),
        ("redis+sentinel://h/svc/0", "svc", "0"),
        ("redis+sentinel://h/svc?db=5", "svc", "5"),
        ("rediss+sentinel://h:1/my%2Fservice%20x/2", "my/service x", "2"),
        ("REDIS+SENTINEL://h/svc", "svc", None),
    ],
)
def test_path_forms(url: str, service: str, database: str | None) -> None:
    parsed = parse_url(url)
    assert parsed.scheme in SENTINEL_SCHEMES
    assert parsed.query["service_name"] == service
    assert parsed.database == database


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://h//0", "the service name is missing"),
        ("redis+sentinel://h/svc/1/2", "must be a single path segment"),
        ("redis+sentinel://h/svc/1?db=2", "both in the path and as ?db="),
        ("redis+sentinel://h/svc?service_name=x", "both in the path and as ?service_name="),
        ("redis+sentinel://h:99999/svc", "port"),
        ("redis+sentinel://h,/svc", "is not host[:port]"),
    ],
)
def test_invalid(url: str, problem: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        parse_url(url)
    assert problem in str(info.value)


def test_sentinel_password_is_masked() -> None:
    url = "redis+sentinel://u:pw1@h1,h2/svc/0?sentinel_password=pw2&socket_timeout=1"
    assert mask_url(url) == (
        "redis+sentinel://u:***@h1,h2/svc/0?sentinel_password=***&socket_timeout=1"
    )
    assert mask_url("redis+sentinel://h/svc?a=1&Sentinel_Password=x%2Fy") == (
        "redis+sentinel://h/svc?a=1&Sentinel_Password=***"
    )
    # a name that merely ends like it is not a secret
    assert mask_url("redis://h?not_sentinel_password=v") == "redis://h?not_sentinel_password=v"
    parsed = parse_url(url)
    assert parsed.query["sentinel_password"] == "pw2"
    assert "pw1" not in repr(parsed) and "pw2" not in repr(parsed)
    with pytest.raises(ImproperlyConfigured) as info:
        parse_url("redis+sentinel://h/svc?sentinel_password=pw3&&x")
    assert "pw3" not in str(info.value) and "sentinel_password=***" in str(info.value)


def test_build_url_with_a_service() -> None:
    url = build_url(
        "redis+sentinel", [("h1", 1), ("::1", 2)], "3", "u", "p", {"x": 1}, service="a/b"
    )
    assert url == "redis+sentinel://u:p@h1:1,[::1]:2/a%2Fb/3?x=1"
    parsed = parse_url(url)
    assert parsed.query["service_name"] == "a/b" and parsed.database == "3"
    assert build_url("redis+sentinel", [("h", 1)], None, None, None, {}, service="s") == (
        "redis+sentinel://h:1/s"
    )


def test_the_schemes_are_registered() -> None:
    for scheme in ("redis+sentinel", "rediss+sentinel"):
        assert data_stores[scheme] == "store.{variant}.sentinel.SentinelStore"


def test_the_option_table() -> None:
    assert list(SENTINEL_OPTIONS) == [
        "service_name",
        "sentinel_username",
        "sentinel_password",
        "read_from_replicas",
    ]
    for name, option in SENTINEL_OPTIONS.items():
        assert option.doc and "\n" not in option.doc and option.target == "store"
        assert option.coerce(name, option.default) == option.default
    assert SENTINEL_OPTIONS["read_from_replicas"].coerce("read_from_replicas", "yes") is True
    with pytest.raises(ImproperlyConfigured, match="read_from_replicas"):
        SENTINEL_OPTIONS["read_from_replicas"].coerce("read_from_replicas", "maybe")


@pytest.mark.parametrize("create", CREATE)
def test_the_store_from_a_url(create: Any) -> None:
    made = create(
        "redis+sentinel://u:pw1@s1,s2:26380/svc/2?sentinel_password=pw2&sentinel_username=sen"
        "&read_from_replicas=on&socket_timeout=1.5"
    )
    assert type(made).__name__ == "SentinelStore"
    assert made.sentinels == (("s1", 26379), ("s2", 26380))  # Sentinel's default port
    assert made.service == "svc" and made.database == "2" and made.read_from_replicas
    assert made.primary is None  # nothing connects before the first command
    assert made.settings.socket_timeout == 1.5 and made.settings.database == 2
    assert made.settings.password == "pw1"
    sentinel = made._sentinels[1]
    assert (sentinel.settings.host, sentinel.settings.port) == ("s2", 26380)
    assert (sentinel.settings.user, sentinel.settings.password) == ("sen", "pw2")
    assert sentinel.settings.database == 0 and sentinel.settings.socket_timeout == 1.5
    assert made.dns == (
        "redis+sentinel://u:pw1@s1:26379,s2:26380/svc/2?sentinel_password=pw2"
        "&sentinel_username=sen&read_from_replicas=true&socket_timeout=1.5"
    )
    for text in (repr(made), str(made)):
        assert "pw1" not in text and "pw2" not in text
        assert "sentinel_password=***" in text


@pytest.mark.parametrize("create", CREATE)
def test_keywords_and_tls(create: Any) -> None:
    made = create("rediss+sentinel://h/svc", sentinel_password="x", ssl_cert_reqs="none")
    assert made.settings.ssl_context is not None
    assert made._sentinels[0].settings.ssl_context is not None  # the sentinels' too
    assert made._sentinels[0].settings.password == "x"
    assert "ssl=" not in made.dns  # the scheme says it
    assert create("redis+sentinel://h/svc").settings.ssl_context is None
    assert create("redis+sentinel://h", service_name="kw").service == "kw"


@pytest.mark.parametrize("create", CREATE)
def test_bad_options(create: Any) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        create("redis+sentinel://h/svc?sentinel_pasword=x")
    assert "unknown option 'sentinel_pasword'" in str(info.value)
    assert "sentinel_password" in str(info.value)  # among the known ones
    with pytest.raises(ImproperlyConfigured, match="service name"):
        create("redis+sentinel://h", sentinel_password="x")
    with pytest.raises(ImproperlyConfigured, match="database"):
        create("redis+sentinel://h/svc/abc")
    with pytest.raises(ImproperlyConfigured, match="read_from_replicas"):
        create("redis+sentinel://h/svc?read_from_replicas=perhaps")
    with pytest.raises(ImproperlyConfigured, match="unix socket"):
        store.sync.SentinelStore("redis+sentinel", "/tmp/x.sock", service_name="s")
    # a single node's store does not know them
    with pytest.raises(ImproperlyConfigured, match="unknown option 'sentinel_password'"):
        create("redis://h?sentinel_password=x")
