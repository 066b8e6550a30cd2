"""How cache integrations turn Python values into stored bytes and back.

A stored value is one of:

- a plain ASCII integer (``b"42"``, ``b"-7"``): every ``int`` that is not a ``bool``, so
  that INCR/INCRBY work on it and other clients can read it; read back as ``int``;
- one marker byte, then the payload: the marker is ``0xC0 | compressor << 3 | serializer``
  (serializer 0 pickle, 1 JSON, 2 MessagePack, 7 another one; compressor 0 none, 1 zlib,
  2 zstd). A marker is never an ASCII digit or ``-``, so the first byte tells the kinds
  apart.

A value is read only with the serializer the codec was configured with: a JSON cache never
unpickles (a writer able to reach the server could otherwise run code in the reader). Data
that none of these describe (written by another client, or by a differently configured
cache) raises ``UnreadableValueError`` naming the key.
"""

from __future__ import annotations

import json
import pickle
import zlib
from collections.abc import Callable
from importlib import import_module
from typing import Any, Protocol

from ..errors import ImproperlyConfigured, StoreError

__all__ = [
    "Codec",
    "Compressor",
    "JSONSerializer",
    "MsgPackSerializer",
    "PickleSerializer",
    "Serializer",
    "UnreadableValueError",
    "ZlibCompressor",
    "ZstdCompressor",
    "make_compressor",
    "make_serializer",
]

MARKER = 0xC0  # bytes below it start a plain integer (or are foreign data)


class UnreadableValueError(StoreError, ValueError):
    """A stored value cannot be decoded (foreign data, another serializer, corrupt bytes).

    ``key`` is the key as stored (prefix and version included)."""

    def __init__(self, key: Any, reason: str) -> None:
        shown = repr(key)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        super().__init__(f"cannot read the value of cache key {shown}: {reason}")
        self.key = key


