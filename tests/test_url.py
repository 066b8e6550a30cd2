"""Connection strings: parsing, rebuilding and masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import ImproperlyConfigured, NoSuchStore
from store.url import build_url, coerce_option, mask_url, parse_url


def test_parse_full_url() -> None:
    parsed = parse_url("redis://user:password@127.0.0.1:6500/11?namespace=test_&x=1")
    assert (parsed.scheme, parsed.host, parsed.port) == ("redis", "127.0.0.1", 6500)
    assert (parsed.database, parsed.user, parsed.password) == ("11", "user", "password")
    assert parsed.query == {"namespace": "test_", "x": "1"}
    assert "password" not in repr(parsed)


def test_percent_encoded_credentials_and_ipv6() -> None:
    parsed = parse_url("redis://us%40r:p%40ss%3Aword@[::1]:7000/2")
    assert parsed.user == "us@r" and parsed.password == "p@ss:word"
    assert parsed.host == "::1"
    url = build_url("redis", ("::1", 7000), "2", "us@r", "p@ss:word", {})
    assert url == "redis://us%40r:p%40ss%3Aword@[::1]:7000/2"
    again = parse_url(url)
    assert (again.user, again.password, again.host) == ("us@r", "p@ss:word", "::1")


def test_password_only() -> None:
    parsed = parse_url("redis://:secret@h")
    assert parsed.user is None and parsed.password == "secret"
    assert build_url("redis", ("h", 6379), None, None, "secret", {}) == "redis://:secret@h:6379"
    assert mask_url("redis://:secret@h:6379") == "redis://:***@h:6379"


def test_db_in_query() -> None:
    assert parse_url("redis://h?db=3").database == "3"
    with pytest.raises(ImproperlyConfigured):
        parse_url("redis://h/1?db=3")
    with pytest.raises(ImproperlyConfigured):
        parse_url("redis://h?a=1&a=2")


def test_malformed() -> None:
    with pytest.raises(NoSuchStore):
        parse_url("localhost:6379")
    with pytest.raises(ImproperlyConfigured) as info:
        parse_url(42)  # type: ignore[arg-type]
    assert "int" in str(info.value)
    with pytest.raises(ImproperlyConfigured):
        parse_url("unix://")


@given(st.text(min_size=1).filter(lambda s: "\x00" not in s))
def test_mask_never_shows_the_password(password: str) -> None:
    url = build_url("redis", ("h", 1), "0", "u", password, {})
    masked = mask_url(url)
    assert parse_url(url).password == password
    assert "***" in masked
    assert masked.startswith("redis://u:***@h:1")


def test_options_coerce() -> None:
    assert coerce_option("socket_timeout", "2.5") == 2.5
    assert coerce_option("socket_timeout", "none") is None
    assert coerce_option("decode_responses", "Yes") is True
    assert coerce_option("protocol", "2") == 2
    assert coerce_option("retries", "0") == 0
    for name, bad in [
        ("socket_timeout", "-1"),
        ("socket_timeout", "nan"),
        ("max_connections", True),
        ("client_name", "has space"),
        ("parser", "fast"),
    ]:
        with pytest.raises(ImproperlyConfigured) as info:
            coerce_option(name, bad)
        assert name in str(info.value)
