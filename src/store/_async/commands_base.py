"""What every family of typed commands shares: the argument types, the helpers that build
arguments, and the ``execute`` that a store, a client or a pipeline provides.

``commands.py`` composes the families (``commands_*.py``) into one class of commands;
import from there.

Every class of commands is generic in ``StrT``, the type of the strings a reply carries:
``bytes``, or ``str`` for a store made with ``decode_responses=True`` (the overloads of
``create_store`` pick it). Only the type checker sees it: at run time the
methods are the same whatever the parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from store import replies
from store.errors import DataError

if TYPE_CHECKING:
    # PEP 696's default (typing has it from 3.13): a bare ``RedisStore`` in an annotation
    # takes either variant, as before the classes were generic; create_store() says which.
    from typing_extensions import TypeVar

    StrT = TypeVar("StrT", bound=bytes | str, default=Any)
else:
    from typing import TypeVar

    StrT = TypeVar("StrT", bound=bytes | str)

KeyT: TypeAlias = bytes | str | memoryview
EncodableT: TypeAlias = bytes | str | memoryview | int | float
KeysT: TypeAlias = KeyT | Collection[KeyT]
ExpiryT: TypeAlias = int | timedelta
AbsExpiryT: TypeAlias = int | datetime
TimeoutT: TypeAlias = int | float | None

# A reply as the reader hands it over when no callback shapes it (EVAL, FCALL, the items of
# a pipeline's commit()...): RESP2 and RESP3 types, nested; a RESP3 set comes as a list.
ReplyKey: TypeAlias = bytes | str | int | float
Reply: TypeAlias = "bytes | str | int | float | list[Reply] | dict[ReplyKey, Reply] | None"


def _list_or_args(keys: KeysT, args: Sequence[Any]) -> list[Any]:
    # redis-py accepts one key or an iterable of keys, plus more keys positionally.
    if isinstance(keys, bytes | str | memoryview):
        return [keys, *args]
    return [*keys, *args]


def _seconds(value: ExpiryT) -> int:
    return int(value.total_seconds()) if isinstance(value, timedelta) else value


def _millis(value: ExpiryT) -> int:
    return int(value.total_seconds() * 1000) if isinstance(value, timedelta) else value


def _unix_seconds(value: AbsExpiryT) -> int:
    return int(value.timestamp()) if isinstance(value, datetime) else value


def _unix_millis(value: AbsExpiryT) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def _expire_flags(nx: bool, xx: bool, gt: bool, lt: bool) -> tuple[str, ...]:
    if nx and (xx or gt or lt):
        raise DataError("expire: nx cannot be combined with xx, gt or lt")
    if gt and lt:
        raise DataError("expire: gt and lt are mutually exclusive")
    return tuple(flag for flag, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on)


def _scan_args(args: list[Any], match: Any, count: int | None, _type: Any = None) -> list[Any]:
    if match is not None:
        args += ("MATCH", match)
    if count is not None:
        args += ("COUNT", count)
    if _type is not None:
        args += ("TYPE", _type)
    return args


def _score_callback(score_cast_func: Any) -> Any:
    # The common case shares one function; a custom cast costs a closure per call.
    if score_cast_func is float:
        return replies.score_pairs
    return replies.score_pairs_cast(score_cast_func)


def _aggregate(
    command: str,
    dest: KeyT,
    keys: Sequence[KeyT] | Mapping[Any, float],
    aggregate: str | None,
    weights: Sequence[float] | None,
) -> list[Any]:
    if isinstance(keys, Mapping):
        if weights is not None:
            raise DataError(f"{command}: give weights in the keys mapping or as weights=, not both")
        weights = list(keys.values())
        keys = list(keys)
    args: list[Any] = [command, dest, len(keys), *keys]
    if weights is not None:
        if len(weights) != len(keys):
            raise DataError(f"{command}: need one weight per key")
        args += ("WEIGHTS", *weights)
    if aggregate is not None:
        if str(aggregate).upper() not in ("SUM", "MIN", "MAX"):
            raise DataError(f"{command}: aggregate can be SUM, MIN or MAX")
        args += ("AGGREGATE", aggregate)
    return args


class AsyncCommandsBase(Generic[StrT]):
    """A family of typed methods; a subclass provides execute()."""

    async def execute(self, *args: Any, **options: Any) -> Any:
        raise NotImplementedError