class Serializer(Protocol):
    """Turns any value the application caches into bytes and back."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """Any picklable value (the default). Only read data your own processes wrote."""

    marker_id = 0
    name = "pickle"

    def __init__(self, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        self.protocol = protocol

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, self.protocol)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class JSONSerializer:
    """JSON: str, numbers, bools, None, lists and dicts with str keys (tuples read back as
    lists). Readable by clients in any language."""

    marker_id = 1
    name = "json"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def dumps(self, value: Any) -> bytes:
        return self._encoder.encode(value).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


class MsgPackSerializer:
    """MessagePack (the ``store[msgpack]`` extra): like JSON, plus bytes, more compact."""

    marker_id = 2
    name = "msgpack"

    def __init__(self) -> None:
        try:
            import msgpack
        except ImportError:
            raise ImproperlyConfigured(
                "the msgpack serializer needs the msgpack package: pip install 'store[msgpack]'"
            ) from None
        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb

    def dumps(self, value: Any) -> bytes:
        return self._packb(value, use_bin_type=True)

    def loads(self, data: bytes) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)


class Compressor(Protocol):
    marker_id: int
    name: str

    def compress(self, data: bytes) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class ZlibCompressor:
    marker_id = 1
    name = "zlib"

    def __init__(self, level: int | None = None) -> None:
        self.level = 6 if level is None else level

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, self.level)

    def decompress(self, data: bytes) -> bytes:
        return zlib.decompress(data)


class ZstdCompressor:
    """Zstandard (the ``store[zstd]`` extra)."""

    marker_id = 2
    name = "zstd"

    def __init__(self, level: int | None = None) -> None:
        try:
            import zstandard
        except ImportError:
            raise ImproperlyConfigured(
                "the zstd compressor needs the zstandard package: pip install 'store[zstd]'"
            ) from None
        self.level = 3 if level is None else level
        # the module functions make a context per call: compressor objects are not
        # thread-safe, and a cache is used from many threads
        self._compress: Callable[[bytes, int], bytes] = zstandard.compress
        self._decompress: Callable[[bytes], bytes] = zstandard.decompress

    def compress(self, data: bytes) -> bytes:
        return self._compress(data, self.level)

    def decompress(self, data: bytes) -> bytes:
        return self._decompress(data)


SERIALIZERS: dict[str, Callable[[], Any]] = {
    "pickle": PickleSerializer,
    "json": JSONSerializer,
    "msgpack": MsgPackSerializer,
}
COMPRESSORS: dict[str, Callable[[int | None], Compressor]] = {
    "zlib": ZlibCompressor,
    "zstd": ZstdCompressor,
}
_SERIALIZER_NAMES = {0: "pickle", 1: "json", 2: "msgpack", 7: "another serializer"}
_COMPRESSOR_NAMES = {0: "no compression", 1: "zlib", 2: "zstd"}
CUSTOM_SERIALIZER_ID = 7


def _import(path: str, what: str) -> Any:
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        raise ImproperlyConfigured(f"{what} {path!r} is neither a known name nor a dotted path")
    try:
        return getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ImproperlyConfigured(f"cannot import {what} {path!r}: {exc}") from exc


def make_serializer(spec: Any) -> Serializer:
    """A serializer from ``"pickle"``, ``"json"``, ``"msgpack"``, a dotted path to a class
    (instantiated without arguments) or an object with ``dumps`` and ``loads``."""
    if spec is None:
        spec = "pickle"
    if isinstance(spec, str):
        factory = SERIALIZERS.get(spec.lower())
        spec = factory() if factory is not None else _import(spec, "serializer")
    if isinstance(spec, type):
        spec = spec()
    if not (callable(getattr(spec, "dumps", None)) and callable(getattr(spec, "loads", None))):
        raise ImproperlyConfigured(
            f"a serializer needs dumps() and loads() methods; {spec!r} lacks them"
        )
    return spec  # type: ignore[no-any-return]


def make_compressor(spec: Any, level: int | None = None) -> Compressor | None:
    """None, ``"zlib"`` or ``"zstd"``."""
    if spec is None:
        return None
    if isinstance(spec, str) and spec.lower() in COMPRESSORS:
        return COMPRESSORS[spec.lower()](level)
    raise ImproperlyConfigured(
        f"unknown compressor {spec!r}: use None, {', '.join(map(repr, COMPRESSORS))}"
    )


class Codec:
    """Values to stored bytes and back (see the module's docstring for the format).

    ``dumps`` returns an ``int`` for integers (the client sends it as ASCII) and bytes for
    everything else; payloads of at least ``compress_min_length`` bytes are compressed
    when that makes them smaller.
    """

    __slots__ = (
        "_compressed_header",
        "_compressor",
        "_dumps",
        "_loads",
        "_min_length",
        "_plain_header",
        "_serializer_id",
        "compressor",
        "serializer",
    )

    def __init__(
        self,
        serializer: Any = "pickle",
        compressor: Any = None,
        compress_min_length: int = 1024,
        compress_level: int | None = None,
    ) -> None:
        if (
            isinstance(compress_min_length, bool)
            or not isinstance(compress_min_length, int)
            or compress_min_length < 0
        ):
            raise ImproperlyConfigured(
                f"compress_min_length is a number of bytes >= 0, got {compress_min_length!r}"
            )
        self.serializer = make_serializer(serializer)
        self.compressor = make_compressor(compressor, compress_level)
        serializer_id = getattr(self.serializer, "marker_id", CUSTOM_SERIALIZER_ID)
        if type(self.serializer) not in (PickleSerializer, JSONSerializer, MsgPackSerializer):
            serializer_id = CUSTOM_SERIALIZER_ID  # a subclass may change the format
        self._serializer_id = serializer_id
        self._dumps = self.serializer.dumps
        self._loads = self.serializer.loads
        self._compressor = self.compressor
        self._min_length = compress_min_length
        self._plain_header = bytes([MARKER | serializer_id])
        compressor_id = self.compressor.marker_id if self.compressor is not None else 0
        self._compressed_header = bytes([MARKER | compressor_id << 3 | serializer_id])

    def __repr__(self) -> str:
        compressor = self.compressor.name if self.compressor is not None else None
        return f"Codec(serializer={self.serializer!r}, compressor={compressor!r})"

    def dumps(self, value: Any) -> bytes | int:
        if value.__class__ is int:  # not bool, not int subclasses (they may carry more)
            return value
        payload = self._dumps(value)
        compressor = self._compressor
        if compressor is not None and len(payload) >= self._min_length:
            compressed = compressor.compress(payload)
            if len(compressed) < len(payload):
                return self._compressed_header + compressed
        return self._plain_header + payload

    def loads(self, data: bytes, key: Any) -> Any:
        """The value of ``data`` read at ``key`` (named in the error when unreadable)."""
        try:
            marker = data[0]
        except IndexError:
            raise UnreadableValueError(key, "the value is empty") from None
        if marker < MARKER:
            try:
                return int(data)
            except ValueError:
                raise UnreadableValueError(
                    key, f"neither an integer nor a value this cache wrote: {bytes(data[:20])!r}"
                ) from None
        serializer_id = marker & 7
        compressor_id = marker >> 3 & 7
        if serializer_id != self._serializer_id:
            raise UnreadableValueError(
                key,
                f"written with {_SERIALIZER_NAMES.get(serializer_id, 'an unknown serializer')}, "
                f"this cache reads {_SERIALIZER_NAMES[self._serializer_id]}",
            )
        payload = data[1:]
        if compressor_id:
            compressor = self._compressor
            if compressor is None or compressor.marker_id != compressor_id:
                name = _COMPRESSOR_NAMES.get(compressor_id, "an unknown compressor")
                ours = compressor.name if compressor is not None else "no compression"
                raise UnreadableValueError(key, f"compressed with {name}, this cache uses {ours}")
            try:
                payload = compressor.decompress(payload)
            except Exception as exc:
                raise UnreadableValueError(
                    key, f"{compressor.name} data is corrupt: {exc}"
                ) from exc
        try:
            return self._loads(payload)
        except Exception as exc:
            raise UnreadableValueError(
                key, f"the {_SERIALIZER_NAMES[self._serializer_id]} data is corrupt: {exc!r}"
            ) from exc
