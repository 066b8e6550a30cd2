"""One registry for both variants; classes imported lazily."""

from __future__ import annotations

import importlib

import pytest

import store.aio
import store.sync
from store.errors import ImproperlyConfigured, NoSuchStore
from store.registry import data_stores, register_store, store_class


def test_builtin_schemes_resolve_per_variant() -> None:
    assert store.aio.data_stores is store.sync.data_stores is data_stores
    for scheme in ("redis", "rediss", "unix"):
        assert scheme in data_stores
    assert store_class("redis", store.aio.Store) is store.aio.RedisStore
    assert store_class("redis", store.sync.Store) is store.sync.RedisStore
    assert store.aio.RedisStore is not store.sync.RedisStore


def test_register_store_once() -> None:
    register_store("mystore", "store.{variant}.store.RedisStore")
    register_store("mystore", "store.{variant}.store.RedisStore")  # same path: fine
    with pytest.raises(ImproperlyConfigured) as info:
        register_store("mystore", "elsewhere.Store")
    assert "already registered" in str(info.value)
    made = store.sync.create_store("mystore://127.0.0.1:7000")
    assert made.name == "mystore"
    assert isinstance(made, store.sync.RedisStore)
    del data_stores["mystore"]


def test_bad_registrations() -> None:
    with pytest.raises(ImproperlyConfigured):
        register_store("", "a.b")
    with pytest.raises(ImproperlyConfigured):
        register_store("x", "nodots")
    register_store("broken", "store.nope.Missing")
    with pytest.raises(ImproperlyConfigured) as info:
        store.aio.create_store("broken://h")
    assert "cannot import" in str(info.value)
    register_store("wrongvariant", "store._sync.store.RedisStore")
    with pytest.raises(ImproperlyConfigured) as wrong:
        store.aio.create_store("wrongvariant://h")
    assert "subclass" in str(wrong.value)
    assert isinstance(store.sync.create_store("wrongvariant://h"), store.sync.RedisStore)
    del data_stores["broken"], data_stores["wrongvariant"]


def test_unknown_scheme() -> None:
    with pytest.raises(NoSuchStore) as info:
        store.sync.create_store("nosuch://h")
    assert "redis" in str(info.value)


def test_both_variants_export_the_same_names() -> None:
    assert store.aio.__all__ == store.sync.__all__
    for name in store.aio.__all__:
        assert hasattr(store.aio, name) and hasattr(store.sync, name), name
    # shared pieces are one object, variant pieces are twins
    assert store.aio.PubSubMessage is store.sync.PubSubMessage
    assert store.aio.ResponseError is store.sync.ResponseError
    assert store.aio.PubSub is not store.sync.PubSub


@pytest.mark.parametrize("variant", ["store.aio", "store.sync"])
def test_the_spec_pulsar_url(variant: str) -> None:
    """The spec's PulsarDS form: ``pulsar://user:password@127.0.0.1:6410``."""
    module = importlib.import_module(variant)
    store = module.create_store("pulsar://user:password@127.0.0.1:6410")
    assert store.name == "pulsar"
    assert isinstance(store, module.PulsarStore)
    assert store.dns == "pulsar://user:password@127.0.0.1:6410"
    assert module.create_store("pulsar://127.0.0.1").dns == "pulsar://127.0.0.1:6410"
    assert "pulsar" in module.data_stores
