"""The registry of store schemes, one for both variants. No I/O.

``data_stores`` maps a scheme to the dotted path of its store class. A path may contain
``{variant}``, which becomes ``_async`` for ``store.aio`` and ``_sync`` for ``store.sync``,
so one entry serves both twins. Classes are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ImproperlyConfigured, NoSuchStore

__all__ = ["data_stores", "register_store", "store_class"]

data_stores: dict[str, str] = {}
_classes: dict[tuple[str, str], type[Any]] = {}


def register_store(name: str, dotted_path: str) -> None:
    """Register the store class at ``dotted_path`` for URLs with scheme ``name``.

    A scheme is registered once: registering it again with another path is an error.
    """
    if not isinstance(name, str) or not name or "://" in name or not name.isascii():
        raise ImproperlyConfigured(f"store name must be a URL scheme, got {name!r}")
    if not isinstance(dotted_path, str) or "." not in dotted_path:
        raise ImproperlyConfigured(
            f"store {name!r}: dotted_path must look like 'package.module.Class', "
            f"got {dotted_path!r}"
        )
    name = name.lower()
    known = data_stores.get(name)
    if known is not None and known != dotted_path:
        raise ImproperlyConfigured(f"store {name!r} is already registered as {known!r}")
    data_stores[name] = dotted_path


def store_class(name: str, base: type[Any]) -> type[Any]:
    """The class registered for scheme ``name`` in the variant whose Store class is ``base``."""
    variant = base.__module__.split(".")[1]  # "_async" or "_sync"
    key = (name, variant)
    cls = _classes.get(key)
    if cls is not None:
        return cls
    path = data_stores.get(name)
    if path is None:
        known = ", ".join(sorted(data_stores)) or "none"
        raise NoSuchStore(f"no store is registered for scheme {name!r}; known schemes: {known}")
    module_name, _, attr = path.format(variant=variant).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ImproperlyConfigured(f"store {name!r}: cannot import {path!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ImproperlyConfigured(
            f"store {name!r}: {path!r} is not a {base.__module__}.{base.__qualname__} subclass"
        )
    _classes[key] = cls
    return cls


for _scheme in ("redis", "rediss", "unix", "redis+unix"):
    register_store(_scheme, "store.{variant}.store.RedisStore")
register_store("pulsar", "store.{variant}.store.PulsarStore")
for _scheme in ("redis+cluster", "rediss+cluster"):
    register_store(_scheme, "store.{variant}.cluster.ClusterStore")
for _scheme in ("redis+sentinel", "rediss+sentinel"):
    register_store(_scheme, "store.{variant}.sentinel.SentinelStore")
