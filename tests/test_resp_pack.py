"""Packing commands: hiredis.pack_command and the pure-Python path give the same bytes."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import resp
from store.errors import DataError
from store.resp import HIREDIS_AVAILABLE, PythonReader, pack_command, pack_commands

needs_hiredis = pytest.mark.skipif(not HIREDIS_AVAILABLE, reason="hiredis not installed")


def python_pack(*args: Any, encoding: str = "utf-8") -> bytes:
    return resp._pack_python(args, encoding)


def unpack(data: bytes) -> list[list[bytes]]:
    """Commands back from the wire, with the reader the server side uses too."""
    reader = PythonReader()
    reader.feed(data)
    commands = []
    while (command := reader.gets()) is not resp.NOT_ENOUGH:
        commands.append(command)
    return commands


def expected_bytes(arg: Any, encoding: str = "utf-8") -> bytes:
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg)
    if isinstance(arg, str):
        return arg.encode(encoding)
    if isinstance(arg, int):
        return str(int(arg)).encode()
    return float.__repr__(arg).encode()


# Strings without lone surrogates: UTF-8 cannot encode those (UnicodeEncodeError).
texts = st.text(st.characters(exclude_categories=["Cs"]))
args_strategy = st.lists(
    st.one_of(st.binary(), texts, st.integers(), st.integers(-(2**200), 2**200), st.floats()),
    min_size=1,
    max_size=8,
)


@needs_hiredis
@settings(deadline=None)
@given(args_strategy)
def test_python_path_matches_hiredis(args: list[Any]) -> None:
    import hiredis

    assert python_pack(*args) == hiredis.pack_command(tuple(args))


@settings(deadline=None)
@given(args_strategy)
def test_packed_commands_read_back(args: list[Any]) -> None:
    for data in (pack_command(*args), python_pack(*args)):
        assert unpack(data) == [[expected_bytes(arg) for arg in args]]


@pytest.mark.parametrize("pack", [pack_command, python_pack])
def test_number_formatting(pack: Any) -> None:
    # repr() is the rule (hiredis uses it): shortest round-trip, exponent with a sign.
    cases = [
        (0.1, b"0.1"),
        (1e300, b"1e+300"),
        (1e16, b"1e+16"),
        (1e-7, b"1e-07"),
        (-0.0, b"-0.0"),
        (math.inf, b"inf"),
        (-math.inf, b"-inf"),
        (math.nan, b"nan"),
        (2.5, b"2.5"),
        (2**70, b"1180591620717411303424"),
        (-(2**70), b"-1180591620717411303424"),
        (0, b"0"),
    ]
    for value, text in cases:
        assert pack("X", value) == b"*2\r\n$1\r\nX\r\n$%d\r\n%s\r\n" % (len(text), text)


def test_layout() -> None:
    assert pack_command("SET", "key", b"value") == (
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    )
    assert pack_command("GET", b"") == b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
    assert pack_command("SET", "k", "é") == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n"


def test_other_encodings_use_the_python_path() -> None:
    assert pack_command("SET", "k", "é", encoding="latin-1") == (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n\xe9\r\n"
    )
    assert pack_command("SET", "k", 1.5, b"\xff", encoding="utf-16-le") == (
        b"*4\r\n$6\r\nS\x00E\x00T\x00\r\n$2\r\nk\x00\r\n$3\r\n1.5\r\n$1\r\n\xff\r\n"
    )


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


class Blob(bytes):
    pass


class Number(float):
    pass


@pytest.mark.parametrize("pack", [pack_command, python_pack])
def test_bytes_like_and_subclasses(pack: Any) -> None:
    assert pack("SET", bytearray(b"k"), memoryview(b"v")) == pack("SET", b"k", b"v")
    assert pack("SET", Text("k"), Blob(b"v")) == pack("SET", "k", b"v")
    assert pack("EXPIRE", "k", Color.RED) == pack("EXPIRE", "k", 1)  # the number, not "Color.RED"
    assert pack("X", Number(1.5)) == pack("X", 1.5)


BAD: list[tuple[tuple[Any, ...], str]] = [
    (("SET", "k", None), "argument 2 of SET is NoneType; commands take bytes, str, int or float"),
    (("SET", "k", True), "argument 2 of SET is bool"),
    (("SET", "k", False), "argument 2 of SET is bool"),
    (("HSET", "k", {}), "argument 2 of HSET is dict"),
    (("RPUSH", "k", "a", []), "argument 3 of RPUSH is list"),
    ((b"DEL", ("a", "b")), "argument 1 of DEL is tuple"),
    ((None, "k"), "argument 0 of a command is NoneType"),
    ((), "empty command"),
]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
@pytest.mark.parametrize(("args", "message"), BAD)
def test_data_error(args: tuple[Any, ...], message: str, encoding: str) -> None:
    with pytest.raises(DataError) as info:
        pack_command(*args, encoding=encoding)
    assert message in str(info.value)
    assert isinstance(info.value, TypeError)  # DataError is a TypeError too
    with pytest.raises(DataError, match=message):
        pack_commands([("PING",), args], encoding=encoding)


def test_unencodable_text_is_a_unicode_error_on_both_paths() -> None:
    with pytest.raises(UnicodeEncodeError):
        pack_command("SET", "k", "\ud800")
    with pytest.raises(UnicodeEncodeError):
        python_pack("SET", "k", "\ud800")


@settings(deadline=None)
@given(st.lists(args_strategy, max_size=5), st.sampled_from(["utf-8", "latin-1"]))
def test_pack_commands_is_the_concatenation(commands: list[list[Any]], encoding: str) -> None:
    if encoding == "latin-1":  # keep to text latin-1 can encode
        commands = [
            [arg.encode("utf-8") if isinstance(arg, str) else arg for arg in command]
            for command in commands
        ]
    joined = b"".join(pack_command(*command, encoding=encoding) for command in commands)
    assert pack_commands(commands, encoding=encoding) == joined
    assert pack_commands(iter([tuple(c) for c in commands]), encoding=encoding) == joined


def test_pack_commands_with_bytes_like_arguments() -> None:
    commands: list[Sequence[Any]] = [("SET", bytearray(b"k"), 1), ["GET", memoryview(b"k")]]
    assert pack_commands(commands) == pack_command("SET", "k", 1) + pack_command("GET", "k")


def test_without_hiredis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resp, "_hiredis_pack", None)
    assert pack_command("SET", "k", 1.5) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n"
    assert pack_commands([("PING",), ("GET", "k")]) == (
        b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    )
    with pytest.raises(DataError, match="argument 1 of GET is NoneType"):
        pack_command("GET", None)  # type: ignore[arg-type]
